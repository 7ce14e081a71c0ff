#!/usr/bin/env bash
# Renders deploy/kubernetes offline, as a user applies it: the shared objects (the results volume,
# its reader pod, the PodMonitor), then two consecutive runs made by new-run.sh (one start, then a
# later one), each with `kubectl kustomize`; validates every resource against the Kubernetes API
# schemas bundled in the PyPI package kubernetes-validate (strict: unknown fields are errors), and
# checks what a second apply needs: no object of the second run has a name of the first's, each
# run writes its own results directory, and its merge Job waits for exactly its shards. The
# PodMonitor is a Prometheus Operator CRD, which those schemas do not hold: its selector is checked
# against the shard pods' labels instead. What only a cluster shows is listed in docs/distributed.md.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v kubernetes-validate >/dev/null || pip install --quiet kubernetes-validate
render() {
  if command -v kubectl >/dev/null; then kubectl kustomize "$1"; else kustomize build "$1"; fi
}
out="target/kubernetes"
rm -rf "$out"
mkdir -p "$out"
render deploy/kubernetes/shared >"$out/shared.yaml"
export RUNS_DIR="$out/runs"
first=$(bash deploy/kubernetes/new-run.sh http://presence.presence.svc:8080 "$(date -u -d '+2 min' +%Y-%m-%dT%H:%M:%SZ)")
second=$(bash deploy/kubernetes/new-run.sh http://presence.presence.svc:8080 "$(date -u -d '+30 min' +%Y-%m-%dT%H:%M:%SZ)")
render "$first" >"$out/first.yaml"
render "$second" >"$out/second.yaml"
# A second overlay for an id already made is refused, not overwritten.
if bash deploy/kubernetes/new-run.sh http://x "$(date -u -d '+2 min' +%Y-%m-%dT%H:%M:%SZ)" "$(basename "$first")" 2>/dev/null; then
  echo "new-run.sh overwrote the overlay of $(basename "$first")"; exit 1
fi
# The oldest version the Job's fields need (backoffLimitPerIndex: 1.29) and a recent one.
for version in 1.29.0 1.33.0; do
  kubernetes-validate --strict --quiet -k "$version" "$out/shared.yaml" "$out/first.yaml" "$out/second.yaml" 2>&1 |
    { grep -v "Couldn't find schema for kind PodMonitor" || true; } | tee "$out/validate-$version.txt"
  if grep -q ERROR "$out/validate-$version.txt"; then exit 1; fi
done
python3 - "$out/shared.yaml" "$out/first.yaml" "$out/second.yaml" <<'PY'
import re, sys, yaml
load = lambda path: [d for d in yaml.safe_load_all(open(path)) if d]
shared, first, second = (load(path) for path in sys.argv[1:])

def run_of(docs):
    """The run's id, its shards' Job and its merge Job."""
    run_id = next(d["data"]["run-id"] for d in docs if d["kind"] == "ConfigMap" and "run-id" in d.get("data", {}))
    jobs = [d for d in docs if d["kind"] == "Job"]
    shards = next(j for j in jobs if j["spec"].get("completionMode") == "Indexed")
    merge = next(j for j in jobs if j is not shards)
    return run_id, shards, merge

names = lambda docs: {(d["kind"], d["metadata"]["name"]) for d in docs}
assert not names(first) & names(second), f"the second run reuses names: {names(first) & names(second)}"
assert not names(shared) & (names(first) | names(second)), "a run renders a shared object"
ids = []
for docs in (first, second):
    run_id, shards, merge = run_of(docs)
    ids.append(run_id)
    assert all(run_id in name for kind, name in names(docs)), f"names without the run id {run_id}: {names(docs)}"
    spec = shards["spec"]
    assert spec["parallelism"] == spec["completions"], "N shards at once"
    n = spec["completions"]
    container = spec["template"]["spec"]["containers"][0]
    args = container["args"]
    assert f"--shards={n}" in args, "--shards matches completions"
    assert "--run-id=$(RUN_ID)" in args and "--out=/results/$(RUN_ID)/shard-$(JOB_COMPLETION_INDEX)" in args, args
    env = {e["name"]: e["valueFrom"]["configMapKeyRef"] for e in container["env"]}
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    assert configmaps[env["RUN_ID"]["name"]]["data"]["run-id"] == run_id, "RUN_ID comes from this run's ConfigMap"
    merge_container = merge["spec"]["template"]["spec"]["containers"][0]
    margs = merge_container["args"]
    dirs = [a for a in margs if a.startswith("/results/")]
    assert dirs == [f"/results/$(RUN_ID)/shard-{k}" for k in range(n)], f"the merge reads its {n} shards: {dirs}"
    assert "--run-id=$(RUN_ID)" in margs and any(a.startswith("--wait=") for a in margs), margs
    assert "--html=/results/$(RUN_ID)/merged/report.html" in margs, margs
    menv = {e["name"]: e["valueFrom"]["configMapKeyRef"]["name"] for e in merge_container["env"]}
    assert menv["RUN_ID"] == env["RUN_ID"]["name"], "shards and merge read one run id"
    for job in (shards, merge):
        claim = job["spec"]["template"]["spec"]["volumes"]
        assert {"persistentVolumeClaim": {"claimName": "presence-bench-results"}, "name": "results"} in claim
assert ids[0] != ids[1] and all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", i) for i in ids), ids
monitor = next(d for d in shared if d["kind"] == "PodMonitor")
_, shards, _ = run_of(first)
labels = shards["spec"]["template"]["metadata"]["labels"]
wanted = monitor["spec"]["selector"]["matchLabels"]
assert all(labels.get(k) == v for k, v in wanted.items()), f"PodMonitor selects {wanted}, pods have {labels}"
ports = {p["name"] for c in shards["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
assert all(e["port"] in ports for e in monitor["spec"]["podMetricsEndpoints"]), "PodMonitor port not on the pods"
pvc = next(d for d in shared if d["kind"] == "PersistentVolumeClaim")
assert pvc["metadata"]["name"] == "presence-bench-results"
print(f"runs {ids[0]} and {ids[1]}: no name in common, results in /results/<run id>/, "
      "each merge waits for its own shards; PodMonitor selects the shard pods")
PY
echo "kubernetes manifests: rendered and valid"
