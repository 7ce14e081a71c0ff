# Sourced by the bench scripts: the server they start, its processes and their CPU.

# wait_for_directory LOG: until `serve` printed its `directory` line to LOG (at most 20 s).
wait_for_directory() {
  for _ in $(seq 200); do grep -q '^directory ' "$1" && return 0; sleep 0.1; done
  echo "no directory line in $1 after 20 s" >&2; return 1
}

# server_pids PID LOG: the `serve` process PID and the server processes it printed to LOG.
server_pids() { echo "$1" $(awk '/^process / {print $4}' "$2"); }

# cpu_ticks PID...: user + system CPU of each process in ticks of 10 ms, space-separated.
cpu_ticks() { for pid in "$@"; do awk '{printf "%d ", $14 + $15}' "/proc/$pid/stat" 2>/dev/null; done; }
