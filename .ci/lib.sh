# Helpers shared by the .ci scripts; sourced, not run.

# wait_for_line FILE PATTERN: waits up to 10 s for a line of FILE matching the extended regex
# PATTERN (a server printing its address), and fails saying what the file holds.
wait_for_line() {
  for _ in $(seq 100); do
    grep -qE "$2" "$1" && return 0
    sleep 0.1
  done
  echo "no line matching '$2' in $1 after 10 s:"; cat "$1"; return 1
}

# ensure_prometheus: installs Debian's prometheus (server and promtool) when missing.
ensure_prometheus() {
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  fi
}

# start_prometheus HARNESS_PORT SERVER_PORT PROM_PORT: a Prometheus on 127.0.0.1:PROM_PORT,
# config and data in $work, scraping the harness (job presence-bench) and the reference
# server's directory (job presence-server) every second; the config is linted by promtool
# first. Stopped with the script (`pids`). The caller waits for it with `wait_for`.
start_prometheus() {
  cat > "$work/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: presence-bench
    static_configs: [ { targets: ["127.0.0.1:$1"] } ]
  - job_name: presence-server
    static_configs: [ { targets: ["127.0.0.1:$2"] } ]
YAML
  promtool check config "$work/prometheus.yml" >/dev/null
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
      --web.listen-address="127.0.0.1:$3" >"$work/prometheus.log" 2>&1 &
  pids+=($!)
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for URL WHAT: waits up to 30 s for URL to answer 2xx.
wait_for() {
  for _ in $(seq 1 300); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for $2 at $1" >&2; return 1
}

# Background processes a script started (append to `pids`) are stopped, and its scratch
# directory `work` removed, when it exits: `trap cleanup EXIT`.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "${work:?}"
}
