#!/usr/bin/env bash
# The interoperability matrix: presence-bench against Presence servers whose SockJS side
# nobody in this project wrote (tests/interop/README.md). For each library (sockjs-node,
# aiohttp-sockjs), each transport the harness speaks (sockjs, raw_websocket, xhr_streaming,
# xhr_polling, eventsource, and a mix of them) and each scenario of tests/interop/scenarios
# (load, chars, drill; rotate on the streaming transports; idle once per library, on a mix),
# a fresh cluster (tests/interop/hub.py and three fronts on the library, 127.0.0.1 only) is
# loaded by target/release/presence-bench. Prints one line per library x transport x scenario,
# PASS or FAIL with the verdict's reason, then `N passed, N failed`; exits 1 on any failure.
#
# Installs what it needs outside the work tree: sockjs@0.3.24 (npm ci, lockfile in
# tests/interop/node) into target/interop/node, and a venv with sockjs==0.13.0 and aiohttp
# (tests/interop/python/requirements.txt) in target/interop/venv. The two libraries' matrices
# run one after the other, with both idle runs (about 70 s each) beside them: about 12 minutes
# on two cores, after the build. Every process is bounded by `timeout` (hubs also by --max-lifetime;
# fronts exit with their hub) and killed on exit. Reports: target/interop/runs/LIB/CASE/.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh

work=target/interop
bin=target/release/presence-bench
transports=(sockjs raw_websocket xhr_streaming xhr_polling eventsource mix)
mix='{sockjs: 30%, raw_websocket: 10%, xhr_streaming: 20%, xhr_polling: 20%, eventsource: 20%}'

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== interop: installing sockjs-node and aiohttp-sockjs under $work"
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
mkdir -p "$work/node"
cp tests/interop/node/package.json tests/interop/node/package-lock.json "$work/node/"
(cd "$work/node" && timeout 300 npm ci --no-audit --no-fund --silent >/dev/null)
[ -x "$work/venv/bin/python" ] || timeout 120 python3 -m venv "$work/venv"
timeout 300 "$work/venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/python/requirements.txt
node_version=$(node -e 'console.log(require("./'"$work"'/node/node_modules/sockjs/package.json").version)')
python_version=$("$work/venv/bin/python" -c 'import sockjs, aiohttp; print(sockjs.__version__, "on aiohttp", aiohttp.__version__)')
echo "sockjs-node $node_version on node $(node --version); aiohttp-sockjs $python_version on $("$work/venv/bin/python" --version)"

echo "== interop: cargo build --release"
cargo build --release --quiet

rm -rf "$work/runs"
mkdir -p "$work/runs"

# The command that starts one front of LIB for SCENARIO; the hub adds --hub and --server.
# Library defaults, but for two settings: sockjs-node's response_limit at 4 KiB for `rotate`
# (streams rotated at a small byte limit; aiohttp-sockjs's is fixed), and aiohttp's
# handler_cancellation for aiohttp-sockjs, without which the library learns that a client cut
# its receiving request (a tab closed on an HTTP transport) only at its next write, up to a
# heartbeat (25 s) later: a Presence app needs to know when a tab leaves (README.md here).
front_of() {
  case $1 in
    sockjs-node)
      if [ "$2" = rotate ]; then
        echo "node tests/interop/node/front.js --response-limit 4096"
      else
        echo "node tests/interop/node/front.js"
      fi
      ;;
    aiohttp-sockjs) echo "$work/venv/bin/python tests/interop/python/front.py --handler-cancellation" ;;
  esac
}

