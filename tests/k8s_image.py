#!/usr/bin/env python3
"""The learners' image for Zero to JupyterHub (hub/k8s/Dockerfile), run for real with podman (issue 26).

Needs the image `make hub-image` builds (hub/k8s/build-image.sh: 61 minutes from scratch on a busy 2-core machine, so
`make test` does not build it); without podman, without root or without the image it says it skipped, in one line
(and in make test's record of skips). With it, in containers of that image with no network at all:
- the image's user is the learner, uid 1000, not root, and the shared install is read-only to them;
- as a learner's server starts on the cluster (values.yaml's postStart hook), nbgitpuller brings the chapters from
  the image's content.git into the home; then chapter 0 (`--chapter NN` for another) runs headless through the
  real evcxr kernel with the course's runner (course/runner.py, as installed in the image), every cell without
  an error, its exercise checks saying NOT YET, its solutions PASS.
The Kubernetes values (the network policy that keeps learners' pods apart) are checked by tests/test_hub_files.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from skips import record_skip  # noqa: E402

IMAGE = os.environ.get("IMAGE", "localhost/rust-alloc-course:latest")
PREFIX = "/opt/rust-alloc-course"
# podman on this kind of machine (README, hub/k8s/build-image.sh): runc, and rlimits within the machine's hard ones.
PODMAN = ["podman", "--runtime", "runc"]
RUN = [*PODMAN, "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
       "--memory", "3g", "--pids-limit", "1024"]


class Failure(Exception):
    pass


def skip(why: str) -> int:
    why = f"the k8s image test: {why}"
    print(f"[k8s-image] skipped: {why}")
    record_skip(why)
    return 0


def expect(ok: bool, what: str, said: str = "") -> None:
    print(f"[k8s-image] {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        raise Failure(f"{what}\n{said[-4000:]}")


def in_image(script: str, timeout: int, user: str | None = None) -> tuple[int, str]:
    """Runs a bash script in a fresh container of the image (as its own user unless told), with no network."""
    cmd = [*RUN, *(["--user", user] if user else []), IMAGE, "bash", "-c", script]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return 124, f"timed out after {timeout}s: {e.stdout or ''}{e.stderr or ''}"
    return out.returncode, out.stdout + out.stderr


def main(chapter: str) -> int:
    if os.geteuid() != 0:
        return skip("podman's image store here is root's; run make test as root")
    if not shutil.which("podman"):
        return skip("no podman (make hub-image installs it and builds the image, an hour from scratch on a busy 2-core machine)")
    if subprocess.run([*PODMAN, "image", "exists", IMAGE]).returncode != 0:
        return skip(f"no image {IMAGE} (make hub-image builds it, an hour from scratch on a busy 2-core machine)")
    start = time.monotonic()

    user = subprocess.run([*PODMAN, "image", "inspect", "-f", "{{.Config.User}}", IMAGE],
                          capture_output=True, text=True).stdout.strip()
    expect(user == "1000", f"the image runs as uid 1000 by default (Config.User = {user!r})")
    code, said = in_image("id -u; id -un; touch /opt/rust-alloc-course/x 2>&1 || echo READ-ONLY;"
                          " touch /opt/rust-alloc-course/venv/x 2>&1 || echo READ-ONLY", 120)
    lines = said.split()
    expect(code == 0 and lines[:2] == ["1000", "jovyan"], "a container's processes run as jovyan (uid 1000), not root", said)
    expect(said.count("READ-ONLY") == 2, "the shared install is read-only to the learner", said)

    # The learner's server start on the cluster: values.yaml's postStart hook, then the chapter as the runner runs it.
    hook = "gitpuller file:///opt/rust-alloc-course/content.git main rust-alloc-course"
    script = f"""set -e
cd ~ && {hook} >pull.log 2>&1 || {{ cat pull.log; exit 3; }}
ls rust-alloc-course/notebooks/{chapter}-*.ipynb >/dev/null
# The course's runner as the image installed it (course/runner.py; tests/notebooks.py in an image built before
# it moved); it writes its pages beside it, so it runs from a copy in the home.
if [ -f {PREFIX}/course/course/runner.py ]; then runner=course/runner.py; else runner=tests/notebooks.py; fi
cp -r {PREFIX}/course/tests rust-alloc-course/tests
[ ! -d {PREFIX}/course/course ] || cp -r {PREFIX}/course/course rust-alloc-course/course
cd rust-alloc-course && python $runner execute notebooks/{chapter}-*.ipynb"""
    t0 = time.monotonic()
    code, said = in_image(script, 1800)
    seconds = time.monotonic() - t0
    print("\n".join("[k8s-image]   " + l for l in said.splitlines() if l.startswith("[run]") or l.startswith("      ")))
    expect(code == 0 and "1/1 notebooks ok" in said,
           f"chapter {chapter} runs headless in the image, offline, as the learner: zero errors ({seconds:.0f} s)", said)
    print(f"[k8s-image] all checks passed in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chapter", default="00", help="the chapter's two-digit number (default 00)")
    args = ap.parse_args()
    try:
        sys.exit(main(args.chapter))
    except Failure as e:
        print(f"[k8s-image] error: {e}", file=sys.stderr)
        sys.exit(1)
