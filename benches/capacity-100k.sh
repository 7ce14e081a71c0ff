#!/usr/bin/env bash
# The 100k run (BENCHMARKS.md, "The 100k run"): `serve --processes 8` and `run --processes 6`
# on this one machine, the server's RSS and CPU sampled from /proc, the harness's from
# /usr/bin/time. Extra arguments go to `run` (e.g. the ramp: --set 'load.stages[0].over=80s').
#   NICE=10: the server runs at nice 10, so that on a shared 2-core machine the harness's timers
#   are served first and its scheduling lag measures the harness, not the server beside it
#   (the server's own slowness then shows in its latencies).
# Each shard's health.jsonl has the machine's busy and stolen CPU second by second.
# usage: benches/capacity-100k.sh target/release/presence-bench OUT_DIR [run options...]
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1; OUT=$2; shift 2
SCEN="$(dirname "$0")/../scenarios/capacity-100k.yaml"
rm -rf "$OUT"; mkdir -p "$OUT"
ulimit -n 20000
nice -n "${NICE:-0}" "$BIN" serve --processes 8 --instances 2 --directory-port 7000 > "$OUT/serve.log" 2>&1 &
SP=$!
wait_for_directory "$OUT/serve.log"
PIDS=$(server_pids $SP "$OUT/serve.log")
cpu() { local t=0; for ticks in $(cpu_ticks $PIDS); do t=$((t + ticks)); done; echo $t; }
rss() { local t=0; for p in $PIDS; do t=$((t + $(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0))); done; echo $t; }
echo "server baseline rss_kib=$(rss) cpu_ticks=$(cpu)" > "$OUT/server.txt"
/usr/bin/time -v "$BIN" run "$SCEN" --processes 6 --target http://127.0.0.1:7000 --out "$OUT/result" "$@" \
  > "$OUT/table.txt" 2> "$OUT/run.err"
echo "exit=$?" >> "$OUT/server.txt"
echo "server end rss_kib=$(rss) cpu_ticks=$(cpu)" >> "$OUT/server.txt"
kill -TERM $SP; wait $SP
cat "$OUT/server.txt"
grep -E "^(presence_ack|connect|signal_delivery|blur) |^errors|^harness|^verdict" "$OUT/table.txt"
grep -E "User time|System time|Maximum resident|Elapsed" "$OUT/run.err"
