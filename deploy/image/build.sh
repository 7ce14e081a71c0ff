#!/usr/bin/env bash
# Builds the presence-bench OCI image offline with buildah, from scratch (deploy/image/Containerfile):
# a static binary (x86_64-unknown-linux-musl, so the image needs no libc), run as uid 65532.
# Writes target/image/oci (an OCI layout, tagged with the version and `latest`, for umoci or
# `skopeo copy oci:target/image/oci:latest docker://REGISTRY/presence-bench:latest`) and
# target/image/presence-bench.tar (an OCI archive, for `podman load` or `kind load image-archive`),
# and leaves the image as localhost/presence-bench in buildah's (and podman's) local storage.
# Installs what it lacks: the musl target (rustup), musl-tools (ring's C code needs a musl C
# compiler), buildah (Debian's package).
set -euo pipefail
cd "$(dirname "$0")/../.."

triple=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
need=()
command -v musl-gcc >/dev/null || need+=(musl-tools)
command -v buildah >/dev/null || need+=(buildah)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --locked --target "$triple"
binary="${CARGO_TARGET_DIR:-target}/$triple/release/presence-bench"
version=$("$binary" --version | awk '{print $2}')

out=target/image
context="$out/context"
rm -rf "$context" "$out/oci" "$out/presence-bench.tar"
mkdir -p "$context/rootfs/usr/local/bin" "$context/rootfs/etc" "$context/rootfs/tmp"
# The release profile keeps line tables for profiling (Cargo.toml); the image does not need them.
strip --strip-debug -o "$context/rootfs/usr/local/bin/presence-bench" "$binary"
echo "presence-bench:x:65532:65532:presence-bench:/tmp:/sbin/nologin" >"$context/rootfs/etc/passwd"
echo "presence-bench:x:65532:" >"$context/rootfs/etc/group"
chmod 1777 "$context/rootfs/tmp"
cp deploy/image/Containerfile "$context/"

# vfs storage and chroot isolation: no overlay mount or user namespace needed, so it builds in
# containers and sandboxes too. --timestamp 0: the same binary gives the same image.
buildah="buildah --storage-driver vfs"
$buildah build --quiet --isolation chroot --timestamp 0 -f "$context/Containerfile" \
  -t "presence-bench:$version" -t presence-bench:latest "$context" >/dev/null
$buildah push --quiet "presence-bench:$version" "oci:$out/oci:$version"
$buildah push --quiet "presence-bench:$version" "oci:$out/oci:latest"
$buildah push --quiet "presence-bench:$version" "oci-archive:$out/presence-bench.tar:presence-bench:$version"
# Each build leaves the previous image untagged: its layers go, so the storage does not grow.
$buildah rmi --prune >/dev/null 2>&1 || true
echo "image presence-bench:$version: $out/oci (OCI layout), $out/presence-bench.tar (OCI archive)"
