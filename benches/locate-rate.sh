#!/bin/bash
# /locate on the partitioned server's directory (BENCHMARKS.md, "Connect storm"): starts
# `serve --processes 2 --instances 2`, asks its directory TOTAL /locates over 2 groups with
# examples/locate_load.rs (the harness's own discovery client, 256 in flight), and prints the
# rate and the CPU time of the directory (the parent) and of each server process per /locate.
# usage: benches/locate-rate.sh SERVER_BIN LOCATE_LOAD_BIN LABEL [PORT] [TOTAL]
#   (LOCATE_LOAD_BIN: target/release/examples/locate_load, from `cargo build --release --examples`)
BIN=$1; LOAD=$2; LABEL=$3; PORT=${4:-7000}; TOTAL=${5:-50000}
. "$(dirname "$0")/lib.sh"
OUT=/tmp/locate-rate-$LABEL
rm -rf "$OUT"; mkdir -p "$OUT"
$BIN serve --processes 2 --instances 2 --directory-port "$PORT" > "$OUT/serve.log" 2>&1 &
SPID=$!
wait_for_directory "$OUT/serve.log"
PIDS=$(server_pids $SPID "$OUT/serve.log")
cpu() { cpu_ticks $PIDS; }
BEFORE=($(cpu))
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 90 "$LOAD" "http://127.0.0.1:$PORT" "$TOTAL" 256 2
AFTER=($(cpu))
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill -INT $SPID; wait $SPID 2>/dev/null
NAMES=(directory process-0 process-1)
for i in 0 1 2; do
  TICKS=$((AFTER[i] - BEFORE[i]))
  awk -v name="${NAMES[i]}" -v t="$TICKS" -v n="$TOTAL" \
    'BEGIN {printf "%s: %.2f s CPU, %.1f us per /locate\n", name, t / 100, t * 10000 / n}'
done
