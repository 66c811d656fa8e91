"""The course's JupyterHub pieces: learners as Unix users, and a spawner that bounds each one.

- `ensure_learner(name)`: a Unix user with a private home (mode 700, a bounded ext4 image of its own),
  the course's cargo config (crates come from the shared, vendored folder) and a git config that
  trusts the shared content repository.
  A new user gets a generated password, returned once (PAM, JupyterHub's default authenticator,
  checks it: nothing of it is stored by the course).
- `CourseSpawner`: JupyterHub's local process spawner (each learner's server runs as that learner's
  user) plus, per learner, a memory cgroup (`memory.limit_in_bytes`), a pids cgroup (`pids.max`)
  and a cpu cgroup (equal shares and a quota of all cores but one): every process a learner starts,
  kernels and the programs they run included, is inside them and cannot leave. A runaway cell is
  killed by the kernel's OOM killer inside that learner's cgroup; a fork bomb stops at `pids.max`;
  other learners do not notice. When a server stops, every process left in the learner's cgroups
  (a `cargo run` child a kernel left behind) is killed. Before each start, as the learner and inside
  their cgroups (root never works on a path in a learner's home), the home gets the course's
  settings and nbgitpuller merges the course's latest chapters into `~/rust-alloc-course` without
  overwriting the learner's edits (their git hooks off). The server runs in a mount namespace of
  its own (private, bounded /tmp and /dev/shm) and listens, with its kernels, on the learner's own
  loopback address, which an nftables rule closes to every other learner.
- `CourseAuthenticator`: PAM logins, throttled per name and client address.

Cgroup v1 (memory, pids, cpu controllers mounted under /sys/fs/cgroup/<controller>) or cgroup v2
(one tree, /sys/fs/cgroup with memory.max and pids.max) are both handled; with neither, the spawner
refuses to start servers unless COURSE_HUB_NO_LIMITS=1 says the teacher accepts unbounded learners.
"""
from __future__ import annotations

import asyncio
import os
import pwd
import shutil
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
# CPU: equal shares, and at most CPUS cores per learner (default: all but one). Shares alone split each
# core by the load on it: one learner busy on both cores of a 2-core machine left another's 2 s cell
# 1.66x slower (their one thread got ~2/3 of a core); with a quota one core stays for everyone else.
CPUS = float(os.environ.get("COURSE_LEARNER_CPUS", max(1, (os.cpu_count() or 2) - 1)))
# Each learner's private /tmp and /dev/shm (tmpfs: their pages count against the learner's memory bound).
TMP_MB = int(os.environ.get("COURSE_LEARNER_TMP_MB", "1024"))
SHM_MB = int(os.environ.get("COURSE_LEARNER_SHM_MB", "256"))
# Each new learner's home is a file system of its own: a sparse ext4 image of DISK_MB in HOMES_DIR
# (root's, mode 700), mounted at the home. A learner who fills it gets "No space left on device";
# nobody else's disk fills. Images take only the blocks written.
DISK_MB = int(os.environ.get("COURSE_LEARNER_DISK_MB", "4096"))
HOMES_DIR = Path(os.environ.get("COURSE_HOMES_DIR", "/var/lib/rust-alloc-course/homes"))


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
        subprocess.run(["useradd", "--no-create-home", "--home-dir", f"/home/{name}", "--shell", "/bin/bash",
                        "--user-group", name], check=True)
        make_home(name)
        password = secrets.token_urlsafe(9)
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    unbounded = mount_home(name)
    if unbounded:
        print(f"[hub] warning: {unbounded}")
    said = prepare_home(name, make_cgroup(name) if cgroup_version() else [])
    if said:
        print(f"[hub] {name}'s home: {said}")
    return password


def home_image(name: str) -> Path:
    return HOMES_DIR / f"{name}.ext4"


def make_home(name: str, disk_mb: int | None = None) -> None:
    """A new learner's home: an ext4 image of its own (no reserved blocks), mounted at the home, with
    /etc/skel's files, owned by the learner, mode 700. Root works here only before the learner exists
    to anyone (the account has no password yet and has never run anything)."""
    pw = pwd.getpwnam(name)
    HOMES_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(HOMES_DIR, 0o700)
    image = home_image(name)
    image.unlink(missing_ok=True)
    with open(image, "wb") as f:
        f.truncate((disk_mb or DISK_MB) << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"root_owner={pw.pw_uid}:{pw.pw_gid}", str(image)],
                   check=True, capture_output=True)
    os.makedirs(pw.pw_dir, mode=0o700, exist_ok=True)
    mount_home(name)
    subprocess.run(["cp", "-a", "/etc/skel/.", pw.pw_dir], check=True)
    subprocess.run(["chown", "-R", "--no-dereference", f"{pw.pw_uid}:{pw.pw_gid}", pw.pw_dir], check=True)
    os.chmod(pw.pw_dir, 0o700)


