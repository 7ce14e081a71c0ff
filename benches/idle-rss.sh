#!/bin/bash
# Harness and server RSS per idle visitor (BENCHMARKS.md, "Idle visitors"): starts
# `serve` on PORT (default 7000), runs scenarios/idle-19k.yaml against it, samples VmRSS of
# both every second, and prints the baseline (2 s in, before any visitor) and the plateau.
# usage: benches/idle-rss.sh target/release/presence-bench LABEL [PORT [RUN-OPTIONS...]]
# (RUN-OPTIONS go to `run`, e.g. `--set target.transport=xhr_polling`: benches/idle-transport.sh)
BIN=$1; LABEL=$2; PORT=${3:-7000}
shift $(( $# < 3 ? $# : 3 ))
$BIN serve --instances 2 --directory-port "$PORT" > /tmp/idle-serve-$LABEL.log 2>&1 &
SPID=$!
sleep 1
$BIN run --quiet "$(dirname "$0")/../scenarios/idle-19k.yaml" --target "http://127.0.0.1:$PORT" "$@" \
  > /tmp/idle-run-$LABEL.log 2>&1 &
RPID=$!
: > /tmp/idle-rss-$LABEL.log
while kill -0 $RPID 2>/dev/null; do
  echo "$(grep VmRSS /proc/$RPID/status 2>/dev/null | awk '{print $2}') $(grep VmRSS /proc/$SPID/status | awk '{print $2}')" >> /tmp/idle-rss-$LABEL.log
  sleep 1
done
kill -INT $SPID; wait $SPID 2>/dev/null
# Columns: harness KiB, server KiB. The plateau is each column's maximum (the last sample
# may miss the harness, which has just exited).
echo "$LABEL baseline(2s): $(sed -n 2p /tmp/idle-rss-$LABEL.log)  plateau(max): $(awk 'NF == 2 && $1 > h {h = $1} $NF > s {s = $NF} END {print h, s}' /tmp/idle-rss-$LABEL.log)"
grep -E "^connect |^presence_ack |errors:|visitors:|harness:" /tmp/idle-run-$LABEL.log
