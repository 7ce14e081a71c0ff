#!/usr/bin/env bash
# The standard SockJS client (npm sockjs-client) against the reference server, once per
# transport it can be forced to (WebSocket, xhr-streaming, xhr-polling, eventsource): proof
# that the server speaks SockJS as SockJS clients expect, not only as our own client does.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh

if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi

work=$(mktemp -d)
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent sockjs-client@1 >/dev/null)

cargo build --release --quiet
./target/release/presence-bench serve --instances 1 > "$work/serve.log" 2>&1 &
server_pid=$!
wait_for_line "$work/serve.log" '^instance s1 '
url=$(awk '/^instance s1 / { sub("^ws://", "http://", $3); print $3 }' "$work/serve.log")
for transport in websocket xhr-streaming xhr-polling eventsource; do
  NODE_PATH="$work/node_modules" node .ci/sockjs-client.js "$url" "$transport"
done