def mount_home(name: str) -> str | None:
    """Mounts the learner's home image if it is not mounted (after a reboot); None, or why the home has no
    disk bound (a learner made before homes had images)."""
    home, image = pwd.getpwnam(name).pw_dir, home_image(name)
    if not image.exists():
        return f"{name}'s home has no disk bound (no {image}: made before the hub bounded homes)"
    if not os.path.ismount(home):
        subprocess.run(["mount", "-o", "loop,nosuid,nodev", str(image), home], check=True, capture_output=True)
    return None


def set_password(name: str) -> str:
    """A new generated password for an existing learner (printed once by the caller)."""
    password = secrets.token_urlsafe(9)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    return password


def remove_learner(name: str) -> None:
    """Removes the Unix user and its home (tests; a teacher removes learners with `userdel -r`)."""
    kill_cgroup(name)
    if user_exists(name) and pwd.getpwnam(name).pw_uid < 1 << 22:  # its address off lo and out of the set
        address, uid = learner_address(name), pwd.getpwnam(name).pw_uid
        subprocess.run([shutil.which("ip") or "/usr/sbin/ip", "address", "del", f"{address}/32", "dev", "lo"],
                       capture_output=True)
        subprocess.run([shutil.which("nft") or "/usr/sbin/nft", "delete", "element", "inet", NFT_TABLE, "own",
                        f"{{ {address} . {uid} }}"], capture_output=True)
    if user_exists(name) and os.path.ismount(pwd.getpwnam(name).pw_dir):
        subprocess.run(["umount", "--lazy", pwd.getpwnam(name).pw_dir], capture_output=True)
    home_image(name).unlink(missing_ok=True)
    subprocess.run(["userdel", "--remove", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)


# The home's set-up, run AS THE LEARNER (never as root: a learner controls every path in their home,
# and root following a planted link to /etc or /root would hand that file over). Files the learner
# already has, or has replaced by anything (a link, a FIFO, a folder), are left alone; a step that
# fails (a link to a folder the learner cannot write) only affects the learner and is reported.
HOME_SCRIPT = r"""
import os, sys
home, cargo_config, gitconfig = sys.argv[1:4]
os.chdir(home)
os.chmod(".", 0o700)
for rel, text in ((".cargo/config.toml", cargo_config), (".gitconfig", gitconfig)):
    try:
        if not os.path.lexists(rel):
            os.makedirs(os.path.dirname(rel) or ".", exist_ok=True)
            with open(rel, "x") as f:
                f.write(text)
    except OSError as e:
        print(f"{rel}: {e}")
"""


def prepare_home(name: str, cgroups: list[Path] | None = None) -> str:
    """The learner's home: private, with the course's cargo and git settings (kept if edited).

    Runs as the learner inside `cgroups` (their bounds); returns what the step said (errors)."""
    pw = pwd.getpwnam(name)
    gitconfig = f"[safe]\n\tdirectory = {CONTENT_REPO}\n[user]\n\tname = learner\n\temail = learner@localhost\n"
    r = run_as_learner(name, cgroups or [], [str(PREFIX / "venv/bin/python"), "-I", "-c", HOME_SCRIPT, pw.pw_dir,
                                             (PREFIX / "cargo-config.toml").read_text(), gitconfig], timeout=30)
    return (r.stdout + r.stderr).strip()


def as_learner_fn(name: str, cgroups: list[Path]):
    """A child process's last step before exec: into the learner's cgroups (as root), then the learner's
    uid, gid and groups (no way back)."""
    pw = pwd.getpwnam(name)
    groups = os.getgrouplist(name, pw.pw_gid)
    enter = enter_cgroup_fn(cgroups)

    def preexec():
        enter()
        os.setgroups(groups)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    return preexec


def run_as_learner(name: str, cgroups: list[Path], argv: list[str], env: dict | None = None,
                   timeout: float = 120) -> subprocess.CompletedProcess:
    """`argv` run as the learner inside their cgroups, from /, with a clean environment. A step that hangs
    (a FIFO planted where git reads its config) ends at `timeout` and says so; what it left running stays
    in the learner's cgroups until their server stops."""
    home = pwd.getpwnam(name).pw_dir
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/",
                              env={**learner_env(name), "HOME": home, "USER": name, **(env or {})},
                              preexec_fn=as_learner_fn(name, cgroups))
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, -9, "", f"{Path(argv[0]).name}: stopped after {timeout:.0f} s")


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
        # The warm-kernel pool (tools/warm-kernel) starts its kernel where the chapters open; its size
        # (default 1, 0 turns it off) is the teacher's COURSE_WARM_KERNELS.
        "COURSE_WARM_KERNEL_DIR": f"{home}/{CONTENT_DIR}/notebooks",
        "COURSE_WARM_KERNELS": os.environ.get("COURSE_WARM_KERNELS", "1"),
        # A refill (the kernel for a learner's next chapter or restart) waits for a quiet machine: while a
        # room arrives it would slow every learner's first chart (tools/warm-kernel, "quiet" policy).
        "COURSE_WARM_REFILL": os.environ.get("COURSE_WARM_REFILL", "quiet"),
    }


