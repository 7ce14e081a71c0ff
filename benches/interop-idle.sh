#!/usr/bin/env bash
# Idle sessions held past target.heartbeat_timeout (60 s), against sockjs-node and against the
# reference server, one after the other (BENCHMARKS.md, "Idle sessions against sockjs-node"):
# tests/interop/scenarios/idle-2k.yaml, 2,000 visitors by default (VISITORS=N for another
# count). sockjs-node keeps WebSocket sessions alive with pings and sends no `h` on them.
# Needs what .ci/interop-check.sh installs (target/interop/node). About 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh
bin=target/release/presence-bench
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release --quiet

echo "== sockjs-node 0.3.24 (three fronts behind tests/interop/hub.py)"
NODE_PATH="$PWD/target/interop/node/node_modules" timeout -k 5 300 python3 tests/interop/hub.py \
  --front "node tests/interop/node/front.js" --max-lifetime 240 >"$work/hub.out" 2>"$work/hub.log" &
wait_for_line "$work/hub.out" '^directory ' >/dev/null
directory=$(awk '/^directory /{print $2}' "$work/hub.out")
INTEROP_DIRECTORY=$directory timeout -k 5 200 "$bin" run tests/interop/scenarios/idle-2k.yaml \
  --out "$work/node" -q || true
kill %1 2>/dev/null || true

echo "== the reference server (serve --instances 3)"
timeout -k 5 300 "$bin" serve --instances 3 >"$work/serve.log" 2>&1 &
wait_for_line "$work/serve.log" '^directory ' >/dev/null
directory=$(awk '/^directory /{print $2}' "$work/serve.log")
INTEROP_DIRECTORY=$directory timeout -k 5 200 "$bin" run tests/interop/scenarios/idle-2k.yaml \
  --out "$work/reference" -q || true
