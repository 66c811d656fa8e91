#!/usr/bin/env bash
# The course installed once for every user of a machine (a JupyterHub server, `make hub`, or the
# learners' container image, hub/Dockerfile): read-only, root-owned, under $COURSE_PREFIX
# (default /opt/rust-alloc-course). Idempotent: a second run only checks, in seconds.
#
#   python/           the Python set-up uses, copied (hard links) when other users cannot reach it
#   venv/             JupyterLab, JupyterHub, nbgitpuller: hub/requirements.txt (it locks requirements.in too)
#   node/             configurable-http-proxy (npm, pinned in hub/package.json)
#   (nftables)        Debian's package, for the hub's per-learner network rule (course_hub.net_guard)
#   rust/rustup/      RUSTUP_HOME: the stable toolchain with rust-src, the nightly one with miri
#   rust/cargo/bin/   rustup and its proxies (cargo, rustc, ...)
#   bin/              evcxr_jupyter, course-rustc-cache, mdbook
#   course/           the course at this commit (support crate, notebooks, Cargo.lock)
#   vendor/           every crate the course uses, so learners' builds run offline and share paths
#   content.git       what each learner's home receives by nbgitpuller: notebooks + a `support` link
#   evcxr/            the kernel's init.evcxr (compiled crates come from cache/rustc)
#   cache/rustc/      crates compiled once for everyone (read-only to learners)
#   programs/         chapter 8's programs, built once (jemalloc and mimalloc compile C code)
#
# Run as root (it needs to write $COURSE_PREFIX). Set-up of the single-user course must have run
# (scripts/setup.sh): this script copies what it installed. COURSE_SHARED_PROXY=0 skips the hub's
# proxy (a learners' image for Zero to JupyterHub, whose hub runs in its own pod).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
P="${COURSE_PREFIX:-/opt/rust-alloc-course}"
CACHE_MAX_MIB=2048
cd "$ROOT"

step_start=0
step() { step_start=$(date +%s); printf '[shared] %-62s' "$1"; }
ok() { echo "ok ($(( $(date +%s) - step_start ))s)${1:+ $1}"; }
fail() { echo "FAILED"; echo "[shared] error: $1" >&2; exit 1; }
# Whether an unprivileged user can read (and enter) a path.
others_can_reach() { runuser -u nobody -- test -r "$1" -a -x "$1" 2>/dev/null; }
# Copy a tree, as hard links when it is on the same file system (seconds, no space), else bytes.
copy_tree() { rm -rf "$2.new"; cp -al "$1" "$2.new" 2>/dev/null || { rm -rf "$2.new"; cp -a "$1" "$2.new"; }; rm -rf "$2"; mv "$2.new" "$2"; }

[ "$(id -u)" = 0 ] || fail "run as root: the shared install writes $P and is read by every learner's user."
command -v runuser >/dev/null || fail "runuser not found (util-linux)."
mkdir -p "$P"
chmod 755 "$P"
umask 022

step "Python for every user"
base="$("${PYTHON:-python3}" -c 'import sys; print(sys.base_prefix)')"
ver="$("${PYTHON:-python3}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if others_can_reach "$base/bin/python$ver"; then PYBIN="$base/bin/python$ver"; ok "$PYBIN (readable by every user)"
elif [ -x "$P/python/bin/python$ver" ] && [ "$(cat "$P/python/.from" 2>/dev/null)" = "$base" ]; then PYBIN="$P/python/bin/python$ver"; ok "already copied"
else
  copy_tree "$base" "$P/python"; PYBIN="$P/python/bin/python$ver"
  # A Python built with --enable-shared finds libpython by its RUNPATH, which names the original
  # folder: point it at the copy's own lib/ (the binary is copied first, never patched through a link).
  if readelf -d "$PYBIN" 2>/dev/null | grep -q 'R.*PATH.*'"$base"; then
    command -v patchelf >/dev/null || { apt-get install -y -qq patchelf || { apt-get update -qq && apt-get install -y -qq patchelf; }; } >/dev/null 2>&1 || fail "patchelf is needed: apt-get install patchelf"
    cp --remove-destination "$base/bin/python$ver" "$PYBIN" && patchelf --set-rpath '$ORIGIN/../lib' "$PYBIN"
  fi
  echo "$base" > "$P/python/.from"
  runuser -u nobody -- "$PYBIN" -c 'import ssl, sqlite3' 2>/dev/null || fail "$PYBIN does not run for other users."
  ok "copied from $base (it is not readable by other users)"
