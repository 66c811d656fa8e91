#!/usr/bin/env bash
# Regenerates the Python locks from their top-level files, for every supported Python (3.10 to 3.13) at once:
#   requirements.in      -> requirements.txt      (the course: JupyterLab, nbclient, nbconvert, ...)
#   requirements.in + hub/requirements.in -> hub/requirements.txt  (the shared install of a hub; its pins of the
#                                            course's packages are the ones of requirements.txt)
# uv's universal resolution writes environment markers where a package needs another version on an older
# Python (soupsieve 4.x needs 3.11.5, ipykernel 7.4 needs 3.11, ...). Versions already in a lock are kept
# unless a top-level pin changed: to upgrade, change the pin in the .in file, or delete the lock first.
#   scripts/lock.sh          rewrite both locks
#   scripts/lock.sh --check  exit 1 if a lock is not what uv makes of the .in files (run by make test)
# uv itself is pinned and installed once into .tools/uv (from PyPI, with pip).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION="0.13.10"
MIN_PYTHON="3.10"
UV="$ROOT/.tools/uv/bin/uv"
if [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "${PYTHON:-python3}" -m venv "$ROOT/.tools/uv" >/dev/null \
    && "$ROOT/.tools/uv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" \
    || { echo "[lock] error: could not install uv $UV_VERSION from PyPI into .tools/uv" >&2; exit 1; }
fi

# compile OUT INPUT... : uv pip compile into OUT (the lock already there is read as the preferred versions).
compile() {
  local out="$1"; shift
  "$UV" pip compile --quiet --universal --python-version "$MIN_PYTHON" --no-header --annotation-style line \
    "$@" -o "$out"
  # One header line, the same whoever runs it (uv's own header names the temporary file of --check).
  { echo "# The lock of ${*//-c requirements.txt/} for Python >= $MIN_PYTHON, made by scripts/lock.sh (uv $UV_VERSION, --universal): do not edit."; cat "$out"; } >"$out.tmp"
  mv "$out.tmp" "$out"
}

if [ "${1:-}" = "--check" ]; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  status=0
  for pair in "requirements.txt:requirements.in" "hub/requirements.txt:requirements.in hub/requirements.in -c requirements.txt"; do
    lock="${pair%%:*}"; inputs="${pair#*:}"
    # the committed lock, minus its header line, as uv's preference
    tail -n +2 "$lock" >"$tmp/lock.txt"
    # shellcheck disable=SC2086
    compile "$tmp/lock.txt" $inputs
    if diff -u "$lock" "$tmp/lock.txt" >"$tmp/diff"; then echo "[lock] $lock: what uv makes of its .in files"
    else echo "[lock] error: $lock is not what uv makes of its .in files (edited by hand, or a pin changed): run scripts/lock.sh" >&2
      head -20 "$tmp/diff" >&2; status=1; fi
  done
  exit $status
fi
compile requirements.txt requirements.in
compile hub/requirements.txt requirements.in hub/requirements.in -c requirements.txt
echo "[lock] wrote requirements.txt ($(grep -c '==' requirements.txt) pins) and hub/requirements.txt ($(grep -c '==' hub/requirements.txt) pins)"
