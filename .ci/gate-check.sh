#!/usr/bin/env bash
# The project's own performance gate: scenarios/ci-gate.yaml, judged on its thresholds and
# against two baselines: the history committed in ci/baseline/ci-gate/ (five runs of main
# made with `baseline add`, docs/ci.md "Keeping a baseline"), and three runs of this very
# build made here, which shows that a rerun of one build stays green.
#
# A committed history once false-alarmed on CI's machine (connect p50 +29%, presence_ack p50
# +32% with the same code): the machine ran slower than when the history was made. Runs are
# now brought to one machine pace before they are compared (docs/ci.md, "How noise is
# judged"), which kept 10 of 10 reruns green in the sitting that measured it.
#
# Exit 3 (no verdict: a busy machine left a run harness-limited) is retried once per run;
# exit 1 is a verdict against the server, never retried (docs/ci.md).
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/ci-gate
rm -rf "$out"
mkdir -p "$out"
cargo build --release --quiet
bin=target/release/presence-bench

# retry_no_verdict CMD...: runs CMD, and once more if it ended without a verdict (exit 3).
retry_no_verdict() {
  "$@" || {
    code=$?
    [ "$code" -eq 3 ] || return "$code"
    echo "== no verdict (exit 3), one retry"
    "$@"
  }
}

for i in 1 2 3; do
  echo "== baseline run $i of 3"
  retry_no_verdict "$bin" run scenarios/ci-gate.yaml --quiet --out "$out/baseline-$i"
  "$bin" baseline add "$out/baseline-$i/summary.json" --to "$out/baseline" --keep 3
done
echo "== the gate: a fourth run of the same build, against the three"
retry_no_verdict "$bin" run scenarios/ci-gate.yaml --out "$out/gate" --junit "$out/gate/junit.xml" \
  --baseline "$out/baseline"
echo "== the gate against the history committed in ci/baseline/ci-gate"
retry_no_verdict "$bin" run scenarios/ci-gate.yaml --out "$out/gate-committed" \
  --junit "$out/gate-committed/junit.xml" --baseline ci/baseline/ci-gate