def pull_gitconfig() -> Path:
    """The git configuration of the start-time merge (root's, next to the content repository): it trusts
    the content repository, whose owner (root) is not the learner; nothing of the learner's global config."""
    path = CONTENT_REPO.parent / f"{CONTENT_REPO.name}.pull-gitconfig"
    text = f"[safe]\n\tdirectory = {CONTENT_REPO}\n"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        tmp.replace(path)
    return path


# Git settings of the learner's repository that would run a command of theirs during the merge: hooks
# (post-merge, reference-transaction, ...), wherever core.hooksPath points, and core.fsmonitor. Given
# on git's command level (GIT_CONFIG_COUNT), they override the repository's own. Anything else in the
# learner's repository config (a filter, remote.origin.uploadpack) still runs, but as the learner and
# inside their cgroups, like all of this merge.
PULL_GIT_ENV = {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": "/dev/null",
                "GIT_CONFIG_KEY_1": "core.fsmonitor", "GIT_CONFIG_VALUE_1": "false", "GIT_TERMINAL_PROMPT": "0"}


def pull_course(name: str, cgroups: list[Path] | None = None) -> str:
    """Merges the latest chapters into the learner's copy (nbgitpuller: their edits are kept), as the
    learner, inside their cgroups, with their git hooks off."""
    target = Path(pwd.getpwnam(name).pw_dir) / CONTENT_DIR
    r = run_as_learner(name, cgroups or [], [f"{PREFIX}/venv/bin/gitpuller", f"file://{CONTENT_REPO}", "main",
                                             str(target)],
                       env={**PULL_GIT_ENV, "GIT_CONFIG_GLOBAL": str(pull_gitconfig())}, timeout=60)
    return (r.stdout + r.stderr).strip()


# ---- network: one loopback address per learner --------------------------------------------------------
# A learner's server and kernels listen on the learner's own loopback address (127.64.0.0 + uid). An
# nftables rule on the sending socket's owner lets only that learner (and root: the hub, its proxy)
# send to it, and only that learner send from it (another learner's listener squatting a free port
# there cannot answer). Kernel ports, IOPub included, are then closed to other learners; a learner's
# own processes reach their own kernels as before. Chosen over IPC transport (evcxr_jupyter 0.22 is
# built without zeromq's IPC transport) and per-learner network namespaces (the proxy would need a
# veth pair per learner): one table, one set, two rules.
NET = "127.64.0.0/10"
NFT_TABLE = "course_hub"
NFT_RULES = f"""table inet {NFT_TABLE} {{
  set own {{ type ipv4_addr . uid; }}
  chain output {{
    type filter hook output priority 0; policy accept;
    ip daddr {NET} meta skuid != 0 ip daddr . meta skuid != @own reject
    ip saddr {NET} meta skuid != 0 ip saddr . meta skuid != @own drop
  }}
}}
"""


def learner_address(name: str) -> str:
    """The learner's own loopback address (uids up to 4 million fit in 127.64.0.0/10)."""
    import ipaddress
    uid = pwd.getpwnam(name).pw_uid
    if uid >= 1 << 22:
        raise ValueError(f"uid {uid} of {name} is beyond 127.64.0.0/10's 4194304 addresses")
    return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address(NET.split("/")[0])) + uid))


