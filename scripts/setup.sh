#!/usr/bin/env bash
# Installs everything the course needs, idempotently: a second run only checks, in seconds.
#   - rust-src for the stable toolchain (evcxr's analyzer and the std-source excerpts read it)
#   - miri + rust-src for the nightly toolchain (the test suite runs the support crate under Miri)
#   - evcxr_jupyter $EVCXR_VERSION (cargo install --locked; skipped when that version is installed)
#   - mdbook $MDBOOK_VERSION, the book pages' builder (cargo install --locked, search only; skipped when installed)
#   - a project-local Python virtual environment (.venv) with the pinned requirements.txt
#   - the `rust` Jupyter kernel, registered inside .venv (nothing written to your home's Jupyter dirs)
#   - JupyterLab settings inside .venv (no news pop-up on first open)
#   - a git filter (nbstripout) that keeps notebook outputs out of commits, in a git clone
# `scripts/setup.sh browser` only makes sure a headless Chromium is there for the browser test
# (installs it with apt-get on Debian/Ubuntu as root, else says in one line why the test will skip).
set -euo pipefail

EVCXR_VERSION="0.22.0"
# The book builder of `make run`'s pages (course/book.py checks the same version).
MDBOOK_VERSION="0.5.4"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
# Compiled crates every kernel reuses (course-rustc-cache); pruned to this bound at every set-up.
CACHE_DIR="${COURSE_RUSTC_CACHE:-$ROOT/.cache/rustc}"
CACHE_MAX_MIB=1024
PYTHON_SET="${PYTHON:-}"
PYTHON="${PYTHON:-python3}"
# The Python versions requirements.txt is locked for and make test checks (scripts/lock.sh, tests/python_lock.py).
PY_MIN="3.10"
PY_MAX="3.13"
cd "$ROOT"

step_start=0
step() { step_start=$(date +%s); printf '[setup] %-58s' "$1"; }
# A step that printed a line of its own while it ran: print its name again, keep its start time.
resume() { printf '[setup] %-58s' "$1"; }
ok() { echo "ok ($(( $(date +%s) - step_start ))s)${1:+ $1}"; }
fail() { echo "FAILED"; echo "[setup] error: $1" >&2; exit 1; }

if [ "${1:-}" = "browser" ]; then
  step "headless Chromium (browser test of the pages)"
  have_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome; }
  if [ -n "${CHROMIUM:-}" ] || have_chromium >/dev/null; then ok "$("${CHROMIUM:-$(have_chromium)}" --version 2>/dev/null | head -1)"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing with apt-get (about a minute, once)..."
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$ROOT/build-chromium-install.log" 2>&1 \
      || fail "apt-get install chromium failed: see build-chromium-install.log."
    rm -f "$ROOT/build-chromium-install.log"
    resume "headless Chromium (browser test of the pages)"; ok "installed"
  else
    ok "not installed: the browser test will be skipped (install chromium, or set CHROMIUM=/path/to/chrome)"
  fi
  exit 0
fi

step "toolchain: cargo, rustc, rustup, $PYTHON, cc"
[ "$(uname -s)" = Linux ] || fail "the course runs on Linux (glibc): its chapters read glibc's malloc and Linux's /proc. Use a Linux machine or VM."
command -v cargo >/dev/null || fail "cargo not found: install Rust with rustup (https://rustup.rs) and reopen the shell."
command -v rustup >/dev/null || fail "rustup not found: the course needs rustup to add rust-src and miri (https://rustup.rs)."
command -v cc >/dev/null || fail "no C compiler (cc): chapter 8 builds jemalloc and mimalloc. Debian/Ubuntu: apt-get install build-essential."
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found: install Python $PY_MIN to $PY_MAX, or run with PYTHON=/path/to/python3."
# The supported range is the one requirements.txt is locked for (scripts/lock.sh) and make test installs.
pyver="$("$PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null)" || fail "$PYTHON does not run."
python_in_range() { "$1" -c "import sys; sys.exit(not ((${PY_MIN/./, }) <= sys.version_info[:2] <= (${PY_MAX/./, })))" 2>/dev/null; }
"$PYTHON" -c "import sys; sys.exit(sys.version_info[:2] < (${PY_MIN/./, }))" \
  || fail "$PYTHON is Python $pyver; the course needs $PY_MIN to $PY_MAX: install one (Debian/Ubuntu: apt-get install python3.11) and run with PYTHON=/path/to/it."
