#!/bin/bash
# Harness RSS per idle visitor on one transport (BENCHMARKS.md, "Harness cost per transport"):
# benches/idle-rss.sh with scenarios/idle-19k.yaml cut to N visitors over 5 s and a 17 s hold,
# on transport T, against `serve` on port 7010.
# usage: benches/idle-transport.sh target/release/presence-bench TRANSPORT [N]
BIN=$1; T=$2; N=${3:-2000}
exec "$(dirname "$0")/idle-rss.sh" "$BIN" "transport-$T" 7010 \
  --set target.transport="$T" --set duration=25s --set "load.stages[1].to=$N" --set "load.stages[1].over=5s" \
  --set "load.stages[2].hold=17s"
