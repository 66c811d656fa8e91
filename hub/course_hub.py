"""The course's JupyterHub pieces: learners as Unix users, and a spawner that bounds each one.

- `ensure_learner(name)`: a Unix user with a private home (mode 700), the course's cargo config (crates
  come from the shared, vendored folder) and a git config that trusts the shared content repository.
  A new user gets a generated password, returned once (PAM, JupyterHub's default authenticator,
  checks it: nothing of it is stored by the course).
- `CourseSpawner`: JupyterHub's local process spawner (each learner's server runs as that learner's
  user) plus, per learner, a memory cgroup (`memory.limit_in_bytes`), a pids cgroup (`pids.max`)
  and a cpu cgroup (equal shares): every process a learner starts, kernels and the programs they
  run included, is inside them and cannot leave. A runaway cell is killed by the kernel's OOM killer
  inside that learner's cgroup; a fork bomb stops at `pids.max`; other learners do not notice.
  When a server stops, every process left in the learner's cgroups (a `cargo run` child a kernel
  left behind) is killed. Before each start, nbgitpuller merges the course's latest chapters into
  `~/rust-alloc-course` without overwriting the learner's edits.

Cgroup v1 (memory, pids, cpu controllers mounted under /sys/fs/cgroup/<controller>) or cgroup v2
(one tree, /sys/fs/cgroup with memory.max and pids.max) are both handled; with neither, the spawner
refuses to start servers unless COURSE_HUB_NO_LIMITS=1 says the teacher accepts unbounded learners.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import pwd
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

PREFIX = Path(os.environ.get("COURSE_PREFIX", "/opt/rust-alloc-course"))
CONTENT_DIR = "rust-alloc-course"  # in each home
# The git repository learners' homes merge from (scripts/setup_shared.sh commits the chapters into it).
CONTENT_REPO = Path(os.environ.get("COURSE_CONTENT_REPO", PREFIX / "content.git"))
CGROUP_ROOT = Path(os.environ.get("COURSE_CGROUP_ROOT", "/sys/fs/cgroup"))
CGROUP_NAME = "rust-alloc-course"
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
# Default bounds per learner: 3 GiB of memory, 256 processes and threads. A learner's server with a
# running kernel held about 0.5-0.7 GB here (README, teaching on one server); rust-analyzer inside
# evcxr and `cargo run` of the example programs need the rest. Override with COURSE_LEARNER_MEM_MB /
# COURSE_LEARNER_PIDS.
MEM_MB = int(os.environ.get("COURSE_LEARNER_MEM_MB", "3072"))
PIDS = int(os.environ.get("COURSE_LEARNER_PIDS", "256"))


class ClassListError(ValueError):
    """A class list line that is not a usable learner name."""


def read_class_list(path: Path) -> list[str]:
    """Learner names, one per line (`#` starts a comment); refuses names Unix or the hub cannot take."""
    names = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if not NAME_RE.match(name):
            raise ClassListError(f"{path}:{n}: {name!r} is not a learner name (lower-case letters, digits, "
                                 "'-' or '_', starting with a letter, at most 31 characters)")
        if name in names:
            raise ClassListError(f"{path}:{n}: {name!r} is listed twice")
        names.append(name)
    if not names:
        raise ClassListError(f"{path}: no learner names")
    return names


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_learner(name: str) -> str | None:
    """Makes the Unix user `name` if missing; returns its new password (None if it existed)."""
    if not NAME_RE.match(name):
        raise ClassListError(f"{name!r} is not a learner name")
    password = None
    if not user_exists(name):
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", name], check=True)
        password = secrets.token_urlsafe(9)
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    prepare_home(name)
    return password


def set_password(name: str) -> str:
    """A new generated password for an existing learner (printed once by the caller)."""
    password = secrets.token_urlsafe(9)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    return password


def remove_learner(name: str) -> None:
    """Removes the Unix user and its home (tests; a teacher removes learners with `userdel -r`)."""
    kill_cgroup(name)
    subprocess.run(["userdel", "--remove", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)


def _write_owned(path: Path, text: str, pw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chown(path.parent, pw.pw_uid, pw.pw_gid)
    path.write_text(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def prepare_home(name: str) -> None:
    """The learner's home: private, with the course's cargo and git settings (kept if edited)."""
    pw = pwd.getpwnam(name)
    home = Path(pw.pw_dir)
    os.chmod(home, 0o700)
    cargo = home / ".cargo" / "config.toml"
    if not cargo.exists():
        _write_owned(cargo, (PREFIX / "cargo-config.toml").read_text(), pw)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        _write_owned(gitconfig, f"[safe]\n\tdirectory = {CONTENT_REPO}\n"
                     "[user]\n\tname = learner\n\temail = learner@localhost\n", pw)


def learner_env(name: str) -> dict[str, str]:
    """The environment of a learner's server (and so of their kernels)."""
    home = pwd.getpwnam(name).pw_dir
    return {
        "PATH": f"{PREFIX}/rust/cargo/bin:{PREFIX}/bin:{PREFIX}/venv/bin:/usr/local/bin:/usr/bin:/bin",
        "RUSTUP_HOME": f"{PREFIX}/rust/rustup",
        "CARGO_HOME": f"{home}/.cargo",
        # The learner's own compiled crates; the shared ones come from init.evcxr's COURSE_RUSTC_CACHE_SHARED.
        "COURSE_RUSTC_CACHE": f"{home}/.cache/course-rustc",
        "COURSE_RUSTC_CACHE_SHARED": f"{PREFIX}/cache/rustc",
        # The example programs build here (the shared course folder is read-only), through the course's
        # rustc wrapper, so their crates come compiled from the shared cache too.
        "COURSE_TARGET_DIR": f"{home}/.cache/course/target",
        "COURSE_RUSTC_WRAPPER": f"{PREFIX}/bin/course-rustc-cache",
        # Chapter 8's programs, built once by the server's set-up (nothing compiles jemalloc per learner).
        "COURSE_PROGRAMS_DIR": f"{PREFIX}/programs",
        "JUPYTER_PATH": f"{PREFIX}/venv/share/jupyter",
    }


