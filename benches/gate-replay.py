#!/usr/bin/env python3
"""Replays `presence-bench compare` over kept runs of the CI gate (docs/ci.md, "False alarms,
measured"), to measure a comparison rule's false alarms and catches at rates a handful of
live gates cannot show.

Each SITTING directory holds one sitting's runs of scenarios/ci-gate.yaml: `base-*/` and
`same-*/` (runs of one build) and `slow-*/` (runs of a slower server), each with its
summary.json, as the loop in docs/ci.md leaves them. A trial draws a history of HISTORY runs and
JUDGED runs from one sitting: judged runs of the same build (a red gate is a false alarm), or of
the slower server (a red gate is a catch); runs are never mixed across sittings.

usage: benches/gate-replay.py BIN HISTORY JUDGED TRIALS SITTING...
"""
import collections
import glob
import os
import random
import subprocess
import sys
import tempfile

binary, history, judged, trials = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scenario = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "ci-gate.yaml")
random.seed(int(os.environ.get("SEED", "1")))


def runs(sitting, *kinds):
    return sorted(f for kind in kinds for f in glob.glob(f"{sitting}/{kind}-*/summary.json"))


def red(baseline_runs, judged_runs):
    """Whether the gate went red, and on which statistics."""
    with tempfile.TemporaryDirectory() as history_dir:
        for i, run in enumerate(baseline_runs):
            os.symlink(os.path.abspath(run), f"{history_dir}/{i}.json")
        done = subprocess.run([binary, "compare", history_dir, *judged_runs, "--scenario", scenario],
                              capture_output=True, text=True)
    regressed = [" ".join(line.split()[:2]) for line in done.stdout.splitlines() if "REGRESSED" in line]
    return done.returncode == 1, regressed


false_alarms = catches = total = 0
culprits = collections.Counter()
for sitting in sys.argv[5:]:
    same, slow = runs(sitting, "base", "same"), runs(sitting, "slow")
    for _ in range(trials):
        drawn = random.sample(same, history + judged)
        alarm, regressed = red(drawn[:history], drawn[history:])
        false_alarms += alarm
        culprits.update(regressed)
        caught, _ = red(random.sample(same, history), random.sample(slow, judged))
        catches += caught
        total += 1
print(f"history {history}, judged {judged}: same build red {false_alarms} of {total}, "
      f"slower server caught {catches} of {total}; false alarms on {culprits.most_common(6)}")
