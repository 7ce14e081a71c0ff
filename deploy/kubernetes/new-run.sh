#!/usr/bin/env bash
# Writes the kustomize overlay of one run, runs/RUN_ID/kustomization.yaml, for
# `kubectl apply -k runs/RUN_ID` (kubectl alone: no standalone kustomize). Every object of the
# run is named after it (nameSuffix -RUN_ID) and its shards write /results/RUN_ID/, so runs are
# applied one after the other with nothing deleted by hand. Prints the overlay's directory.
#
#   new-run.sh TARGET [START_AT] [RUN_ID]
#
# TARGET: the Presence directory the shards load (http://presence.presence.svc:8080).
# START_AT: when the shards start, RFC 3339 UTC; default 2 minutes from now (leave time for
#   every pod to be scheduled, pull the image and do its preflight).
# RUN_ID: lowercase letters, digits and '-', up to 40; default run-YYYYMMDD-HHMMSS of the start.
# RUNS_DIR: where the overlay goes (default: runs/ beside this script).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] && [ $# -le 3 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
target="$1"
start_at="${2:-$(date -u -d '+2 min' +%Y-%m-%dT%H:%M:%SZ)}"
epoch=$(date -u -d "$start_at" +%s) || { echo "new-run.sh: START_AT '$start_at' is not a date" >&2; exit 2; }
run_id="${3:-run-$(date -u -d "@$epoch" +%Y%m%d-%H%M%S)}"
if ! [[ "$run_id" =~ ^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$ ]]; then
  echo "new-run.sh: RUN_ID '$run_id': lowercase letters, digits and '-', up to 40, not starting or ending with '-'" >&2
  exit 2
fi
runs="${RUNS_DIR:-$here/runs}"
dir="$runs/$run_id"
if [ -e "$dir" ]; then
  echo "new-run.sh: $dir exists: run $run_id was made already (give another start or RUN_ID)" >&2
  exit 2
fi
mkdir -p "$dir"
base=$(realpath --relative-to="$dir" "$here/run")
cat >"$dir/kustomization.yaml" <<YAML
# Run $run_id, made by new-run.sh: kubectl apply -k $dir
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $base
nameSuffix: -$run_id
labels:
  - pairs:
      app.kubernetes.io/instance: $run_id
    includeSelectors: false
    includeTemplates: true
configMapGenerator:
  - name: presence-bench-run
    behavior: replace
    literals:
      - run-id=$run_id
      - start-at=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
      - target=$target
YAML
echo "$dir"
