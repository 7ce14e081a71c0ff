#!/bin/bash
# Syscalls and CPU per connect (BENCHMARKS.md, "Connect storm"), the harness beside the bare
# client (examples/bare_storm.rs), each against a fresh `serve --instances 1`: a small storm
# (VISITORS, 2,000 by default) under `strace -f -c`, the server traced by `strace -f -c -p`
# at the same time, then the same storm untraced under /usr/bin/time for CPU time. strace
# slows every call down, so its run says how many calls, not how fast.
# usage: benches/connect-syscalls.sh target/release/presence-bench LABEL [PORT] [VISITORS]
# (build the bare client first: cargo build --release --example bare_storm)
BIN=$1; LABEL=$2; PORT=${3:-7200}; VISITORS=${4:-2000}
OUT=/tmp/connect-syscalls-$LABEL
rm -rf "$OUT"; mkdir -p "$OUT"
BARE="$(dirname "$BIN")/examples/bare_storm"
TARGET=ws://127.0.0.1:$((PORT + 1))/presence
SCENARIO="$(dirname "$0")/../scenarios/connect-storm.yaml"

harness() {
  $BIN run "$SCENARIO" --target "$TARGET" --out "$OUT/run-$1" \
    --set "load.stages[0].to=$VISITORS" --set duration=15s --set 'load.stages[1].hold=14s'
}
bare() { "$BARE" "$TARGET" "$VISITORS" 8 sockjs; }
. "$(dirname "$0")/lib.sh"

# One storm by `client` (harness or bare) against a fresh server: traced, then timed.
storm() {
  local client=$1
  for pass in traced timed; do
    $BIN serve --instances 1 --directory-port "$PORT" --base-port $((PORT + 1)) > "$OUT/serve-$client-$pass.log" 2>&1 &
    local spid=$!
    wait_for_directory "$OUT/serve-$client-$pass.log"
    if [ $pass = traced ]; then
      strace -f -c -o "$OUT/server-$client.strace" -p $spid 2> /dev/null &
      local tpid=$!
      sleep 1
      strace -f -c -o "$OUT/$client.strace" bash -c "$(declare -f harness bare); $client" > "$OUT/$client-traced.log" 2>&1
      kill -INT $tpid; wait $tpid 2> /dev/null
    else
      local before; before=$(awk '{print $14 + $15}' /proc/$spid/stat)
      /usr/bin/time -f "$client: %U s user, %S s system for $VISITORS connects" \
        bash -c "$(declare -f harness bare); $client" > "$OUT/$client-timed.log" 2> "$OUT/$client-time.txt"
      local after; after=$(awk '{print $14 + $15}' /proc/$spid/stat)
      tail -1 "$OUT/$client-time.txt"
      echo "server for $client: $(( (after - before) * 10 )) ms CPU"
    fi
    kill -INT $spid; wait $spid 2> /dev/null
  done
  # The summary's last line: "100.00 TIME SECONDS USECS/CALL CALLS ERRORS total".
  for who in "$client" "server-$client"; do
    awk -v n="$VISITORS" -v who="$who" '/total$/ {printf "%s: %d syscalls = %.1f per connect\n", who, $4, $4 / n}' \
      "$OUT/$who.strace"
  done
}

export BIN SCENARIO TARGET OUT VISITORS BARE
storm harness
storm bare
echo "per-syscall tables: $OUT/*.strace"
