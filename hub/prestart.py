"""`make hub-warm`: the room pre-started before the session (run as root, with the hub running).

Every learner on the class list gets their server started and their warmed kernel (tools/warm-kernel)
waiting, inside their own cgroups, so that logging in and opening a chapter finds both running. The first
learner is started alone and measured (their cgroup's memory once their kernel is warm and idle); the
room is refused, with one line, when that footprint times the class (plus a margin) does not fit in the
memory the machine has available; otherwise the others start, as many at a time as the machine has cores.

A server counts as waiting when the hub says it is ready, an `evcxr_jupyter` runs in the learner's cgroup,
and the cgroup has used less than IDLE_CPU CPU-seconds over IDLE_WINDOW seconds (the kernel finished
warming). Everything is read from root's side (the hub's API, the cgroup files, /proc): nothing in a
learner's home is opened.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import course_hub

MARGIN = 1.25  # memory kept free beyond the learners' measured footprints (their first cells grow them)
IDLE_WINDOW = 3.0  # seconds
IDLE_CPU = 0.15  # CPU-seconds used over IDLE_WINDOW that still count as idle
READY_TIMEOUT = 600.0  # seconds one learner's server and kernel may take (many start at once)


class PrestartError(RuntimeError):
    pass


def api(base: str, token: str, method: str, path: str) -> tuple[int, dict]:
    """One call to the hub's REST API with the course's service token; (status, JSON body or {})."""
    req = urllib.request.Request(f"{base}/hub/api{path}", method=method,
                                 headers={"Authorization": f"token {token}"})
    # The hub's own address on this machine: a self-signed certificate is expected, not verified.
    ctx = ssl._create_unverified_context() if base.startswith("https") else None
    try:
        with urllib.request.urlopen(req, timeout=60, context=ctx) as r:
            body = r.read()
            return r.status, (json.loads(body) if body else {})
    except urllib.error.HTTPError as e:
        return e.code, {}


def mem_available() -> int:
    """Bytes the kernel says can be given to new work without swapping (MemAvailable)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise PrestartError("no MemAvailable in /proc/meminfo")


def memory_bytes(name: str) -> int | None:
    """What the learner's processes hold of their own: anonymous memory and shared memory / tmpfs pages (their
    private /tmp), from the cgroup's memory.stat. Not the page cache of files everyone reads (the toolchain,
    the shared compiled crates): the cgroup that reads such a file first is charged for it, so counting it
    would make the first learner look a few hundred MiB bigger than the next."""
    keys = {1: ("total_rss", "total_shmem"), 2: ("anon", "shmem")}.get(course_hub.cgroup_version() or 0, ())
    for d in course_hub.cgroup_dirs(name):
        try:
            stat = dict(line.split() for line in (d / "memory.stat").read_text().splitlines())
        except (OSError, ValueError):
            continue
        try:
            return sum(int(stat[k]) for k in keys) if keys else None
        except (KeyError, ValueError):
            return None
    return None


def kernel_pids(name: str) -> list[int]:
    """The evcxr_jupyter processes in the learner's cgroups (read from /proc, not from their home)."""
    pids = []
    for pid in sorted(course_hub.cgroup_pids(name)):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "evcxr_jupyter":
                pids.append(pid)
        except OSError:
            continue
    return pids


def start_one(base: str, token: str, name: str, timeout: float = READY_TIMEOUT) -> tuple[float, int | None]:
    """Starts `name`'s server (or finds it running) and waits for their warmed kernel; (seconds, bytes)."""
    t0 = time.monotonic()
    status, _ = api(base, token, "POST", f"/users/{name}/server")
    if status not in (201, 202, 400):  # 400: already running or starting
        raise PrestartError(f"{name}: the hub refused to start the server (HTTP {status})")
    deadline = t0 + timeout
    samples: list[tuple[float, float]] = []  # (time, the cgroup's CPU-seconds) since the server is ready
    while time.monotonic() < deadline:
        time.sleep(1.0)
        status, user = api(base, token, "GET", f"/users/{name}")
        server = (user.get("servers") or {}).get("") or {}
        if not server.get("ready"):
            if status == 200 and not server:
                raise PrestartError(f"{name}: the server stopped while starting (see the hub's log)")
            continue
        cpu = course_hub.cpu_seconds(name)
        now = time.monotonic()
        if cpu is None:  # no CPU accounting: a running kernel is all that can be seen
            if kernel_pids(name):
                return now - t0, memory_bytes(name)
            continue
        samples.append((now, cpu))
        before = [c for t, c in samples if now - t >= IDLE_WINDOW]
        if before and cpu - before[-1] <= IDLE_CPU and kernel_pids(name):
            return now - t0, memory_bytes(name)
    raise PrestartError(f"{name}: no warmed kernel within {timeout:.0f} s")


def fits(n: int, footprint: int, available: int) -> bool:
    """Whether n learners of `footprint` bytes each fit in `available` bytes with the margin."""
    return n * footprint * MARGIN <= available


def gib(b: float) -> str:
    return f"{b / 2**30:.1f} GiB"


def prestart(base: str, token: str, names: list[str], say: Callable[[str], None] = print,
             workers: int | None = None) -> dict[str, tuple[float, int | None]]:
    """Pre-starts every learner in `names`; {name: (seconds, bytes)}. Raises PrestartError when the room
    does not fit in memory (after measuring the first learner) or a server fails."""
    if not names:
        raise PrestartError("the class list is empty")
    t0 = time.monotonic()
    available = mem_available()
    first = names[0]
    seconds, footprint = start_one(base, token, first)
    done = {first: (seconds, footprint)}
    if footprint is None:
        say(f"[hub-warm] {first}: server and warmed kernel ready in {seconds:.1f} s (no memory accounting here: "
            f"the room's memory cannot be checked)")
        footprint = 0
    else:
        say(f"[hub-warm] {first}: server and warmed kernel ready in {seconds:.1f} s, holding {footprint / 2**20:.0f} MiB "
            f"(its cgroup's anonymous and shared memory)")
    rest = names[1:]
    if footprint and not fits(len(rest), footprint, available - footprint):
        raise PrestartError(
            f"refused: {len(names)} learners x {footprint / 2**20:.0f} MiB waiting (x{MARGIN} margin) = "
            f"{gib(len(names) * footprint * MARGIN)} > {gib(available)} available; pre-start a smaller class on "
            f"this machine (learners can still log in: their server then starts when they do). {first}'s server "
            f"is left running.")
    if rest:
        workers = workers or max(1, os.cpu_count() or 1)
        say(f"[hub-warm] {len(names)} learners x {footprint / 2**20:.0f} MiB = {gib(len(names) * footprint)} of "
            f"{gib(available)} available: starting the other {len(rest)}, {workers} at a time")
        with cf.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(start_one, base, token, n): n for n in rest}
            for f in cf.as_completed(futures):
                done[futures[f]] = f.result()
                if len(done) % 5 == 0 or len(done) == len(names):
                    say(f"[hub-warm] {len(done)}/{len(names)} waiting ({time.monotonic() - t0:.0f} s)")
    used = sum(b or 0 for _, b in done.values())
    say(f"[hub-warm] done: {len(done)} learners' servers and warmed kernels waiting after "
        f"{time.monotonic() - t0:.0f} s; they hold {gib(used)}; {gib(mem_available())} still available")
    return done