python_in_range "$PYTHON" || pyver="$pyver (newer than $PY_MAX, the newest tested)"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
  || fail "$PYTHON has no venv module: Debian/Ubuntu: apt-get install python3-venv (or python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv)."
ok "$(rustc --version | cut -d' ' -f2), python $pyver"

step "rust-src for the stable toolchain"
if rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then ok "already installed"
else rustup component add rust-src >/dev/null 2>&1 || fail "could not add rust-src: run 'rustup component add rust-src' and read its error."; ok "installed"; fi

step "nightly toolchain with miri and rust-src"
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || fail "no nightly toolchain: run 'rustup toolchain install nightly'."
fi
if rustup component list --installed --toolchain nightly 2>/dev/null | grep -q '^miri' \
   && rustup component list --installed --toolchain nightly 2>/dev/null | grep -q '^rust-src'; then ok "already installed"
else rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 \
  || fail "could not add miri: run 'rustup component add --toolchain nightly miri rust-src' and read its error."; ok "installed"; fi

step "evcxr_jupyter $EVCXR_VERSION"
# evcxr_jupyter has no --version flag: ask cargo which version it installed.
have="$(cargo install --list 2>/dev/null | sed -n 's/^evcxr_jupyter v\([0-9.]*\):$/\1/p')"
exe="$(command -v evcxr_jupyter || true)"
if [ "$have" = "$EVCXR_VERSION" ] && [ -n "$exe" ]; then ok "already installed"
# One installed elsewhere (a classroom server's shared bin/, another CARGO_HOME): its panic locations name the
# crate's source folder, evcxr_jupyter-VERSION/src, which says which version it was built from.
elif [ -n "$exe" ] && grep -qaF "evcxr_jupyter-$EVCXR_VERSION/src" "$exe"; then ok "already installed: $exe"
else
  echo "building (about 8 minutes on 2 cores, once)..."
  cargo install --locked evcxr_jupyter --version "$EVCXR_VERSION" >"$ROOT/build-evcxr-install.log" 2>&1 \
    || fail "cargo install evcxr_jupyter failed: see build-evcxr-install.log (it needs rustc >= 1.95 and network access to crates.io)."
  rm -f "$ROOT/build-evcxr-install.log"
  command -v evcxr_jupyter >/dev/null || fail "evcxr_jupyter installed but not on PATH: add \$HOME/.cargo/bin to PATH."
  resume "evcxr_jupyter $EVCXR_VERSION"; ok "installed"
fi

step "mdbook $MDBOOK_VERSION (the book pages)"
# The pages of `make run` are an mdBook: sidebar, search that works from file://, previous/next (course/book.py).
# Built without its `serve`/`watch` features (no web server, fewer crates): only `build` is used.
if [ "$(mdbook --version 2>/dev/null)" = "mdbook v$MDBOOK_VERSION" ]; then ok "already installed"
else
  echo "building (once; 13 min wall measured on 2 busy cores)..."
  cargo install --locked mdbook --version "$MDBOOK_VERSION" --no-default-features --features search \
    >"$ROOT/build-mdbook-install.log" 2>&1 \
    || fail "cargo install mdbook failed: see build-mdbook-install.log (it needs network access to crates.io)."
  rm -f "$ROOT/build-mdbook-install.log"
  [ "$(mdbook --version 2>/dev/null)" = "mdbook v$MDBOOK_VERSION" ] || fail "mdbook installed but not on PATH: add \$HOME/.cargo/bin to PATH."
  resume "mdbook $MDBOOK_VERSION (the book pages)"; ok "installed"
