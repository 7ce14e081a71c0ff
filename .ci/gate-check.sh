#!/usr/bin/env bash
# The project's own performance gate: scenarios/ci-gate.yaml, judged on its thresholds and
# against two baselines: five runs of this very build made here (which shows that a rerun of
# one build stays green), and the history committed in ci/baseline/ci-gate/ (five runs of
# main made with `baseline add`, docs/ci.md "Keeping a baseline").
#
# The judged build runs three times and each statistic is judged on their median, against a
# history of five: a history of three and a single judged run went red on CI's machine
# (signal_delivery p50 +57% with the same code), because runs of one build spread by more
# than each run's own noise; replayed over 75 reruns, that gate was red 13% of the time and
# this one 1% (docs/ci.md, "False alarms, measured").
#
# Exit 3 (no verdict: a busy machine left a run harness-limited, one second of host steal is
# enough) is retried up to twice per run, as eight runs meet more such seconds than one; exit
# 1 is a verdict against the server, never retried (docs/ci.md).
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/ci-gate
rm -rf "$out"
mkdir -p "$out"
cargo build --release --quiet
bin=target/release/presence-bench

# retry_no_verdict CMD...: runs CMD, and again while it ends without a verdict (exit 3), three
# times at most.
retry_no_verdict() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0 || code=$?
    [ "$code" -eq 3 ] || return "$code"
    echo "== no verdict (exit 3) in attempt $attempt of 3"
  done
  return 3
}

# The history's runs and the judged runs alternate, so that a machine that drifts slower over
# the job (a same-build gate once read signal p90 +85% with all judged runs made after the
# history) weighs on both alike.
for i in 1 2 3 4 5; do
  echo "== baseline run $i of 5"
  retry_no_verdict "$bin" run scenarios/ci-gate.yaml --quiet --out "$out/baseline-$i"
  "$bin" baseline add "$out/baseline-$i/summary.json" --to "$out/baseline" --keep 5
  if [ "$i" -le 3 ]; then
    # Each judged run is gated on its thresholds and checks; the comparisons below judge each
    # statistic on the median of the three.
    echo "== the gate: run $i of 3 of the same build"
    retry_no_verdict "$bin" run scenarios/ci-gate.yaml --quiet --out "$out/gate-$i" \
      --junit "$out/gate-$i/junit.xml"
  fi
done
judged=("$out/gate-1/summary.json" "$out/gate-2/summary.json" "$out/gate-3/summary.json")
echo "== the three against the five"
"$bin" compare "$out/baseline" "${judged[@]}" --scenario scenarios/ci-gate.yaml
# Advisory, not a gate: the committed history was made at one pace of this host, and when the
# host runs far slower the scaling reaches past what it was measured on (2026-12-07 15:25:
# cold wakeups of 22us against the history's 15-18, latencies scaled x1.25-x1.51, presence_ack
# p90 read +31.5% on the same build while the judgement against the five passed).
echo "== advisory: the three against the history committed in ci/baseline/ci-gate"
"$bin" compare ci/baseline/ci-gate "${judged[@]}" --scenario scenarios/ci-gate.yaml ||
  echo "== advisory only (exit $?): a regression against the committed history does not fail CI"
