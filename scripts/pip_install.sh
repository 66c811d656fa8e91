#!/usr/bin/env bash
# pip_install.sh PYTHON LOG -r FILE...: installs pinned requirements with PYTHON's pip, pip's output in LOG.
# On failure it prints pip's own reason and what to do (used by setup.sh and setup_shared.sh), exit 1.
set -uo pipefail
py="$1"; log="$2"; shift 2
# rfc3987-syntax (jsonschema's optional check of the "iri" format, pulled in by jupyter-events) builds an Earley
# parser when jsonschema is imported: 1.9 CPU-seconds at the start of every Jupyter server, every learner's on the
# classroom server, for a format no schema here uses (jsonschema skips the check without it). Removed after install.
drop() { "$py" -m pip uninstall --quiet --yes --disable-pip-version-check rfc3987-syntax >>"$log" 2>&1 || true; }
if "$py" -m pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then drop; rm -f "$log"; exit 0; fi
ver="$("$py" -c 'import platform; print(platform.python_version())' 2>/dev/null)"
grep -E '^(ERROR|error)|Requires-Python|requires a different Python' "$log" | head -6 | cut -c1-240 | sed 's/^/  pip: /' >&2
if grep -q 'Requires-Python\|requires a different Python' "$log"; then
  echo "error: a pinned package needs another Python than $ver: use Python 3.10 to 3.13 (PYTHON=/path/to/python3), then rerun." >&2
elif grep -qiE 'connection|resolve|timed out|network|proxy|SSL' "$log"; then
  echo "error: pip could not reach PyPI: check network access (or a proxy: HTTPS_PROXY), then rerun." >&2
else
  echo "error: pip install failed: read $log." >&2
fi
exit 1