fi

step "Python environment venv/ (hub/requirements.txt)"
want="$(cat hub/requirements.txt scripts/pip_install.sh | sha256sum | cut -d' ' -f1)"
if [ -x "$P/venv/bin/jupyterhub" ] && [ "$(cat "$P/venv/.requirements.sha256" 2>/dev/null)" = "$want" ]; then ok "up to date"
else
  [ -x "$P/venv/bin/python" ] || "$PYBIN" -m venv "$P/venv" || fail "could not create $P/venv."
  reason="$(scripts/pip_install.sh "$P/venv/bin/python" "$ROOT/build-shared-pip-install.log" -r hub/requirements.txt 2>&1)" \
    || { echo "FAILED"; echo "$reason" | sed 's/^/[shared] /' >&2; exit 1; }
  echo "$want" > "$P/venv/.requirements.sha256"
  ok "installed"
fi

step "configurable-http-proxy (npm, hub/package.json)"
if [ "${COURSE_SHARED_PROXY:-1}" = 0 ]; then ok "skipped (COURSE_SHARED_PROXY=0: a learners' image, the hub runs elsewhere)"
else
want="$(sha256sum hub/package.json hub/package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -x "$P/node/node_modules/.bin/configurable-http-proxy" ] && [ "$(cat "$P/node/.sha256" 2>/dev/null)" = "$want" ]; then ok "up to date"
else
  command -v npm >/dev/null || fail "npm not found: install Node.js 18+ (Debian: apt-get install nodejs npm)."
  mkdir -p "$P/node" && cp hub/package.json hub/package-lock.json "$P/node/"
  (cd "$P/node" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) || fail "npm ci in $P/node failed: check access to the npm registry."
  echo "$want" > "$P/node/.sha256"
  ok "installed"
fi
fi

step "nftables (a learner's kernels closed to other learners)"
if [ "${COURSE_SHARED_PROXY:-1}" = 0 ]; then ok "skipped (a learners' image: the cluster's network policy does this)"
elif command -v nft >/dev/null; then ok "$(nft --version)"
else
  { apt-get install -y -qq nftables || { apt-get update -qq && apt-get install -y -qq nftables; }; } >/dev/null 2>&1 \
    || fail "nftables is needed (the hub's per-learner network rule): apt-get install nftables"
  ok "installed ($(nft --version))"
fi

step "Rust toolchains for every user (rust/)"
# The default toolchain (what `rustc` runs) and the nightly one (Miri).
for tc in default nightly; do
  if [ "$tc" = default ]; then src="$(rustc --print sysroot)"; else
    src="$(rustup run nightly rustc --print sysroot 2>/dev/null)" || fail "no nightly toolchain: run scripts/setup.sh first."; fi
  name="$(basename "$src")"
  dst="$P/rust/rustup/toolchains/$name"
  # (rust-src in the stamp: a copy made before it was installed is made again)
  stamp="$({ "$src/bin/rustc" -vV; ls "$src/lib/rustlib/src/rust/library/Cargo.toml" 2>/dev/null; } | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$dst/.course-stamp" 2>/dev/null)" != "$stamp" ]; then
    mkdir -p "$P/rust/rustup/toolchains"; copy_tree "$src" "$dst"; echo "$stamp" > "$dst/.course-stamp"
  fi
  [ "$tc" = default ] && default="$name"
done
printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\nauto_self_update = "disable"\n\n[overrides]\n' "$default" \
  > "$P/rust/rustup/settings.toml"