def net_guard(name: str) -> str | None:
    """The table (made once) and the learner's address in its set; None, or why the guard is off."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if subprocess.run([nft, "list", "table", "inet", NFT_TABLE], capture_output=True).returncode != 0:
        r = subprocess.run([nft, "-f", "-"], input=NFT_RULES, capture_output=True, text=True)
        if r.returncode != 0:
            return f"nftables: {r.stderr.strip() or 'nft missing'}"
    try:
        address = learner_address(name)
    except ValueError as e:
        return str(e)
    element = f"{{ {address} . {pwd.getpwnam(name).pw_uid} }}"
    r = subprocess.run([nft, "add", "element", "inet", NFT_TABLE, "own", element], capture_output=True, text=True)
    if r.returncode != 0:
        return f"nftables: {r.stderr.strip()}"
    # Listed on lo (all of 127/8 answers anyway), so that jupyter_client accepts it as a kernel address.
    r = subprocess.run([shutil.which("ip") or "/usr/sbin/ip", "address", "replace", f"{address}/32", "dev", "lo"],
                       capture_output=True, text=True)
    return f"ip address: {r.stderr.strip()}" if r.returncode != 0 else None


# ---- a private /tmp and /dev/shm per server ---------------------------------------------------------------
CLONE_NEWNS, CLONE_NEWIPC = 0x20000, 0x8000000  # <sched.h>, <sys/mount.h>
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 0x4000, 1 << 18


def private_tmp_fn(tmp_mb: int = TMP_MB, shm_mb: int = SHM_MB):
    """A child process's step (as root, before it becomes the learner): a mount namespace of its own with a
    fresh, size-bounded tmpfs on /tmp (bound on /var/tmp too) and /dev/shm, and an IPC namespace of its own
    (System V shared memory, semaphores). Other learners' servers see their own; the files go when the
    namespaces' last process ends (the server stops: its cgroups are emptied), and their pages are charged
    to the learner's memory cgroup."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def check(rc: int, what: str) -> None:
        if rc != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"{what}: {os.strerror(e)}")

    def enter():
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(CLONE_NEWNS | CLONE_NEWIPC)")
        check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        for target, mb in ((b"/tmp", tmp_mb), (b"/dev/shm", shm_mb)):
            check(libc.mount(b"tmpfs", target, b"tmpfs", MS_NOSUID | MS_NODEV, f"size={mb}m,mode=1777".encode()),
                  f"mount tmpfs on {target.decode()}")
        check(libc.mount(b"/tmp", b"/var/tmp", None, MS_BIND, None), "mount --bind /tmp /var/tmp")

    return enter


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
        # cpuacct only counts (a learner's CPU-seconds, for the load test); it bounds nothing.
        return [CGROUP_ROOT / c / CGROUP_NAME / name for c in ("memory", "pids", "cpu", "cpuacct")
                if (CGROUP_ROOT / c).is_dir()]
    return []


def cpu_seconds(name: str) -> float | None:
    """CPU-seconds used so far by every process of the learner's cgroups (None without an accounting
    controller): cpuacct.usage on cgroup v1, cpu.stat's usage_usec on v2."""
    for d in cgroup_dirs(name):
        try:
            if (d / "cpuacct.usage").exists():
                return int((d / "cpuacct.usage").read_text()) / 1e9
            if (d / "cpu.stat").exists() and cgroup_version() == 2:
                stat = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines())
                return int(stat["usage_usec"]) / 1e6
        except (OSError, KeyError, ValueError):
            continue
    return None


