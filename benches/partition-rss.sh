#!/bin/bash
# Server RSS per idle session with `serve --processes 2` (BENCHMARKS.md, "Idle visitors over a
# partitioned server"): scenarios/idle-19k.yaml spread over 2 groups (one per server process),
# RSS of the harness and of every server process (the directory parent and both children)
# sampled each second; prints the baseline (2 s in) and the plateau.
# usage: benches/partition-rss.sh target/release/presence-bench [PORT]
BIN=$1; PORT=${2:-7000}
SCENARIO=/tmp/idle-19k-groups.yaml
. "$(dirname "$0")/lib.sh"
sed -e "s|http://127.0.0.1:7000|http://127.0.0.1:$PORT|" -e 's|^  source_ips: 8$|  source_ips: 8\n  groups: 2|' \
  "$(dirname "$0")/../scenarios/idle-19k.yaml" > $SCENARIO
$BIN serve --processes 2 --instances 2 --directory-port "$PORT" > /tmp/partition-serve.log 2>&1 &
SPID=$!
wait_for_directory /tmp/partition-serve.log
CHILDREN=$(awk '/^process / {print $4}' /tmp/partition-serve.log)
$BIN run --quiet $SCENARIO > /tmp/partition-run.log 2>&1 &
RPID=$!
rss() { grep VmRSS "/proc/$1/status" 2>/dev/null | awk '{print $2}'; }
: > /tmp/partition-rss.log; : > /tmp/partition-sessions.log
while kill -0 $RPID 2>/dev/null; do
  line="$(rss $RPID) $(rss $SPID)"
  for child in $CHILDREN; do line="$line $(rss "$child")"; done
  echo "$line" >> /tmp/partition-rss.log
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^presence_server_sessions\{/ {split($1, a, "\""); n[a[2]] += $2}
    END {print n[0] + 0, n[1] + 0}' >> /tmp/partition-sessions.log
  sleep 1
done
kill -INT $SPID; wait $SPID 2>/dev/null
# Columns: harness, parent (directory), child 0, child 1, in KiB; the plateau is each column's
# maximum (the last sample may miss the harness, which has just exited).
echo "baseline(2s): $(sed -n 2p /tmp/partition-rss.log)"
echo "plateau(max): $(awk 'NF == 4 {for (i = 1; i <= 4; i++) if ($i > m[i]) m[i] = $i} END {print m[1], m[2], m[3], m[4]}' /tmp/partition-rss.log)"
echo "sessions by process at the peak: $(sort -n -k1 /tmp/partition-sessions.log | tail -1)"
grep -E "^connect|errors:|visitors:" /tmp/partition-run.log
