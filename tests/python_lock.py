#!/usr/bin/env python3
"""The Python locks install on every supported Python (issue 31): 3.10, 3.11 (Debian 12's 3.11.2 too), 3.12, 3.13.

For each supported minor version this finds real interpreters (`/usr/bin/python3`, `pythonX.Y` on PATH, pyenv's
versions) and asks that interpreter's own pip, in a throw-away virtual environment, to resolve requirements.txt and
hub/requirements.txt (`pip install --dry-run --ignore-installed`: everything is resolved and its metadata read,
nothing installed). A version with no interpreter on the machine is checked with pip's `--python-version` (wheels
only, which is what pip would have to find there). It also checks that both locks are what scripts/lock.sh makes of
their .in files (`scripts/lock.sh --check`: a lock edited by hand fails). Needs network access to PyPI.

    python tests/python_lock.py            # every supported version
    python tests/python_lock.py 3.10 3.11  # some
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ["requirements.txt", "hub/requirements.txt"]


def supported_range() -> tuple[str, str]:
    """PY_MIN and PY_MAX as scripts/setup.sh states them (one place says which Pythons the course supports)."""
    text = (ROOT / "scripts" / "setup.sh").read_text()
    low = re.search(r'^PY_MIN="(3\.\d+)"', text, re.M)
    high = re.search(r'^PY_MAX="(3\.\d+)"', text, re.M)
    if not (low and high):
        raise SystemExit("[lock] error: scripts/setup.sh names no PY_MIN/PY_MAX")
    return low.group(1), high.group(1)


def minor_versions(low: str, high: str) -> list[str]:
    lo, hi = int(low.split(".")[1]), int(high.split(".")[1])
    return [f"3.{m}" for m in range(lo, hi + 1)]


def version_of(python: str) -> str:
    out = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip() if out.returncode == 0 else ""


def interpreters(minor: str) -> list[str]:
    """Every distinct interpreter of this minor version the machine has (by real path)."""
    found = []
    candidates = ["/usr/bin/python3", shutil.which(f"python{minor}") or ""]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}.*/bin/python{minor}")))
    seen = set()
    for c in candidates:
        if not c or not os.access(c, os.X_OK):
            continue
        real = os.path.realpath(c)
        if real in seen:
            continue
        v = version_of(c)
        if v.startswith(minor + "."):
            seen.add(real)
            found.append(c)
    return found


def dry_run(pip: list[str], lock: str, extra: list[str]) -> tuple[bool, str]:
    cmd = pip + ["install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
                 "-r", str(ROOT / lock)] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    said = (out.stdout + out.stderr).strip().splitlines()
    reason = next((line for line in said if line.startswith("ERROR")), said[-1] if said else "")
    return out.returncode == 0, reason[:300]


def check_interpreter(python: str) -> list[tuple[str, bool, str]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="course-lock-") as venv:
        made = subprocess.run([python, "-m", "venv", venv], capture_output=True, text=True, timeout=120)
        if made.returncode != 0:
            return [(lock, False, "no venv: " + made.stderr.strip()[-200:]) for lock in LOCKS]
        for lock in LOCKS:
            ok, reason = dry_run([os.path.join(venv, "bin", "python"), "-m", "pip"], lock, [])
            results.append((lock, ok, reason))
    return results


def check_target_version(minor: str) -> list[tuple[str, bool, str]]:
    with tempfile.TemporaryDirectory(prefix="course-lock-") as target:
        return [(lock, *dry_run([sys.executable, "-m", "pip"], lock,
                                ["--python-version", minor, "--only-binary=:all:", "--target", target]))
                for lock in LOCKS]


def main(argv: list[str]) -> int:
    low, high = supported_range()
    versions = argv or minor_versions(low, high)
    failures = 0
    start = time.monotonic()
    lock_check = subprocess.run([str(ROOT / "scripts" / "lock.sh"), "--check"], capture_output=True, text=True,
                                timeout=600)
    print((lock_check.stdout + lock_check.stderr).rstrip())
    failures += lock_check.returncode != 0
    # One job per interpreter, three at a time: most of the time is pip waiting on PyPI.
    jobs = [(minor, p) for minor in versions for p in interpreters(minor)]
    jobs += [(minor, None) for minor in versions if not any(m == minor for m, _ in jobs)]

    def run(job):
        minor, p = job
        if p is None:
            return minor, f"pip --python-version {minor} (no Python {minor} on this machine)", check_target_version(minor)
        return minor, f"{p} ({version_of(p)})", check_interpreter(p)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for minor, who, results in pool.map(run, jobs):
            for lock, ok, reason in results:
                print(f"[lock] Python {minor}: {lock} with {who}: {'resolves' if ok else 'FAILS: ' + reason}")
                failures += not ok
    # The oldest unsupported version must fail: the range the README states is the real edge.
    below = f"3.{int(low.split('.')[1]) - 1}"
    if not argv:
        for p in interpreters(below)[:1]:
            (lock, ok, reason), = [r for r in check_interpreter(p) if r[0] == "requirements.txt"]
            print(f"[lock] Python {below} (below the supported range): {lock} with {p} "
                  f"{'resolves: the range could start lower' if ok else 'fails, as it should'}")
    print(f"[lock] {'all locks resolve' if not failures else f'{failures} failure(s)'} on Python {low} to {high} "
          f"({time.monotonic() - start:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
