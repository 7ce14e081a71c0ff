#!/usr/bin/env bash
# Builds the container image (deploy/image/build.sh) and runs it: `presence-bench --version` and
# a short run against the embedded cluster, as the image's own user. Prints the image's size,
# its user and the run's verdict.
#
# With podman when podman can run a container here. On this project's machines it cannot
# (crun: "setrlimit RLIMIT_NPROC: Operation not permitted", then "cgroups in hybrid mode not
# supported" in the sandbox), so the image is unpacked with umoci (its layers, as a runtime
# would lay them out) and its entrypoint run chrooted into that root filesystem, as the image's
# user and working directory, with a /proc of its own: the same files, the same user, no
# container runtime.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v umoci >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq umoci >/dev/null
}
bash deploy/image/build.sh
out=target/image
layout="$out/oci"

# What a registry stores and a node pulls: the manifest, the config and the compressed layers.
read -r version pulled user workdir entrypoint < <(python3 - "$layout" <<'PY'
import json, os, sys
layout = sys.argv[1]
blob = lambda digest: os.path.join(layout, "blobs", *digest.split(":"))
index = json.load(open(os.path.join(layout, "index.json")))
ref = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] != "latest")
manifest = json.load(open(blob(ref["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))["config"]
size = ref["size"] + manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
print(ref["annotations"]["org.opencontainers.image.ref.name"], size, config["User"], config["WorkingDir"],
      config["Entrypoint"][0])
PY
)
case "$user" in 0 | 0:* | root | root:* | "") echo "image check: the image runs as root ($user)"; exit 1 ;; esac
bundle="$out/bundle"
rm -rf "$bundle"
umoci unpack --image "$layout:$version" "$bundle" >/dev/null
rootfs="$bundle/rootfs"
unpacked=$(du -sb "$rootfs" | cut -f1)
mkdir -p "$rootfs/proc"
cat >"$rootfs/tmp/check.yaml" <<'YAML'
name: image-check
seed: 3
duration: 4s
target: { embedded: { instances: 2 } }
load: { stages: [{ to: 50, over: 500ms }, { hold: 3500ms }] }
behaviors:
  - name: browser
    steps: [connect, presence, { repeat: { every: 500ms, steps: [presence] } }]
agents: { count: 2, signals: { rate: 10/s } }
thresholds:
  presence_ack: ["count > 0", "p99 < 2s"]
YAML

if podman --storage-driver vfs run --rm "localhost/presence-bench:$version" --version >/dev/null 2>&1; then
  runner="podman"
  run() {
    podman --storage-driver vfs run --rm --network host -v "$PWD/$rootfs/tmp:/tmp" \
      "localhost/presence-bench:$version" "$@"
  }
else
  runner="umoci unpack + chroot --userspec=$user (podman cannot run containers here)"
  # Paths given to it are absolute: chroot starts in /, not in the image's working directory.
  run() {
    unshare --mount --pid --fork --mount-proc="$rootfs/proc" \
      chroot --userspec="$user" "$rootfs" "$entrypoint" "$@"
  }
fi

started=$SECONDS
said=$(run --version)
[ "$said" = "presence-bench $version" ] || { echo "image check: --version said '$said'"; exit 1; }
code=0
run run /tmp/check.yaml --quiet --out "$workdir/check" >"$out/check-run.txt" 2>"$out/check-run.err" || code=$?
verdict=$(grep '^verdict: ' "$out/check-run.txt" || true)
# Who the run was: the owner of what it wrote (chroot's --userspec, or podman's image user).
wrote=$( (stat -c %u:%g "$rootfs$workdir/check/summary.json" 2>/dev/null) || echo "nothing")
echo "image: presence-bench:$version, $pulled bytes pulled (manifest, config, compressed layers), $unpacked bytes unpacked"
echo "image: user $user (the short run's summary.json is owned by $wrote), entrypoint $entrypoint, run with $runner"
echo "image: --version: $said; short run against the embedded cluster in $((SECONDS - started)) s: ${verdict:-no verdict} (exit $code)"
# 3 is no verdict: HARNESS-LIMITED on a busy machine is the harness's doubt, not the image's.
if [ "$code" -eq 0 ] || { [ "$code" -eq 3 ] && [[ "$verdict" == "verdict: HARNESS-LIMITED"* ]]; }; then
  echo "image check: passed"
else
  cat "$out/check-run.err" >&2
  echo "image check: failed"
  exit 1
fi