# run_case LIB TRANSPORT SCENARIO: one result line. Runs in a background job (`job`), whose
# trap stops the hub and the run under way; never fails the job. Exit 3 is no verdict
# (harness-limited on a busy machine, say): one retry on a fresh cluster, as in .ci/run; exit
# 1 is a verdict against the server and is never retried.
hub=""
run=""
run_case() {
  local lib=$1 transport=$2 scenario=$3 dir="$work/runs/$1/$3-$2"
  local code=0 reason
  local first=""
  attempt "$@" || code=$?
  # No verdict (3), or a failure (1), gets one more run. A failure the rerun does not repeat
  # is FLAKY, shown with what failed: three fresh-clone runs each had one such case of 42
  # (aiohttp-sockjs mix load signals_lost 1, a hub defect; sockjs-node xhr_streaming drill
  # and aiohttp-sockjs eventsource drill blur_misrouted 1: reproduced on sockjs-node, the
  # harness misjudging a blur the server sent before it saw a focus, docs/checks.md; both
  # fixed since). More than one
  # FLAKY case, or any repeated failure, fails the matrix.
  if [ "$code" -eq 3 ] || [ "$code" -eq 1 ]; then
    [ "$code" -eq 1 ] && first=$(verdict "$dir" "$code")
    mv "$dir" "$dir.first"
    code=0
    attempt "$@" || code=$?
  fi
  reason=$(verdict "$dir" "$code")
  if [ "$code" -eq 0 ] && [ "$scenario" = rotate ]; then
    reason=$(rotation "$dir/stats.json") || code=1
  fi
  if [ "$code" -eq 0 ] && [ -n "$first" ]; then
    result "$lib" "$transport" "$scenario" FLAKY "first run: $first; the rerun passed"
  elif [ "$code" -eq 0 ]; then
    result "$lib" "$transport" "$scenario" PASS "$reason"
  elif [ "$code" -eq 3 ]; then
    # Twice no verdict: nothing failed, but the harness lagged (the machine was busy), so the
    # run could not judge. Shown apart; too many of them fail the matrix below.
    result "$lib" "$transport" "$scenario" NO-VERDICT "$reason"
  else
    result "$lib" "$transport" "$scenario" FAIL "$reason"
  fi
}

# attempt LIB TRANSPORT SCENARIO: a fresh cluster of LIB's fronts, one run against it; exits
# with the run's code (2 when the cluster did not start).
attempt() {
  local lib=$1 transport=$2 scenario=$3 dir="$work/runs/$1/$3-$2"
  local code=0 directory choice
  mkdir -p "$dir"
  # Drills keep every message in and out (hub.log) and the harness says why it judged a blur
  # misrouted (run.txt): a failure of a drill on an HTTP transport was not explained without.
  local trace=()
  [ "$scenario" = drill ] && trace=(--trace)
  NODE_PATH="$PWD/$work/node/node_modules" timeout -k 5 400 python3 tests/interop/hub.py "${trace[@]}" \
    --front "$(front_of "$lib" "$scenario")" --max-lifetime 300 >"$dir/hub.out" 2>"$dir/hub.log" &
  hub=$!
  if wait_for_line "$dir/hub.out" '^directory ' >"$dir/start.txt" 2>&1; then
    directory=$(awk '/^directory /{print $2}' "$dir/hub.out")
    choice="target.transport=$transport"
    [ "$transport" = mix ] && choice="target.transport=$mix"
    [ "$scenario" = idle ] && choice="name=interop-idle" # idle has its own mix
    # In the background and waited for, so that the job's trap can stop it at once.
    RUST_LOG=warn,presence_bench::visitor::observe=debug \
      INTEROP_DIRECTORY=$directory timeout -k 5 200 "$bin" run "tests/interop/scenarios/$scenario.yaml" \
      --set "$choice" --out "$dir" --junit "$dir/junit.xml" -q >"$dir/run.txt" 2>&1 &
    run=$!
    wait "$run" || code=$?
    curl -fsS "$directory/admin/stats" >"$dir/stats.json" 2>/dev/null || echo '{}' >"$dir/stats.json"
  else
    echo "the cluster did not start: $(tail -3 "$dir/hub.log" | tr '\n' ' ')" >"$dir/run.txt"
    code=2
  fi
  kill "$hub" 2>/dev/null || true
  wait "$hub" 2>/dev/null || true
  hub=""
  run=""
  return "$code"
}