fi

step "Python virtual environment .venv (requirements.txt)"
want="$(cat requirements.txt scripts/pip_install.sh | sha256sum | cut -d' ' -f1)"
# A .venv whose Python no longer runs, is older than PY_MIN, or is not the one PYTHON= names is made again.
venv_python="$("$VENV/bin/python" -c 'import platform; print(platform.python_version())' 2>/dev/null || true)"
if [ -e "$VENV" ] && { [ -z "$venv_python" ] || ! "$VENV/bin/python" -c "import sys; sys.exit(sys.version_info[:2] < (${PY_MIN/./, }))" \
     || { [ -n "$PYTHON_SET" ] && [ "$venv_python" != "${pyver%% *}" ]; }; }; then
  rm -rf "$VENV"
fi
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$want" ]; then ok "up to date"
else
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || fail "could not create .venv: on Debian/Ubuntu install python3-venv."
  reason="$(scripts/pip_install.sh "$VENV/bin/python" "$ROOT/build-pip-install.log" -r requirements.txt 2>&1)" \
    || { echo "FAILED"; echo "$reason" | sed 's/^/[setup] /' >&2; exit 1; }
  echo "$want" > "$VENV/.requirements.sha256"
  ok "installed"
fi

step "warm-kernel pool (tools/warm-kernel) inside .venv"
# A kernel provisioner and a Jupyter Server extension (issue 28): JupyterLab keeps one kernel started and
# warmed, and hands it to the next chapter opened or restarted. Reinstalled when its sources change.
want="$(cat tools/warm-kernel/pyproject.toml tools/warm-kernel/course_warm_kernel/*.py | sha256sum | cut -d' ' -f1)"
# (also checked importable: a later sync of the venv to requirements.txt could have removed it)
if [ "$(cat "$VENV/.warm-kernel.sha256" 2>/dev/null)" = "$want" ] && "$VENV/bin/python" -c "import course_warm_kernel" 2>/dev/null \
   && [ -f "$VENV/etc/jupyter/jupyter_server_config.d/course_warm_kernel.json" ]; then ok "up to date"
