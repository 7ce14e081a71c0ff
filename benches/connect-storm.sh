#!/bin/bash
# Connect storm (BENCHMARKS.md, "Connect storm"): scenarios/connect-storm.yaml (19,000 visitors
# opened at once, one presence each) against a server in its own processes, then connects per
# second (the run's sessions over the span from its first to its last opening, summary.json
# `visitors.sessions_opened_s`), the connect phases from the table, and the CPU time of the
# harness and of every server process.
#   MODE=directory (default): `serve --processes 2`, visitors locate through its directory.
#   MODE=instance: `serve --instances 1`, visitors connect straight to the instance (no
#   /locate: what the harness's own connect path and one server process reach).
#   MODE=bare: the same server, loaded by examples/bare_storm.rs (tokio-tungstenite alone, none
#   of the harness's code) with the same 19,000 connects over the same 8 source addresses:
#   the yardstick for the harness's connect path. Build it first:
#   cargo build --release --example bare_storm
# usage: benches/connect-storm.sh target/release/presence-bench LABEL [PORT]
BIN=$1; LABEL=$2; PORT=${3:-7000}; MODE=${MODE:-directory}
. "$(dirname "$0")/lib.sh"
OUT=/tmp/connect-storm-$LABEL
rm -rf "$OUT"; mkdir -p "$OUT"
if [ "$MODE" = instance ] || [ "$MODE" = bare ]; then
  $BIN serve --instances 1 --directory-port "$PORT" --base-port $((PORT + 1)) > "$OUT/serve.log" 2>&1 &
  TARGET=ws://127.0.0.1:$((PORT + 1))/presence
else
  $BIN serve --processes 2 --instances 2 --directory-port "$PORT" > "$OUT/serve.log" 2>&1 &
  TARGET=http://127.0.0.1:$PORT
fi
SPID=$!
wait_for_directory "$OUT/serve.log"
PIDS=$(server_pids $SPID "$OUT/serve.log")
cpu() { cpu_ticks $PIDS; }
stop_server() {
  AFTER=$(cpu)
  kill -INT $SPID; wait $SPID 2>/dev/null
  echo "server CPU (ticks of 10 ms, per process: $PIDS): before $BEFORE after $AFTER"
}
BEFORE=$(cpu)
if [ "$MODE" = bare ]; then
  /usr/bin/time -f "bare client: %U s user, %S s system, %M KiB peak RSS, %e s wall" \
    "$(dirname "$BIN")/examples/bare_storm" "$TARGET" 19000 8 sockjs
  echo "bare exit: $?"
  stop_server
  exit 0
fi
/usr/bin/time -f "harness: %U s user, %S s system, %M KiB peak RSS, %e s wall" \
  $BIN run "$(dirname "$0")/../scenarios/connect-storm.yaml" --target "$TARGET" --out "$OUT/run" > "$OUT/run.log" 2>&1
echo "run exit: $?"
stop_server
python3 - "$OUT/run" <<'PY'
import json, sys
out = sys.argv[1]
summary = json.load(open(f"{out}/summary.json"))
opened = summary["counters"]["sessions_opened"]
first, last = summary["visitors"].get("sessions_opened_s", [0, 0])
rows = [json.loads(line) for line in open(f"{out}/timeline.jsonl")]
# Intervals under 0.5 s (the collector woke late, then caught up) would inflate the peak.
whole = [r for r in rows if r["length_s"] >= 0.5 and r["sessions_opened"] > 0]
peak = max(whole, key=lambda r: r["sessions_opened"] / r["length_s"]) if whole else None
print(f"connects: {opened} opened from {first:.3f} s to {last:.3f} s = "
      f"{opened / (last - first) if last > first else 0:,.0f}/s; busiest interval "
      + (f"{peak['sessions_opened'] / peak['length_s']:,.0f}/s at {peak['t_s']:.0f} s" if peak else "none"))
PY
grep -E "^connect|^presence_ack |^errors|^harness|^verdict" "$OUT/run.log"