mkdir -p "$P/rust/cargo/bin" "$P/rust/rustup/update-hashes" "$P/rust/rustup/tmp" "$P/rust/rustup/downloads"
cmp -s "$(command -v rustup)" "$P/rust/cargo/bin/rustup" || cp "$(readlink -f "$(command -v rustup)")" "$P/rust/cargo/bin/rustup"
for proxy in cargo rustc rustdoc cargo-miri rustfmt cargo-fmt cargo-clippy clippy-driver rust-gdb; do
  ln -sf rustup "$P/rust/cargo/bin/$proxy"
done
check="$(runuser -u nobody -- env -i PATH="$P/rust/cargo/bin:/usr/bin:/bin" RUSTUP_HOME="$P/rust/rustup" HOME=/tmp rustc --version 2>&1)" \
  || fail "rustc does not run as an unprivileged user: $check"
ok "$check; nightly for Miri"

step "evcxr_jupyter, course-rustc-cache and mdbook (bin/)"
mkdir -p "$P/bin"
for exe in "$(command -v evcxr_jupyter)" "$ROOT/.tools/evcxr/course-rustc-cache" "$(command -v mdbook)"; do
  [ -x "$exe" ] || fail "$exe missing: run scripts/setup.sh first."
  cmp -s "$exe" "$P/bin/$(basename "$exe")" || cp "$exe" "$P/bin/"
done
ok

step "the course at this commit (course/), its crates (vendor/)"
# std's own dependencies are vendored too: evcxr's type inference (its embedded rust-analyzer) runs
# `cargo metadata` on the toolchain's library/ workspace, which offline and with crates-io replaced by
# vendor/ fails without them, and then no std type is known: a cell's `let x = f()?`-style variable of a
# type like `Result<T, String>` ended "Couldn't automatically determine type of variable" for learners
# (chapter 9's first cell), while it worked where cargo could reach crates.io.
library="$P/rust/rustup/toolchains/$default/lib/rustlib/src/rust/library/Cargo.toml"
[ -f "$library" ] || fail "no rust-src in the $default toolchain ($library): run scripts/setup.sh first."
rev="$(git rev-parse HEAD 2>/dev/null || echo unversioned) $(cat "$P/rust/rustup/toolchains/$default/.course-stamp")"
dirty="$( { git diff HEAD 2>/dev/null; git ls-files -z --others --exclude-standard | xargs -0 -r sha256sum; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$P/course/.course-rev" 2>/dev/null)" = "$rev $dirty" ]; then ok "already at ${rev:0:10}"
else
  rm -rf "$P/course.new" && mkdir -p "$P/course.new"
  # The work tree as it is (tracked and new files, with uncommitted edits), never what git ignores
  # (target/, build outputs, the virtual environment).
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$P/course.new" -xf -
  # (RUSTC_BOOTSTRAP: library/Cargo.toml uses cargo features of the toolchain's own build, as rust-analyzer's run does)
  (cd "$P/course.new" && RUSTC_BOOTSTRAP=1 cargo vendor --locked --versioned-dirs --quiet -s "$library" "$P/vendor.new" >/dev/null) \
    || fail "cargo vendor failed."
  rm -rf "$P/vendor" "$P/course" && mv "$P/vendor.new" "$P/vendor" && mv "$P/course.new" "$P/course"
  echo "$rev $dirty" > "$P/course/.course-rev"
  ok "${rev:0:10}, $(ls "$P/vendor" | wc -l) crates"
fi
# Learners' cargo reads crates from vendor/ (written into each home's ~/.cargo/config.toml).
printf '[source.crates-io]\nreplace-with = "course-vendor"\n\n[source.course-vendor]\ndirectory = "%s"\n\n[net]\noffline = true\n' \
  "$P/vendor" > "$P/cargo-config.toml"