else
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall ./tools/warm-kernel \
    >"$ROOT/build-warm-kernel.log" 2>&1 || fail "pip install ./tools/warm-kernel failed: see build-warm-kernel.log."
  rm -rf "$ROOT/build-warm-kernel.log" tools/warm-kernel/build tools/warm-kernel/*.egg-info
  mkdir -p "$VENV/etc/jupyter/jupyter_server_config.d"
  echo '{"ServerApp": {"jpserver_extensions": {"course_warm_kernel": true}}}' \
    > "$VENV/etc/jupyter/jupyter_server_config.d/course_warm_kernel.json"
  echo "$want" > "$VENV/.warm-kernel.sha256"
  ok "installed"
fi

step "course-rustc-cache: each crate compiled once per machine"
# evcxr builds every kernel in a fresh folder; this rustc wrapper (tools/rustc-cache) keeps each
# compiled crate, checked against its sources at every use, in $CACHE_DIR.
cargo build --release --quiet -p rustc-cache >"$ROOT/build-rustc-cache.log" 2>&1 \
  || fail "building tools/rustc-cache failed: see build-rustc-cache.log."
rm -f "$ROOT/build-rustc-cache.log"
mkdir -p "$TOOLS/evcxr"
wrapper="$TOOLS/evcxr/course-rustc-cache"
cmp -s "$ROOT/target/release/course-rustc-cache" "$wrapper" || cp "$ROOT/target/release/course-rustc-cache" "$wrapper"
sed -e "s|@WRAPPER@|$wrapper|" -e "s|@CACHE@|$CACHE_DIR|" "$ROOT/config/evcxr/init.evcxr" > "$TOOLS/evcxr/init.evcxr.new"
cmp -s "$TOOLS/evcxr/init.evcxr.new" "$TOOLS/evcxr/init.evcxr" && rm "$TOOLS/evcxr/init.evcxr.new" \
  || mv "$TOOLS/evcxr/init.evcxr.new" "$TOOLS/evcxr/init.evcxr"
if [ -d "$CACHE_DIR" ]; then ok "$("$wrapper" --prune "$CACHE_DIR" "$CACHE_MAX_MIB" 2>&1) in ${CACHE_DIR#$ROOT/}"
else ok "empty cache: ${CACHE_DIR#$ROOT/}"; fi

step "Jupyter kernel 'rust' inside .venv"
kdir="$VENV/share/jupyter/kernels/rust"
mkdir -p "$kdir"
# evcxr_jupyter reinstalls its kernel spec at every kernel start unless the spec folder holds the
# version.txt of the running binary (evcxr_jupyter 0.22.0, src/install.rs, update_if_necessary:
# it compares the file's bytes with the version.txt compiled into the binary). That reinstall would
# replace our kernel.json (display name, EVCXR_CONFIG_DIR). So let the binary write its own files
# into a scratch folder and copy everything but its kernel.json (version.txt, logos) beside ours.
scratch="$(mktemp -d)"
JUPYTER_PATH="$scratch" evcxr_jupyter --install >/dev/null 2>&1 \
  && [ -s "$scratch/kernels/rust/version.txt" ] \
  || { rm -rf "$scratch"; fail "'evcxr_jupyter --install' did not write version.txt: reinstall evcxr_jupyter (cargo install --locked --force evcxr_jupyter --version $EVCXR_VERSION)."; }
for f in "$scratch"/kernels/rust/*; do
  [ "$(basename "$f")" = kernel.json ] || cmp -s "$f" "$kdir/$(basename "$f")" || cp "$f" "$kdir/"
done
rm -rf "$scratch"
"$VENV/bin/python" - "$kdir/kernel.json" "$(command -v evcxr_jupyter)" "$TOOLS/evcxr" <<'PY'
import json, sys
path, exe, config_dir = sys.argv[1:]
spec = {
    "argv": [exe, "--control_file", "{connection_file}"],
    "display_name": "Rust (allocation course)",
    "language": "rust",
    "interrupt_mode": "message",
    # init.evcxr there (written by set-up from config/evcxr/) routes the kernel's builds through
    # course-rustc-cache, so the support crate and plotters compile once per machine.
    "env": {"EVCXR_CONFIG_DIR": config_dir},
    # tools/warm-kernel: JupyterLab hands a chapter a kernel that already ran these lines: the chapters'
    # own first cell, and a session's first type inference, which evcxr pays at the first top-level `let`
    # (3.0 CPU-s measured; a `let` inside a block does not pay it), with its variable moved away, so no
    # variable is left (evcxr forgets a moved variable). COURSE_WARM_KERNELS=0 turns the pool off.
    "metadata": {"kernel_provisioner": {"provisioner_name": "course-warm-provisioner", "config": {
        "pool_size": 1,
        "warm_up": [':dep support = { path = "../support" }',
                    "let _warm_up = support::layout::SizeTable::new(); drop(_warm_up);"],
    }}},
}
new = json.dumps(spec, indent=1)
try:
    old = open(path).read()
except OSError:
    old = None
if old != new:
    open(path, "w").write(new)
PY
JUPYTER_PATH="$VENV/share/jupyter" "$VENV/bin/jupyter" kernelspec list 2>/dev/null | grep -q "^ *rust " \
  || fail "the rust kernel is not visible to Jupyter: remove .venv and rerun 'make setup'."
ok

step "JupyterLab settings inside .venv (no news pop-up)"
"$VENV/bin/python" - "$VENV/share/jupyter/lab/settings/overrides.json" <<'PY'
import json, os, sys
path = sys.argv[1]
try:
    settings = json.load(open(path))
except (OSError, ValueError):
    settings = {}
# JupyterLab 4 asks on first open whether to fetch Jupyter news ("fetchNews": "none" means "ask").
want = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
merged = {**settings, **{k: {**settings.get(k, {}), **v} for k, v in want.items()}}
if merged != settings:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(merged, f, indent=2)
PY
ok

step "strace (chapter 9 traces its programs' system calls)"
# Chapter 9 runs its programs under strace. Without it the chapter says so in its trace cells and
# exercise 9.1 cannot be checked; everything else runs. As root on Debian/Ubuntu it is installed here.
if command -v strace >/dev/null; then ok "$(strace -V 2>/dev/null | head -1)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace; } >"$ROOT/build-strace-install.log" 2>&1 \
    && { rm -f "$ROOT/build-strace-install.log"; ok "installed ($(strace -V 2>/dev/null | head -1))"; } \
    || ok "could not be installed (see build-strace-install.log): chapter 9's traces will say so"
else
  ok "not installed: chapter 9's traces will say so (as root: apt-get install strace)"
fi

step "git filter: notebook outputs stay out of commits"
# Autosave writes outputs into the notebooks; the nbstripout filter (pinned in requirements.txt) strips
# them from what git sees, so `git status`/`git diff`/`git pull` only see real edits. .gitattributes
# names the filter; its command is configured here, per clone, because git never runs a command that
# a repository ships. The command is relative: git runs filters from the top of the work tree.
if ! git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then ok "skipped: not a git clone"
elif [ "$(cd "$ROOT" && git rev-parse --absolute-git-dir)" != "$(cd "$ROOT" && cd "$(git rev-parse --git-common-dir)" && pwd -P)" ]; then
  ok "skipped: a linked worktree shares its clone's config; run 'make setup' in the main clone"
else
  want_clean=".venv/bin/nbstripout --keep-id"
  changed=""
  setcfg() { [ "$(git -C "$ROOT" config --get "$1" 2>/dev/null)" = "$2" ] || { git -C "$ROOT" config "$1" "$2"; changed=1; }; }
  setcfg filter.nbstripout.clean "$want_clean"
  setcfg filter.nbstripout.smudge cat
  setcfg diff.ipynb.textconv ".venv/bin/nbstripout --keep-id -t"
  if [ -n "$changed" ]; then ok "configured"; else ok "already configured"; fi
fi

step "support crate compiled for every kernel (warm cache)"
# The learner's first open of a chapter finds the crate built. Skipped when nothing it depends on
# changed since the last warm-up (the stamp: digests of support/, Cargo.lock, rustc and evcxr).
stamp="$( { find "$ROOT/support/src" "$ROOT/support/Cargo.toml" "$ROOT/Cargo.lock" -type f -print0 | sort -z | xargs -0 sha256sum;
           rustc -vV; cat "$VENV/share/jupyter/kernels/rust/version.txt" "$TOOLS/evcxr/init.evcxr"; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$CACHE_DIR/warm.stamp" 2>/dev/null)" = "$stamp" ] && [ -d "$CACHE_DIR/entries" ]; then ok "already warm"
else
  mkdir -p "$CACHE_DIR" 2>/dev/null || true
  # The kernel's own messages (cargo's "Compiling ...") go to warm.log; the script prints one line.
  if said="$(JUPYTER_PATH="$VENV/share/jupyter" "$VENV/bin/python" "$ROOT/scripts/warm_kernel.py" 2>"$CACHE_DIR/warm.log")"; then
    echo "$stamp" > "$CACHE_DIR/warm.stamp" 2>/dev/null || true
    ok "${said##*$'\n'}"  # its last line (the kernel may print a line of its own first)
  else
    ok "not warmed (${said:-see $CACHE_DIR/warm.log}); the first kernel compiles it"
  fi
fi
