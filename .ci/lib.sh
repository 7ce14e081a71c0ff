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