def pull_course(name: str) -> str:
    """Merges the latest chapters into the learner's copy (nbgitpuller: their edits are kept)."""
    pw = pwd.getpwnam(name)
    target = Path(pw.pw_dir) / CONTENT_DIR
    r = subprocess.run(
        [shutil.which("runuser") or "/usr/sbin/runuser", "-u", name, "--", f"{PREFIX}/venv/bin/gitpuller", f"file://{CONTENT_REPO}", "main",
         str(target)],
        capture_output=True, text=True, timeout=120, cwd="/", env={**learner_env(name), "HOME": pw.pw_dir},
    )
    return (r.stdout + r.stderr).strip()


# ---- cgroups ---------------------------------------------------------------------------------------

def cgroup_version() -> int | None:
    """2 for a unified tree, 1 for per-controller trees with memory and pids, None otherwise."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return 2
    if (CGROUP_ROOT / "memory").is_dir() and (CGROUP_ROOT / "pids").is_dir():
        return 1
    return None


def cgroup_dirs(name: str) -> list[Path]:
    """The learner's cgroup folders (one per controller on v1, one on v2)."""
    v = cgroup_version()
    if v == 2:
        return [CGROUP_ROOT / CGROUP_NAME / name]
    if v == 1:
        return [CGROUP_ROOT / c / CGROUP_NAME / name for c in ("memory", "pids", "cpu") if (CGROUP_ROOT / c).is_dir()]
    return []


def make_cgroup(name: str, mem_mb: int = MEM_MB, pids: int = PIDS) -> list[Path]:
    """Creates (or updates) the learner's cgroups with their bounds; returns the folders."""
    v = cgroup_version()
    dirs = cgroup_dirs(name)
    if v == 2:
        parent = CGROUP_ROOT / CGROUP_NAME
        parent.mkdir(exist_ok=True)
        (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        if v == 2:
            (d / "memory.max").write_text(str(mem_mb << 20))
            (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
            (d / "pids.max").write_text(str(pids))
        elif d.parts[-3] == "memory":
            (d / "memory.limit_in_bytes").write_text(str(mem_mb << 20))
        elif d.parts[-3] == "pids":
            (d / "pids.max").write_text(str(pids))
    return dirs


def cgroup_pids(name: str) -> set[int]:
    out: set[int] = set()
    for d in cgroup_dirs(name):
        try:
            out |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
        except OSError:
            pass
    return out


def kill_cgroup(name: str, wait: float = 5.0) -> int:
    """Kills every process in the learner's cgroups and removes them; returns how many were killed."""
    killed = 0
    deadline = time.monotonic() + wait
    while (pids := cgroup_pids(name)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    for d in cgroup_dirs(name):
        try:
            d.rmdir()
        except OSError:
            pass
    return killed


def enter_cgroup_fn(dirs: list[Path]):
    """A function for a child process (before it drops root) that moves it into `dirs`."""
    procs = [str(d / "cgroup.procs") for d in dirs]

    def enter():
        pid = str(os.getpid())
        for p in procs:
            with open(p, "w") as f:
                f.write(pid)

    return enter


try:  # the spawner needs JupyterHub; the functions above do not (tests import them alone)
    from jupyterhub.spawner import LocalProcessSpawner
    from traitlets import Integer

    class CourseSpawner(LocalProcessSpawner):
        """Local process spawner: the learner's own user, inside the learner's own cgroups."""

        mem_limit_mb = Integer(MEM_MB, config=True, help="Memory bound of all of a learner's processes (MiB).")
        pids_limit = Integer(PIDS, config=True, help="Bound on a learner's processes and threads.")

        def make_preexec_fn(self, name):
            drop_root = super().make_preexec_fn(name)
            enter = enter_cgroup_fn(self._cgroups)

            def preexec():
                enter()  # still root here: a learner cannot write these files
                drop_root()

            return preexec

        async def start(self):
            name = self.user.name
            await asyncio.to_thread(prepare_home, name)
            if cgroup_version() is None and os.environ.get("COURSE_HUB_NO_LIMITS") != "1":
                raise RuntimeError("no cgroups on this machine: learners would be unbounded "
                                   "(set COURSE_HUB_NO_LIMITS=1 to accept that)")
            await asyncio.to_thread(kill_cgroup, name)  # whatever an earlier server left behind
            self._cgroups = make_cgroup(name, self.mem_limit_mb, self.pids_limit)
            said = await asyncio.to_thread(pull_course, name)
            self.log.info("course content for %s: %s", name, said.splitlines()[-1] if said else "up to date")
            self.environment.update(learner_env(name))
            return await super().start()

        async def stop(self, now=False):
            await super().stop(now=now)
            killed = await asyncio.to_thread(kill_cgroup, self.user.name)
            if killed:
                self.log.info("killed %d processes left in %s's cgroups", killed, self.user.name)

except ImportError:  # pragma: no cover
    pass
