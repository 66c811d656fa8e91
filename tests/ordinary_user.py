#!/usr/bin/env python3
"""The course as an ordinary user gets it (issue 31): a fresh clone, Debian's own Python, no root.

Run as root (it makes and removes a Unix user); as anyone else it says it skipped and why. The user gets:
- a fresh `git clone` of this repository's HEAD in their home;
- Debian's `/usr/bin/python3` (3.11.2 on Debian 12), the first `python3` on their PATH: nothing of pyenv, of root's
  home or of root's Python reaches them;
- Rust from the machine's shared, read-only toolchain (scripts/setup_shared.sh: the toolchains root installed,
  readable by every user, with rustup and `evcxr_jupyter` 0.22.0), their own empty `CARGO_HOME` (crates come from
  crates.io into it, as for anyone who installed rustup themselves).
Then, as that user: `make setup` (must end with every step ok, `python 3.11.2`, evcxr found on PATH, the support
crate warmed), chapter 0 executed headless through the real kernel (`course/runner.py execute`), and the root-only
targets: `make hub-stop` must refuse with a line saying it needs root, and `make hub-test` must skip with one line.
`--all` runs `make run` (every chapter) instead of chapter 0. Whatever happens, the user, their processes and their home are removed at the end.
"""

import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from skips import record_skip  # noqa: E402
USER = "course-ordinary"
PREFIX = Path(os.environ.get("COURSE_PREFIX", "/opt/rust-alloc-course"))
SYSTEM_PYTHON = "/usr/bin/python3"




def remove_user() -> None:
    subprocess.run(["pkill", "-KILL", "-u", USER], capture_output=True)
    time.sleep(0.5)
    subprocess.run(["userdel", "-r", USER], capture_output=True)


class Failure(Exception):
    pass


def as_user(home: str, cmd: str, timeout: int, cwd: str) -> tuple[int, str]:
    """Runs a shell command as the user, in a clean login-like environment (nothing of root's)."""
    env = {
        "HOME": home, "USER": USER, "LOGNAME": USER, "LANG": "C.UTF-8", "SHELL": "/bin/bash",
        "PATH": f"{PREFIX}/rust/cargo/bin:{PREFIX}/bin:{home}/.cargo/bin:/usr/local/bin:/usr/bin:/bin",
        "RUSTUP_HOME": f"{PREFIX}/rust/rustup", "CARGO_HOME": f"{home}/.cargo", "TMPDIR": f"{home}/tmp",
    }
    out = subprocess.run(["runuser", "-u", USER, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()],
                          "bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout + out.stderr


def expect(ok: bool, what: str, said: str = "") -> None:
    print(f"[ordinary] {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        raise Failure(f"{what}\n{said[-3000:]}")


def main(every_chapter: bool) -> int:
    if os.geteuid() != 0:
        why = "the ordinary-user test: it makes a Unix user (needs root); run make test as root"
        print(f"[ordinary] skipped: {why}")
        record_skip(why)
        return 0
    if not Path(SYSTEM_PYTHON).exists():
        why = f"the ordinary-user test: no {SYSTEM_PYTHON} (the system's own Python) on this machine"
        print(f"[ordinary] skipped: {why}")
        record_skip(why)
        return 0
    if not (PREFIX / "rust" / "cargo" / "bin" / "rustup").exists():
        print(f"[ordinary] error: no shared toolchain in {PREFIX}: run scripts/setup_shared.sh first")
        return 1
    start = time.monotonic()
    remove_user()
    made = subprocess.run(["useradd", "-m", "-s", "/bin/bash", USER], capture_output=True, text=True)
    if made.returncode != 0:
        print(f"[ordinary] error: useradd failed: {made.stderr.strip()}")
        return 1
    home = pwd.getpwnam(USER).pw_dir
    try:
        course = f"{home}/rust-alloc-course"
        # safe.directory: the repository is root's; git honours it only in a protected (global) config.
        rc, said = as_user(home, f"mkdir -p ~/tmp && git config --global safe.directory {ROOT}/.git && "
                           f"git clone -q {ROOT} {course} && rm ~/.gitconfig && "
                           "git -C ~/rust-alloc-course log --oneline -1", 300, home)
        expect(rc == 0, f"a fresh clone of {ROOT} at HEAD as {USER}: {said.strip()[:70]}", said)
        rc, said = as_user(home, "command -v python3; python3 --version", 30, course)
        expect(said.split()[0] == SYSTEM_PYTHON, f"the user's python3 is the system's ({' '.join(said.split())})",
               said)

        t = time.monotonic()
        rc, said = as_user(home, "make setup", 1800, course)
        steps = [line for line in said.splitlines() if line.startswith("[setup]")]
        for line in steps:
            print("[ordinary]      " + line)
        expect(rc == 0, f"make setup as {USER} ({time.monotonic() - t:.0f} s)", said)
        version = subprocess.run([SYSTEM_PYTHON, "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True).stdout.strip()
        expect(f"python {version}" in said, f"set-up used the system's Python {version}", said)
        expect(f"already installed: {PREFIX}/bin/evcxr_jupyter" in said,
               "set-up found evcxr_jupyter 0.22.0 on PATH (no 10-minute build)", said)
        venv_python = os.path.realpath(f"{course}/.venv/bin/python")
        expect(venv_python.startswith("/usr/bin/"), f".venv's Python is {venv_python}")

        t = time.monotonic()
        if every_chapter:
            rc, said = as_user(home, "make run", 3600, course)
        else:
            rc, said = as_user(home, "JUPYTER_PATH=$PWD/.venv/share/jupyter .venv/bin/python course/runner.py "
                               "execute notebooks/00-start-here.ipynb", 1200, course)
        progress = [line for line in said.splitlines() if line.startswith("[run]")]
        for line in progress:
            print("[ordinary]      " + line)
        what = "make run (every chapter)" if every_chapter else "chapter 0 executed"
        expect(rc == 0 and " notebooks ok " in said, f"{what} as {USER} ({time.monotonic() - t:.0f} s)", said)

        rc, said = as_user(home, "make hub-stop", 120, course)
        expect(rc != 0 and "needs root" in said, f"make hub-stop as {USER} refuses: {said.strip()[:90]}", said)
        rc, said = as_user(home, "make hub-test", 300, course)
        expect(rc == 0 and "skipped: the hub test: it needs root" in said,
               "make hub-test as the user skips with one line saying why", said)
        leftovers = subprocess.run(["pgrep", "-u", USER, "-a"], capture_output=True, text=True).stdout.strip()
        expect(not leftovers, "no process of the user left running", leftovers)
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"[ordinary] FAILED: {e}")
        return 1
    finally:
        remove_user()
    print(f"[ordinary] the course works for an ordinary user with {SYSTEM_PYTHON} ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main("--all" in sys.argv[1:]))