step "content.git: the chapters learners pull (nbgitpuller)"
# One commit per change of the notebooks: nbgitpuller merges it into each home and keeps edits.
work="$(mktemp -d)"
if [ -d "$P/content.git" ]; then git clone -q "$P/content.git" "$work/c"; else git init -q -b main "$work/c"; fi
rm -rf "$work/c/notebooks" && cp -r "$P/course/notebooks" "$work/c/notebooks"
ln -sfn "$P/course/support" "$work/c/support"
cat > "$work/c/README.md" <<EOF
# Rust Allocation from First Principles

Open \`notebooks/00-start-here.ipynb\`. Your edits are yours: the course's updates arrive by the
teacher's link and never overwrite a notebook you changed (nbgitpuller merges them).
\`support\` is the course's support crate, shared read-only by everyone on this server.
EOF
(cd "$work/c" && git add -A && if git diff --cached --quiet; then echo same; else
  git -c user.name=course -c user.email=course@localhost commit -qm "course at ${rev:0:10}" && echo new; fi) > "$work/said"
if [ ! -d "$P/content.git" ]; then git clone -q --bare "$work/c" "$P/content.git"
else (cd "$work/c" && git push -q origin main); fi
said="$(cat "$work/said")"; rm -rf "$work"
git -C "$P/content.git" config uploadpack.allowAnySHA1InWant true
ok "$([ "$said" = new ] && echo "new commit" || echo "unchanged")"

step "kernel spec and init.evcxr for every user"
mkdir -p "$P/evcxr" "$P/cache/rustc"
{ echo ":build_env RUSTC_WRAPPER=$P/bin/course-rustc-cache"
  echo ":build_env COURSE_RUSTC_CACHE_SHARED=$P/cache/rustc"; } > "$P/evcxr/init.evcxr"
kdir="$P/venv/share/jupyter/kernels/rust"
mkdir -p "$kdir"
cp "$ROOT/.venv/share/jupyter/kernels/rust/"* "$kdir/"
# The course's spec with the shared paths; its warm-kernel pool (tools/warm-kernel: the provisioner the
# spec names and the server extension that fills the pool) is installed in the shared venv, so each
# learner's server keeps one warmed kernel, running as the learner inside their cgroups.
"$P/venv/bin/python" - "$ROOT/.venv/share/jupyter/kernels/rust/kernel.json" "$kdir/kernel.json" "$P" <<'PY'
import json, sys
source, path, prefix = sys.argv[1:]
spec = json.load(open(source))
spec["argv"] = [f"{prefix}/bin/evcxr_jupyter", "--control_file", "{connection_file}"]
spec["env"] = {"EVCXR_CONFIG_DIR": f"{prefix}/evcxr"}
json.dump(spec, open(path, "w"), indent=1)
PY
want="$(cat tools/warm-kernel/pyproject.toml tools/warm-kernel/course_warm_kernel/*.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$P/venv/.warm-kernel.sha256" 2>/dev/null)" != "$want" ] || ! "$P/venv/bin/python" -c "import course_warm_kernel" 2>/dev/null; then
  build="$(mktemp -d)"; cp -r tools/warm-kernel "$build/"
  "$P/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$build/warm-kernel" \
    >"$build/log" 2>&1 || { cat "$build/log" >&2; fail "pip install tools/warm-kernel into $P/venv failed."; }
  rm -rf "$build"; echo "$want" > "$P/venv/.warm-kernel.sha256"
fi
mkdir -p "$P/venv/etc/jupyter/jupyter_server_config.d"
echo '{"ServerApp": {"jpserver_extensions": {"course_warm_kernel": true}}}' \
  > "$P/venv/etc/jupyter/jupyter_server_config.d/course_warm_kernel.json"
ok "pool of $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["kernel_provisioner"]["config"]["pool_size"])' "$kdir/kernel.json") warm kernel per learner"

step "crates compiled once for everyone (cache/rustc)"
# A kernel as `nobody`-like learner would run it, but writing the shared cache: root warms it.
# Keyed on what the compiled crates and programs are made from (not the commit: a change to a chapter's
# prose or a test must not rebuild chapter 8's programs, 7 minutes on 2 cores): the crates' and programs'
# sources, the lock, the chapters' :dep lines, the toolchain and the kernel.
course_sources() {
  (cd "$P/course" && find support programs config Cargo.toml Cargo.lock -type f -not -path '*/target/*' -print0 2>/dev/null \
    | sort -z | xargs -0 sha256sum; grep -ho '":dep [^"]*' notebooks/*.ipynb | sort -u)
  sha256sum "$ROOT/scripts/warm_kernel.py"
}
stamp="$( { course_sources; cat "$P/rust/rustup/toolchains/"*/.course-stamp; sha256sum "$P/bin/"*; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$P/cache/rustc/warm.stamp" 2>/dev/null)" = "$stamp" ] && [ -d "$P/programs" ]; then ok "already warm"
else
  mkdir -p "$P/cache/cargo-home" && cp "$P/cargo-config.toml" "$P/cache/cargo-home/config.toml"
  said="$(env PATH="$P/rust/cargo/bin:$P/bin:$P/venv/bin:/usr/bin:/bin" RUSTUP_HOME="$P/rust/rustup" \
          CARGO_HOME="$P/cache/cargo-home" COURSE_RUSTC_CACHE="$P/cache/rustc" JUPYTER_PATH="$P/venv/share/jupyter" \
          "$P/venv/bin/python" "$ROOT/scripts/warm_kernel.py" --notebooks "$P/course/notebooks" 2>"$P/cache/warm.log")" \
    || fail "warming the shared cache failed: see $P/cache/warm.log"
  # The example programs chapters 2-5 run (`cargo run --release --example`), as a learner's build would.
  rm -rf "$P/cache/warm-examples"
  env PATH="$P/rust/cargo/bin:/usr/bin:/bin" RUSTUP_HOME="$P/rust/rustup" CARGO_HOME="$P/cache/cargo-home" \
      RUSTC_WRAPPER="$P/bin/course-rustc-cache" COURSE_RUSTC_CACHE="$P/cache/rustc" \
      cargo build --release --quiet --examples --manifest-path "$P/course/support/Cargo.toml" \
      --target-dir "$P/cache/warm-examples/target" 2>>"$P/cache/warm.log" \
    || fail "building the example programs failed: see $P/cache/warm.log"
  rm -rf "$P/cache/warm-examples"
  # Chapter 8's programs (jemalloc's and mimalloc's C code included), built once; learners run these.
  env PATH="$P/rust/cargo/bin:/usr/bin:/bin" RUSTUP_HOME="$P/rust/rustup" CARGO_HOME="$P/cache/cargo-home" \
      RUSTC_WRAPPER="$P/bin/course-rustc-cache" COURSE_RUSTC_CACHE="$P/cache/rustc" \
      cargo build --release --quiet --bins --features jemalloc,mimalloc,dhat \
      --manifest-path "$P/course/programs/alloc-bench/Cargo.toml" --target-dir "$P/cache/warm-programs/target" \
      2>>"$P/cache/warm.log" || fail "building chapter 8's programs failed: see $P/cache/warm.log"
  rm -rf "$P/programs.new" && mkdir -p "$P/programs.new"
  find "$P/cache/warm-programs/target/release" -maxdepth 1 -type f -perm -u+x -exec cp {} "$P/programs.new/" \;
  rm -rf "$P/programs" && mv "$P/programs.new" "$P/programs" && rm -rf "$P/cache/warm-programs"
  said="$said; example programs compiled; chapter 8's $(ls "$P/programs" | wc -l) programs built"
  "$P/bin/course-rustc-cache" --prune "$P/cache/rustc" "$CACHE_MAX_MIB" >/dev/null 2>&1 || true
  echo "$stamp" > "$P/cache/rustc/warm.stamp"
  ok "${said##*$'\n'}"
fi
chmod -R a+rX "$P/cache/rustc" "$P/content.git" "$P/evcxr" "$P/programs"
