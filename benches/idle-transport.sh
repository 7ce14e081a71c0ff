#!/bin/bash
# Harness RSS per idle visitor on one transport (BENCHMARKS.md, "Harness cost per transport"):
# scenarios/idle-19k.yaml cut to N visitors over 5 s and a 17 s hold, against `serve` on
# port 7010, RSS of both sampled every second, CPU of the harness from /proc at its end.
# usage: benches/idle-transport.sh target/release/presence-bench TRANSPORT [N]
BIN=$1; T=$2; N=${3:-2000}
$BIN serve --instances 2 --directory-port 7010 > /tmp/idlet-serve-$T.log 2>&1 &
SPID=$!
sleep 1
$BIN run --quiet "$(dirname "$0")/../scenarios/idle-19k.yaml" --set target.url=http://127.0.0.1:7010 \
  --set target.transport=$T --set duration=25s --set "load.stages[1].to=$N" --set "load.stages[1].over=5s" \
  --set "load.stages[2].hold=17s" > /tmp/idlet-run-$T.log 2>&1 &
RPID=$!
: > /tmp/idlet-rss-$T.log
while kill -0 $RPID 2>/dev/null; do
  echo "$(grep VmRSS /proc/$RPID/status 2>/dev/null | awk '{print $2}') $(grep VmRSS /proc/$SPID/status | awk '{print $2}')" >> /tmp/idlet-rss-$T.log
  sleep 1
done
kill -INT $SPID; wait $SPID 2>/dev/null
echo "$T baseline(2s): $(sed -n 2p /tmp/idlet-rss-$T.log)  plateau(max): $(awk 'NF == 2 && $1 > h {h = $1} $NF > s {s = $NF} END {print h, s}' /tmp/idlet-rss-$T.log)"
grep -E "^connect|^presence_ack|errors:|visitors:|harness:" /tmp/idlet-run-$T.log
