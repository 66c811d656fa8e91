#!/usr/bin/env bash
# Builds the learners' image for Zero to JupyterHub (hub/k8s/Dockerfile) with podman, from Debian's own
# packages only: no public image registry is needed (none is reachable from the course's machines).
#   1. podman, runc and debootstrap from Debian (installed with apt-get when missing);
#   2. a Debian 12 (bookworm) base made by debootstrap from the mirror this machine's apt uses, imported as
#      the local image localhost/rust-alloc-course-base:bookworm (made once; BASE_REFRESH=1 makes it again);
#   3. the learners' image, localhost/rust-alloc-course:latest (IMAGE=...), FROM that base: the Dockerfile
#      fetches only from Debian, static.rust-lang.org, crates.io and PyPI.
# Idempotent and cached: podman keeps each Dockerfile step, so a second build with nothing changed takes
# seconds and a change to the course reruns only the course's set-up (the toolchains and evcxr_jupyter
# stay); downloaded crates and Python wheels are kept in build cache mounts. Run as root, from anywhere:
#   hub/k8s/build-image.sh            (or: make hub-image)
# podman runs here with the runc runtime and explicit limits (crun refuses this machine's hybrid cgroups;
# podman's default rlimits exceed its hard limits): see PODMAN below.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGE="${IMAGE:-localhost/rust-alloc-course:latest}"
BASE="${BASE:-localhost/rust-alloc-course-base:bookworm}"
WORK="${COURSE_IMAGE_WORK:-/var/cache/rust-alloc-course-image}"
PODMAN=(nice -n 10 podman --runtime runc)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
cd "$ROOT"

step_start=0
step() { step_start=$(date +%s); printf '[image] %-52s' "$1"; }
ok() { echo "ok ($(( $(date +%s) - step_start ))s)${1:+ $1}"; }
fail() { echo "FAILED"; echo "[image] error: $1" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root: debootstrap and podman's image store need it."
command -v apt-get >/dev/null || fail "this script installs podman and debootstrap from Debian's packages (apt-get not found)."
mkdir -p "$WORK"

step "podman, runc, debootstrap (Debian packages)"
missing=()
for pkg in podman runc debootstrap; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg"); done
if [ "${#missing[@]}" = 0 ]; then ok "already installed ($(podman --version))"
else
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$WORK/apt.log" 2>&1 \
    || fail "apt-get install ${missing[*]} failed: see $WORK/apt.log."
  ok "installed ${missing[*]} ($(podman --version))"
fi

# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list), for the base and its apt.
mirror_of() {  # $1: the suite's path on the mirror (debian or debian-security)
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | sed -n -e "s|^URIs: *\(https\?://[^ ]*/$1\)/\?\$|\1|p" -e "s|^deb \(\[[^]]*\] \)\?\(https\?://[^ ]*/$1\)/\? bookworm.*|\2|p" \
    | head -1 || true  # (some of the files may not exist)
}
MIRROR="$(mirror_of debian)"; MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY="$(mirror_of debian-security)"; SECURITY="${SECURITY:-http://deb.debian.org/debian-security}"

step "Debian 12 base image (debootstrap)"
if [ "${BASE_REFRESH:-0}" != 1 ] && podman image exists "$BASE"; then ok "$BASE, made $(podman image inspect -f '{{.Created}}' "$BASE" | cut -d. -f1)"
else
  rootfs="$WORK/rootfs"
  rm -rf "$rootfs"
  nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || fail "debootstrap from $MIRROR failed: see $WORK/debootstrap.log."
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' "$MIRROR" "$MIRROR" "$SECURITY" \
    > "$rootfs/etc/apt/sources.list"
  # What a container image leaves out: apt's package lists and caches (each RUN fetches its own).
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar --numeric-owner -C "$rootfs" -cf - . | podman import --change 'CMD ["/bin/bash"]' - "$BASE" >"$WORK/import.log" 2>&1 \
    || fail "podman import of $rootfs failed."
  rm -rf "$rootfs"
  ok "$BASE from $MIRROR, $(podman image inspect -f '{{.Size}}' "$BASE" | awk '{printf "%.0f MB", $1/1e6}')"
fi

step "build context (the files git does not ignore)"
# The same files setup_shared.sh installs: tracked and new ones with their uncommitted edits, never target/,
# .venv or build outputs. Copied only when changed, so podman's step cache sees the same files.
ctx="$WORK/context"
new="$WORK/context.new"
rm -rf "$new" && mkdir -p "$new"
git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
  | tar --null -T - -cf - | tar -C "$new" -xf -
if [ -d "$ctx" ] && diff -r -q "$ctx" "$new" >/dev/null 2>&1; then rm -rf "$new"; ok "unchanged"
else rm -rf "$ctx" && mv "$new" "$ctx"; ok "$(find "$ctx" -type f | wc -l) files"; fi

step "learners' image (hub/k8s/Dockerfile)"
echo "building (about an hour on a busy 2-core machine the first time; log: $WORK/build.log)..."
EVCXR_VERSION="$(sed -n 's/^EVCXR_VERSION="\([0-9.]*\)"$/\1/p' scripts/setup.sh)"
# The downloads trust what this machine trusts (its network may re-sign TLS with a CA of its own): its bundle is
# mounted for the build's steps only, never copied into the image.
CA=/etc/ssl/certs/ca-certificates.crt
[ -r "$CA" ] && CA_ARGS=(-v "$CA:/run/build-ca.crt:ro" --build-arg BUILD_CA=/run/build-ca.crt) || CA_ARGS=()
"${PODMAN[@]}" build "${LIMITS[@]}" --network host --layers -f "$ctx/hub/k8s/Dockerfile" "${CA_ARGS[@]}" \
  --build-arg BASE="$BASE" --build-arg EVCXR_VERSION="$EVCXR_VERSION" \
  -t "$IMAGE" "$ctx" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; fail "podman build failed: see $WORK/build.log."; }
printf '[image] %-52s' "learners' image (hub/k8s/Dockerfile)"
# No `podman image prune` here: the build stage's steps are untagged images, and pruning them empties the step
# cache (measured: the next build compiles evcxr_jupyter again). Earlier builds' steps stay until a teacher prunes.
ok "$IMAGE, $(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1/1e9}')"
