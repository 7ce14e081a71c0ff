#!/usr/bin/env bash
# Smoke test of the partitioned reference server: `serve --processes 2`, a short run over its
# two groups (scenarios/groups-smoke.yaml, exit 0 with every delivery check at zero), then
# SIGTERM; every step bounded by `timeout`. Expects a release build.
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
timeout --foreground 40 "$bin" run scenarios/groups-smoke.yaml --target "$directory" --out "$out/run"
for process in 0 1; do
  opened=$(curl -sf "$directory/metrics" \
    | awk -v p="process=\"$process\"" 'index($0, "presence_server_sessions_opened_total{" p) == 1 {n += $2} END {print n + 0}')
  [ "$opened" -gt 0 ] || { echo "no session opened in server process $process"; exit 1; }
  echo "server process $process: $opened sessions opened"
done
kill -TERM "$serve"
wait "$serve"
echo "groups smoke: ok"
