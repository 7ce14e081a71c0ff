#!/usr/bin/env bash
# Smoke test of both sides past one process: `serve --processes 2` (the partitioned reference
# server) loaded by `run --processes 2` (two harness shards, one merged report), a short run
# over the server's two groups (scenarios/groups-smoke.yaml, exit 0 with every delivery check
# at zero), then SIGTERM; every step bounded by `timeout`. Expects a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh
bin=target/release/presence-bench
out=$(mktemp -d)
# --foreground: without it, `timeout` passes our SIGTERM to serve twice (to the process and to
# its group); serve counts a repeat within 300 ms once (src/shutdown.rs), but one is cleaner.
timeout --foreground 60 "$bin" serve --processes 2 --instances 2 --drain-window 500ms --shutdown-grace 1s >"$out/serve.txt" &
serve=$!
trap 'kill "$serve" 2>/dev/null || true' EXIT
wait_for_line "$out/serve.txt" '^directory '
directory=$(awk '/^directory /{print $2}' "$out/serve.txt")
smoke() { timeout --foreground 40 "$bin" run scenarios/groups-smoke.yaml --processes 2 --target "$directory" --out "$out/run"; }
# Exit 3 without a failure (harness-limited: four processes on two cores) gets one retry, as the
# gate in .ci/run does; exit 1 is a verdict against the server and is never retried.
smoke || { code=$?; [ "$code" -eq 3 ] || exit "$code"; echo "groups smoke: no verdict (exit 3), one retry"; smoke; }
for shard in 0 1; do
  [ -s "$out/run/shard-$shard/summary.json" ] || { echo "harness shard $shard wrote no summary.json"; exit 1; }
done
for process in 0 1; do
  opened=$(curl -sf "$directory/metrics" \
    | awk -v p="process=\"$process\"" 'index($0, "presence_server_sessions_opened_total{" p) == 1 {n += $2} END {print n + 0}')
  [ "$opened" -gt 0 ] || { echo "no session opened in server process $process"; exit 1; }
  echo "server process $process: $opened sessions opened"
done
kill -TERM "$serve"
wait "$serve"
echo "groups smoke: ok"
