#!/usr/bin/env bash
# Renders deploy/kubernetes (and its merge step) with kustomize and validates the output
# offline against the Kubernetes API schemas bundled in the PyPI package kubernetes-validate
# (strict: unknown fields are errors). The PodMonitor is a Prometheus Operator CRD, which those
# schemas do not hold: its selector is checked against the shard pods' labels instead.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v kubernetes-validate >/dev/null || pip install --quiet kubernetes-validate
render() {
  if command -v kubectl >/dev/null; then kubectl kustomize "$1"; else kustomize build "$1"; fi
}
out="target/kubernetes"
mkdir -p "$out"
render deploy/kubernetes >"$out/run.yaml"
render deploy/kubernetes/merge >"$out/merge.yaml"
# The oldest version the Job's fields need (backoffLimitPerIndex: 1.29) and a recent one.
for version in 1.29.0 1.33.0; do
  kubernetes-validate --strict --quiet -k "$version" "$out/run.yaml" "$out/merge.yaml" 2>&1 |
    { grep -v "Couldn't find schema for kind PodMonitor" || true; } | tee "$out/validate-$version.txt"
  if grep -q ERROR "$out/validate-$version.txt"; then exit 1; fi
done
python3 - "$out/run.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
job = next(d for d in docs if d["kind"] == "Job")
monitor = next(d for d in docs if d["kind"] == "PodMonitor")
labels = job["spec"]["template"]["metadata"]["labels"]
wanted = monitor["spec"]["selector"]["matchLabels"]
assert all(labels.get(k) == v for k, v in wanted.items()), f"PodMonitor selects {wanted}, pods have {labels}"
ports = {p["name"] for c in job["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
assert all(e["port"] in ports for e in monitor["spec"]["podMetricsEndpoints"]), "PodMonitor port not on the pods"
spec = job["spec"]
assert spec["completionMode"] == "Indexed" and spec["parallelism"] == spec["completions"], "N shards at once"
args = spec["template"]["spec"]["containers"][0]["args"]
assert f"--shards={spec['completions']}" in args, "--shards matches completions"
print("PodMonitor selects the shard pods; --shards matches the Job's completions")
PY
echo "kubernetes manifests: rendered and valid"