def make_cgroup(name: str, mem_mb: int = MEM_MB, pids: int = PIDS, cpus: float = CPUS) -> list[Path]:
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
            (d / "cpu.max").write_text(f"{int(cpus * 100000)} 100000")
        elif d.parts[-3] == "cpu":
            (d / "cpu.cfs_period_us").write_text("100000")
            (d / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
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
    from traitlets import Float, Integer

    class CourseSpawner(LocalProcessSpawner):
        """Local process spawner: the learner's own user, inside the learner's own cgroups."""

        mem_limit_mb = Integer(MEM_MB, config=True, help="Memory bound of all of a learner's processes (MiB).")
        pids_limit = Integer(PIDS, config=True, help="Bound on a learner's processes and threads.")
        cpus = Float(CPUS, config=True, help="Cores a learner's processes may use at most (a CFS quota).")
        tmp_mb = Integer(TMP_MB, config=True, help="Size of a learner's private /tmp (MiB, counted as memory).")
        shm_mb = Integer(SHM_MB, config=True, help="Size of a learner's private /dev/shm (MiB, counted as memory).")

        def make_preexec_fn(self, name):
            drop_root = super().make_preexec_fn(name)
            enter = enter_cgroup_fn(self._cgroups)
            private_tmp = private_tmp_fn(self.tmp_mb, self.shm_mb)

            def preexec():
                enter()  # still root here: a learner cannot write these files
                private_tmp()
                drop_root()

            return preexec

        def get_args(self):
            # The learner's kernels on the learner's own address too (the server's comes from self.ip).
            return [*super().get_args(), f"--KernelManager.ip={self.ip}"]

        async def start(self):
            name = self.user.name
            if cgroup_version() is None and os.environ.get("COURSE_HUB_NO_LIMITS") != "1":
                raise RuntimeError("no cgroups on this machine: learners would be unbounded "
                                   "(set COURSE_HUB_NO_LIMITS=1 to accept that)")
            phases: list[tuple[str, float]] = []
            t = time.monotonic()

            def phase(label: str) -> None:
                nonlocal t
                now = time.monotonic()
                phases.append((label, now - t))
                t = now

            await asyncio.to_thread(kill_cgroup, name)  # whatever an earlier server left behind
            self._cgroups = make_cgroup(name, self.mem_limit_mb, self.pids_limit, self.cpus)
            phase("cgroups")
            unbounded = await asyncio.to_thread(mount_home, name)
            if unbounded:
                self.log.warning(unbounded)
            phase("home mount")
            # Both steps as the learner, inside their cgroups: nothing root does touches their home.
            said = await asyncio.to_thread(prepare_home, name, self._cgroups)
            if said:
                self.log.warning("home of %s: %s", name, said)
            phase("home settings")
            said = await asyncio.to_thread(pull_course, name, self._cgroups)
            self.log.info("course content for %s: %s", name, said.splitlines()[-1] if said else "up to date")
            phase("chapters merged")
            off = await asyncio.to_thread(net_guard, name)
            if off and os.environ.get("COURSE_HUB_NO_NET_GUARD") != "1":
                raise RuntimeError(f"{off}: other learners could reach this learner's kernels "
                                   "(set COURSE_HUB_NO_NET_GUARD=1 to accept that)")
            self.ip = "127.0.0.1" if off else learner_address(name)
            self.environment.update(learner_env(name))
            phase("network rule")
            started = await super().start()
            phase("server process")
            # One line per start, read by the load test (tests/hub_load.py) for its breakdown.
            self.log.info("start phases of %s: %s", name, ", ".join(f"{k} {v:.2f} s" for k, v in phases))
            return started

        async def stop(self, now=False):
            await super().stop(now=now)
            killed = await asyncio.to_thread(kill_cgroup, self.user.name)
            if killed:
                self.log.info("killed %d processes left in %s's cgroups", killed, self.user.name)

    from jupyterhub.auth import PAMAuthenticator

    class CourseAuthenticator(PAMAuthenticator):
        """PAM logins where wrong passwords slow their sender only.

        PAM makes each wrong password wait 3 s (pam_faildelay) in one of 4 threads: 16 loops of wrong
        passwords queued every login behind them (a correct one took 26.6 s). Here, per learner name,
        one PAM check runs at a time (more at once are refused at once); per client address, at most
        `per_address` at once; after 3 wrong passwords in a row for a name from an address, that pair is
        refused without asking PAM for 2, 4, ... up to 60 s. A correct password resets its pair."""

        per_address = Integer(2, config=True, help="PAM checks at once from one client address.")

        def __init__(self, **kw):
            super().__init__(**kw)
            self._busy_names: set[str] = set()
            self._busy_addresses: dict[str, int] = {}
            self._failures: dict[tuple[str, str], tuple[int, float]] = {}  # (name, address) -> (count, until)

        async def authenticate(self, handler, data):
            name, address = str(data.get("username", "")), handler.request.remote_ip
            count, until = self._failures.get((name, address), (0, 0.0))
            if (time.monotonic() < until or name in self._busy_names
                    or self._busy_addresses.get(address, 0) >= self.per_address):
                self.log.warning("login for %r from %s refused without a check (throttled)", name, address)
                return None
            self._busy_names.add(name)
            self._busy_addresses[address] = self._busy_addresses.get(address, 0) + 1
            try:
                result = await super().authenticate(handler, data)
            finally:
                self._busy_names.discard(name)
                self._busy_addresses[address] -= 1
                if not self._busy_addresses[address]:
                    del self._busy_addresses[address]
            if len(self._failures) > 10000:  # a spray of names or addresses: forget the expired pairs
                now = time.monotonic()
                self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
            if result is None:
                count += 1
                wait = min(2.0 ** (count - 2), 60.0) if count >= 3 else 0.0
                self._failures[(name, address)] = (count, time.monotonic() + wait)
            else:
                self._failures.pop((name, address), None)
            return result

except ImportError:  # pragma: no cover
    pass