# The run's verdict (the table's last line) without the PASS/FAIL the result line has
# already, or what ended it without one.
verdict() {
  local line
  line=$(grep -E '^verdict: ' "$1/run.txt" | tail -1 || true)
  line=${line#verdict: }
  case $2 in
    124 | 137) echo "timed out (exit $2)" ;;
    *)
      if [ -z "$line" ]; then
        echo "exit $2: $(tail -1 "$1/run.txt")"
      elif [ "$line" = PASS ]; then
        echo ""
      elif [[ $line == "FAIL ("*")" ]]; then
        line=${line#FAIL (}
        echo "${line%)}"
      else
        echo "$line"
      fi
      ;;
  esac
}

# More streaming requests than streaming sessions: streams ended at their byte limit and
# the client opened the next ones.
rotation() {
  python3 - "$1" <<'EOF'
import json, sys
stats = json.load(open(sys.argv[1]))
opened, requests = stats.get("sessions_opened", {}), stats.get("receiving_requests", {})
parts, ok = [], True
for path, names in (("xhr_streaming", ("xhr_streaming", "xhr-streaming")), ("eventsource", ("eventsource",))):
    sessions = sum(opened.get(name, 0) for name in names)
    if sessions:
        parts.append(f"{requests.get(path, 0)} {path} requests for {sessions} sessions")
        ok &= requests.get(path, 0) > sessions
print("streams rotated: " + ", ".join(parts) if ok and parts else "NOT ROTATED: " + (", ".join(parts) or "no streaming session"))
sys.exit(0 if ok and parts else 1)
EOF
}

result() {
  local line
  line=$(printf '%-15s %-14s %-7s %s' "$1" "$2" "$3" "$4")
  [ -n "${5:-}" ] && line="$line  $5"
  echo "$line" | tee -a "$work/runs/results.txt"
}

# A background job: its trap stops what it started when the script stops it.
job() {
  trap 'kill $hub $run 2>/dev/null; exit 143' TERM
  "$@"
}

# One library's matrix, in order; the idle run goes beside it.
matrix() {
  local lib=$1 transport scenario
  for transport in "${transports[@]}"; do
    for scenario in load chars drill; do
      run_case "$lib" "$transport" "$scenario"
    done
    case $transport in xhr_streaming | eventsource) run_case "$lib" "$transport" rotate ;; esac
  done
}

echo "== interop: the matrix (library, transport, scenario, result)"
started=$SECONDS
# The idle runs (light: 40 visitors that say nothing) beside the matrices; the two matrices one
# after the other: side by side, on two cores with their servers, they left the harness
# scheduling-limited (exit 3, no verdict) in 7 of 42 cases.
for lib in sockjs-node aiohttp-sockjs; do
  job run_case "$lib" mix idle &
  pids+=($!)
done
for lib in sockjs-node aiohttp-sockjs; do
  job matrix "$lib" &
  pids+=($!)
  wait "$!" || true
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()

echo "== interop: summary ($((SECONDS - started)) s)"
for lib in sockjs-node aiohttp-sockjs; do grep "^$lib " "$work/runs/results.txt" || true; done
passed=$(awk '$4 == "PASS"' "$work/runs/results.txt" | wc -l)
failed=$(awk '$4 == "FAIL"' "$work/runs/results.txt" | wc -l)
unjudged=$(awk '$4 == "NO-VERDICT"' "$work/runs/results.txt" | wc -l)
flaky=$(awk '$4 == "FLAKY"' "$work/runs/results.txt" | wc -l)
echo "$passed passed, $failed failed, $flaky flaky (failed once, passed on the rerun), $unjudged without a verdict (harness-limited twice)"
# A matrix that could judge fewer than nine cases in ten says nothing: the machine was busy.
[ "$failed" -eq 0 ] && [ "$flaky" -le 1 ] && [ $((unjudged * 10)) -le $((passed + unjudged)) ]
