"""A warm kernel waits when a chapter opens or restarts (issue 28).

Two pieces, both small:

- `WarmProvisioner`, a jupyter_client kernel provisioner (a `LocalProvisioner` that can hand over a kernel
  instead of launching one). A kernel spec selects it with `metadata.kernel_provisioner.provisioner_name =
  "course-warm-provisioner"`; its `config` names the warm-up lines and the pool size.
- `Pool`, started by this package's Jupyter Server extension (`_load_jupyter_server_extension`): for every
  kernel spec that selects the provisioner, it keeps `pool_size` kernels started in the server's root folder
  (or COURSE_WARM_KERNEL_DIR, where the chapters are) with the environment the server gives its kernels, and warmed: evcxr runs the spec's `warm_up` lines from
  its start-up configuration (`init.evcxr` of a private `EVCXR_CONFIG_DIR` holding the course's own
  configuration plus those lines), before the kernel answers its first message. So the warm-up leaves no
  execution count, no output and no variable behind (the lines are a `:dep` and a block whose `let` dies
  with the block), and a kernel is ready exactly when it answers `kernel_info`.

When a notebook asks the server for a kernel (opening it, or a restart), the provisioner takes a waiting
kernel whose folder and environment match the request (never the same one twice: taking and claiming are
synchronous on the server's event loop), returns its connection information to the KernelManager, and the
pool starts a refill in the background. With no kernel waiting, a request claims a kernel that is still
warming and waits for it: it is further along than a cold start would be, and a cold start beside it would
pay for the same work twice (on the classroom server, where a room's learners arrive at once, that doubled
every learner's CPU). A pool with nothing waiting or warming, or a request that does not match, is an
ordinary cold start.

Refills start at once (COURSE_WARM_REFILL=now, the default: a learner's second restart finds a warm kernel), or
on a shared machine only later and once it is quiet (COURSE_WARM_REFILL=quiet, the classroom server: at least
COURSE_WARM_REFILL_DELAY seconds after it was decided, default 300, and then once the 1-minute load average is
below the number of cores, at most QUIET_WAIT_MAX seconds more): a refill is work for a learner's *next*
chapter or restart, and while a room arrives it would slow every learner's first one (a room of 20 pre-started
learners arriving within two minutes: first chart p95 20.0 s with refills started on the load average alone,
which stays low while pre-started learners arrive). A request claims a delayed refill like any other, which
then starts at once. The first kernel of a server starts at once under either policy.
Without the server extension (nbclient, `jupyter execute`, plain jupyter_client) there is no pool and the
provisioner is exactly a `LocalProvisioner`.

Bounds: the pool size (spec config `pool_size`, default 1; the environment variable COURSE_WARM_KERNELS
overrides it; 0 turns the pool off). A waiting kernel belongs to no KernelManager, so Jupyter's culling
never sees it. It dies with its server: it is started under `setpriv --pdeathsig KILL` (SIGKILL when the
server process ends, however it ends: stopped, killed -9, crashed), and a normal exit also shuts the pool down
(atexit). Every event is appended, one JSON object per line, to the record file (COURSE_WARM_KERNEL_RECORD,
else `course-warm-kernels-<server pid>.jsonl` in Jupyter's runtime folder): that record is how the tests
prove that a session got a warmed kernel.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.connect import write_connection_file
from jupyter_client.launcher import launch_kernel
from jupyter_client.provisioning import LocalProvisioner
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from traitlets import Integer, List, Unicode

NAME = "course-warm-provisioner"
# Environment variables a server sets per notebook (jupyter_server's SessionManager.get_kernel_env): they
# never decide whether a waiting kernel fits a request.
PER_NOTEBOOK_ENV = ("JPY_SESSION_NAME",)


def env_key(env: dict) -> dict:
    """The part of a kernel's environment that decides whether a waiting kernel fits a request."""
    return {k: v for k, v in env.items() if k not in PER_NOTEBOOK_ENV}
READY_TIMEOUT = 300.0  # seconds a pool kernel may take to start and warm up
MAX_FAILURES = 3  # consecutive failed warm-ups after which a spec's pool stops refilling
QUIET_WAIT_MAX = 600.0  # seconds a "quiet" refill waits for the machine's load to drop after its delay, at most
QUIET_POLL = 5.0


def _refill_policy() -> str:
    """COURSE_WARM_REFILL: "quiet" (wait for a quiet machine) or anything else: "now"."""
    return "quiet" if os.environ.get("COURSE_WARM_REFILL", "now").strip().lower() == "quiet" else "now"


def _refill_delay() -> float:
    """COURSE_WARM_REFILL_DELAY: seconds a "quiet" refill waits before it looks at the load (0..3600, default 300)."""
    try:
        return max(0.0, min(3600.0, float(os.environ.get("COURSE_WARM_REFILL_DELAY", "300"))))
    except ValueError:
        return 300.0


def machine_is_quiet() -> bool:
    """The 1-minute load average is below the number of cores (so a refill takes no one's CPU)."""
    try:
        return os.getloadavg()[0] < (os.cpu_count() or 1)
    except OSError:
        return True


def _pool_size(config: dict) -> int:
    """COURSE_WARM_KERNELS when set, else the spec's `pool_size`, else 1; bounded to 0..8."""
    raw = os.environ.get("COURSE_WARM_KERNELS", config.get("pool_size", 1))
    try:
        return max(0, min(8, int(raw)))
    except (TypeError, ValueError):
        return 1


def die_with_parent() -> list[str]:
    """A command prefix under which the command gets SIGKILL when the process that started it ends, for
    any reason (Linux PR_SET_PDEATHSIG, set by util-linux's `setpriv`, which then execs the command: the
    kernel keeps its pid and its parent); [] where that does not exist. Not a `preexec_fn`: Python code
    between fork and exec can deadlock in a threaded server and would block its event loop."""
    # PR_SET_PDEATHSIG fires when the *thread* that forked ends: only a child of the main thread (the
    # server's event loop) is tied to the life of the process.
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


async def answers_kernel_info(info: dict, process, timeout: float, stop=lambda: False) -> tuple[bool, str]:
    """Waits until the kernel at `info` answers ONE kernel_info_request (True, ""), or dies, or `timeout`
    passes (False, why). One request only, on purpose: evcxr_jupyter 0.22.0 ends when it answers a request
    whose socket has closed meanwhile (a reply on the control channel to a vanished peer fails with "Broken
    pipe" and ends its control loop, so the kernel), and jupyter_server's nudge leaves exactly that behind
    when it meets a kernel still starting: a request every 0.5 s on transient shell and control sockets,
    closed at the first reply."""
    from jupyter_client.asynchronous import AsyncKernelClient

    kc = AsyncKernelClient()
    kc.load_connection_info(info)
    kc.start_channels(iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = kc.kernel_info()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stop():
            if process.poll() is not None:
                return False, f"exited with {process.returncode} while starting"
            try:
                reply = await kc.get_shell_msg(timeout=0.2)
            except Exception:  # queue.Empty: not answering yet
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return True, ""
        return False, "server stopping" if stop() else f"no answer within {timeout:.0f} s"
    finally:
        kc.stop_channels()


@dataclass
class WarmKernel:
    """A kernel of the pool: started, and warmed once `ready` is set."""

    spec_name: str
    process: Any  # subprocess.Popen
    info: dict  # connection information (key as bytes, as KernelManager keeps it)
    connection_file: str
    cmd: list
    cwd: str
    env_key: dict
    started: float = field(default_factory=time.monotonic)
    ready: bool = False


class Slot:
    """A kernel of the pool from the moment its refill is decided (before it is launched) until it is
    waiting: a request may claim it (synchronously, so once) and await it."""

    def __init__(self, spec_name: str, quiet: bool = False) -> None:
        self.spec_name = spec_name
        self.quiet = quiet  # wait for a quiet machine before launching (unless claimed)
        self.kernel: WarmKernel | None = None  # once launched
        self.claimed = False
        self.done = asyncio.Event()  # set when warmed (kernel.ready) or failed (kernel None or not ready)


class Pool:
    """Waiting, warmed kernels per kernel spec (one Pool per Jupyter server process)."""

    current: Pool | None = None  # the running server's pool (set by the server extension)

    def __init__(self, kernel_spec_manager, root_dir: str, runtime_dir: str, log, ip: str = "127.0.0.1") -> None:
        self.ksm = kernel_spec_manager
        # The address the server's kernels listen on (KernelManager.ip: a learner's own loopback address
        # on the classroom server, whose firewall rule closes it to other learners): the pool's too.
        self.ip = ip
        self.root_dir = str(Path(root_dir).resolve())
        self.runtime_dir = runtime_dir
        self.log = log
        self.record_path = os.environ.get("COURSE_WARM_KERNEL_RECORD") or os.path.join(
            runtime_dir, f"course-warm-kernels-{os.getpid()}.jsonl")
        self.waiting: dict[str, list[WarmKernel]] = {}
        self.starting: dict[str, list[Slot]] = {}
        self.refill_policy = _refill_policy()
        self.refill_delay = _refill_delay()
        self.sizes: dict[str, int] = {}
        self.warm_up: dict[str, list[str]] = {}
        self.failures: dict[str, int] = {}
        self.config_dirs: list[str] = []
        self.tasks: set = set()
        self.stopped = False

    # -- the record ------------------------------------------------------------------------------
    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"t": round(time.time(), 3), "event": event, **fields})
        try:
            with open(self.record_path, "a") as f:
                f.write(line + "\n")
        except OSError as e:
            self.log.warning("[warm kernels] cannot write the record %s: %s", self.record_path, e)

    # -- filling ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Finds the kernel specs that select this provisioner and fills their pools."""
        for name in sorted(self.ksm.find_kernel_specs()):
            try:
                spec = self.ksm.get_kernel_spec(name)
            except Exception:  # a broken spec is the server's business, not the pool's
                continue
            prov = (spec.metadata or {}).get("kernel_provisioner") or {}
            if prov.get("provisioner_name") != NAME:
                continue
            config = prov.get("config") or {}
            self.sizes[name] = _pool_size(config)
            self.warm_up[name] = [str(line) for line in config.get("warm_up", [])]
            self.record("pool", spec=name, size=self.sizes[name], cwd=self.root_dir, warm_up=self.warm_up[name])
            self.log.info("[warm kernels] %s: %d kernel(s) kept warm in %s", name, self.sizes[name], self.root_dir)
            self.refill(name, first=True)

    def refill(self, name: str, first: bool = False) -> None:
        """Starts the kernels missing from spec `name`'s pool; the server's first ones at once whatever the
        refill policy (a learner who just logged in opens a chapter in seconds)."""
        if self.stopped or self.failures.get(name, 0) >= MAX_FAILURES:
            return
        unclaimed = [s for s in self.starting.get(name, []) if not s.claimed]
        missing = self.sizes.get(name, 0) - len(self.waiting.get(name, [])) - len(unclaimed)
        for _ in range(max(0, missing)):
            slot = Slot(name, quiet=not first and self.refill_policy == "quiet")  # counted at once: two refills decided in a row never both start a kernel
            self.starting.setdefault(name, []).append(slot)
            task = asyncio.ensure_future(self._warm_one(slot))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _quiet(self, slot: Slot) -> None:
        """With the "quiet" policy, waits refill_delay seconds and then for a quiet machine (at most QUIET_WAIT_MAX
        s more), or for a claim: a request waiting for this kernel needs it now."""
        if not slot.quiet:
            return
        t0 = time.monotonic()
        while (not slot.claimed and not self.stopped and time.monotonic() - t0 < self.refill_delay + QUIET_WAIT_MAX
               and (time.monotonic() - t0 < self.refill_delay or not machine_is_quiet())):
            await asyncio.sleep(QUIET_POLL)
        if time.monotonic() - t0 >= QUIET_POLL:
            self.record("quiet", spec=slot.spec_name, waited=round(time.monotonic() - t0, 1), claimed=slot.claimed)

    def _config_dir(self, name: str, spec_env: dict) -> str:
        """A private EVCXR_CONFIG_DIR: the spec's own init.evcxr and prelude.rs, then the warm-up lines."""
        own = spec_env.get("EVCXR_CONFIG_DIR")
        folder = tempfile.mkdtemp(prefix=f"course-warm-{name}-", dir=self.runtime_dir)
        self.config_dirs.append(folder)
        init = ""
        if own and os.path.isfile(os.path.join(own, "init.evcxr")):
            init = Path(own, "init.evcxr").read_text()
        if own and os.path.isfile(os.path.join(own, "prelude.rs")):
            shutil.copy(os.path.join(own, "prelude.rs"), folder)
        lines = self.warm_up[name]
        Path(folder, "init.evcxr").write_text(init.rstrip("\n") + ("\n" if init else "") + "".join(f"{x}\n" for x in lines))
        return folder

    async def _warm_one(self, slot: Slot) -> None:
        try:
            await self._quiet(slot)
            if not self.stopped:
                await self._launch_and_warm(slot)
        finally:
            if slot in self.starting.get(slot.spec_name, []):
                self.starting[slot.spec_name].remove(slot)
            slot.done.set()

    async def _launch_and_warm(self, slot: Slot) -> None:
        name = slot.spec_name
        spec = self.ksm.get_kernel_spec(name)
        # The environment a server's kernel gets: the server's own, with the spec's `env` applied
        # (KernelProvisionerBase.pre_launch does that substitution; ask it, with no KernelManager).
        probe = WarmProvisioner(kernel_id="pool", kernel_spec=spec, parent=None)
        env = (await KernelProvisionerBase.pre_launch(probe, env=dict(os.environ)))["env"]
        key = env_key(env)
        env = dict(env, EVCXR_CONFIG_DIR=self._config_dir(name, spec.env or {}))
        fname = os.path.join(self.runtime_dir, f"course-warm-{uuid.uuid4()}.json")
        fname, _ = write_connection_file(fname, ip=self.ip, key=str(uuid.uuid4()).encode(), transport="tcp",
                                         signature_scheme="hmac-sha256", kernel_name=name)
        with open(fname) as f:
            info = json.load(f)
        info["key"] = info["key"].encode()
        cmd = [arg.replace("{connection_file}", fname).replace("{resource_dir}", spec.resource_dir) for arg in spec.argv]
        try:
            process = launch_kernel(die_with_parent() + cmd, env=env, cwd=self.root_dir)
        except Exception as e:
            self.failures[name] = self.failures.get(name, 0) + 1
            self.record("failed", spec=name, reason=f"launch: {e}")
            os.unlink(fname)
            return
        kernel = WarmKernel(name, process, info, fname, cmd, self.root_dir, key)
        slot.kernel = kernel
        self.record("started", spec=name, pid=process.pid, cwd=self.root_dir)
        ok, reason = await self._wait_ready(kernel)
        if not ok or self.stopped:
            self.failures[name] = self.failures.get(name, 0) + (0 if self.stopped else 1)
            self.record("failed", spec=name, pid=process.pid, reason=reason if not ok else "server stopping")
            self.log.warning("[warm kernels] %s: a warm-up failed (%s); the next chapter starts cold", name, reason)
            self.discard(kernel)
            return
        self.failures[name] = 0
        kernel.ready = True
        if not slot.claimed:  # a claimed kernel goes to the request waiting for it, not to the waiting list
            self.waiting.setdefault(name, []).append(kernel)
        seconds = time.monotonic() - kernel.started
        self.record("ready", spec=name, pid=process.pid, seconds=round(seconds, 2), claimed=slot.claimed)
        self.log.info("[warm kernels] %s: kernel %d warmed in %.1fs, waiting", name, process.pid, seconds)

    async def _wait_ready(self, kernel: WarmKernel) -> tuple[bool, str]:
        """True once the kernel answers kernel_info (evcxr answers only after its start-up configuration,
        so after the warm-up lines); False with a reason when it dies or times out first."""
        return await answers_kernel_info(kernel.info, kernel.process, READY_TIMEOUT, lambda: self.stopped)

    # -- handing over ----------------------------------------------------------------------------
    def take(self, name: str, cwd: str | None, env: dict) -> WarmKernel | None:
        """A waiting kernel for spec `name` started in `cwd` with `env` (per-notebook variables aside), or
        None. Synchronous: two requests can never get the same kernel."""
        if self.stopped or cwd is None:
            return None
        want_env = env_key(env)
        for kernel in list(self.waiting.get(name, [])):
            if kernel.process.poll() is not None:  # died while waiting
                self.waiting[name].remove(kernel)
                self.record("died", spec=name, pid=kernel.process.pid, code=kernel.process.returncode)
                self.discard(kernel)
                continue
            if str(Path(cwd).resolve()) == kernel.cwd and want_env == kernel.env_key:
                self.waiting[name].remove(kernel)
                return kernel
        return None

    def claim(self, name: str, cwd: str | None) -> Slot | None:
        """An unclaimed kernel of spec `name` still warming in `cwd`, now claimed (synchronous: once), or None.
        Its environment is compared when it is ready (`await_claimed`)."""
        if self.stopped or cwd is None or str(Path(cwd).resolve()) != self.root_dir:
            return None
        for slot in self.starting.get(name, []):
            if not slot.claimed:
                slot.claimed = True
                self.record("claimed", spec=name, pid=slot.kernel.process.pid if slot.kernel else None)
                return slot
        return None

    async def await_claimed(self, slot: Slot, env: dict) -> WarmKernel | None:
        """The claimed kernel once warmed, if its environment fits `env`; None when its warm-up failed (or it
        does not fit: it then waits for the next request, as any warmed kernel)."""
        await slot.done.wait()
        kernel = slot.kernel
        if kernel is None or not kernel.ready or self.stopped or kernel.process.poll() is not None:
            return None
        if env_key(env) != kernel.env_key:
            self.waiting.setdefault(slot.spec_name, []).append(kernel)
            return None
        return kernel

    def handed_over(self, kernel: WarmKernel, kernel_id: str | None) -> None:
        self.record("handed", spec=kernel.spec_name, pid=kernel.process.pid, kernel_id=kernel_id,
                    waited=round(time.monotonic() - kernel.started, 2))
        self.log.info("[warm kernels] %s: warmed kernel %d handed to %s", kernel.spec_name, kernel.process.pid, kernel_id)
        try:
            os.unlink(kernel.connection_file)  # the KernelManager writes its own file with the same information
        except OSError:
            pass
        self.refill(kernel.spec_name)

    def missed(self, name: str, kernel_id: str | None, why: str) -> None:
        self.record("cold", spec=name, kernel_id=kernel_id, reason=why)
        self.refill(name)

    # -- stopping --------------------------------------------------------------------------------
    @staticmethod
    def discard(kernel: WarmKernel) -> None:
        """Ends a pool kernel and everything it started (its own process group)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(kernel.process.pid, sig)
            except OSError:
                pass
            try:
                kernel.process.wait(timeout=2)
                break
            except Exception:
                continue
        try:
            os.unlink(kernel.connection_file)
        except OSError:
            pass

    def stop(self) -> None:
        """Ends every waiting or warming kernel (called at the server's exit)."""
        self.stopped = True
        for kernels in self.waiting.values():
            for kernel in list(kernels):
                self.record("stopped", spec=kernel.spec_name, pid=kernel.process.pid)
                self.discard(kernel)
            kernels.clear()
        for slots in self.starting.values():
            for slot in list(slots):
                if slot.kernel is not None:
                    self.record("stopped", spec=slot.spec_name, pid=slot.kernel.process.pid)
                    self.discard(slot.kernel)
            slots.clear()
        for folder in self.config_dirs:
            shutil.rmtree(folder, ignore_errors=True)


class WarmProvisioner(LocalProvisioner):  # type: ignore[misc]
    """A LocalProvisioner that hands over a warmed kernel from the server's pool when one fits."""

    # The spec's `config` (read by the Pool; declared so that jupyter_client can pass them to the provisioner).
    pool_size = Integer(1, help="kernels kept warm (COURSE_WARM_KERNELS overrides; 0: none)").tag(config=True)
    warm_up = List(Unicode(), help="lines a waiting kernel runs at its start").tag(config=True)

    _warm: WarmKernel | None = None
    handed_pid: int | None = None  # the pool kernel this provisioner runs now, if any

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        pool, km = Pool.current, self.parent
        self._warm = None
        name = getattr(km, "kernel_name", None)
        if pool is None or km is None or name not in pool.sizes:
            return await super().pre_launch(**kwargs)
        why = ""
        if km.transport != "tcp" or (km.ip if km.ip != "localhost" else "127.0.0.1") != pool.ip:
            why = f"transport {km.transport}://{km.ip}"
        elif kwargs.get("transport_encryption", "disabled") != "disabled" or km._transport_encryption_policy() != "disabled":
            why = "transport encryption"
        elif kwargs.get("extra_arguments"):
            why = "extra kernel arguments"
        warm = None
        if not why:
            wanted = await KernelProvisionerBase.pre_launch(self, **dict(kwargs))
            warm = pool.take(name, kwargs.get("cwd"), wanted["env"])
            if warm is None:
                slot = pool.claim(name, kwargs.get("cwd"))
                if slot is not None:
                    warm = await pool.await_claimed(slot, wanted["env"])
            why = "" if warm else "no waiting or warming kernel fits (pool empty, another folder or environment)"
        if warm is None:
            pool.missed(name, self.kernel_id, why)
            if self.handed_pid is not None:
                # A cold start after a warm kernel (a restart): the connection file on disk still names the
                # warm kernel's ports, and KernelManager.write_connection_file would keep it (it writes once).
                # The new kernel must read the ports LocalProvisioner picks now, not race the rewrite.
                km.cleanup_connection_file()
            return await super().pre_launch(**kwargs)
        if self.ports_cached:  # a cold kernel ran before (a restart): its ports go back to the cache
            await super().cleanup(restart=False)
            self.ports_cached = False
        self._warm = warm
        self.connection_info = dict(warm.info)
        wanted.pop("transport_encryption", None)
        wanted.pop("extra_arguments", None)
        wanted["cmd"] = warm.cmd
        return wanted

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        warm, self._warm = self._warm, None
        if warm is None:
            self.handed_pid = None
            if Pool.current is not None:  # inside a server with a pool: a cold kernel dies with it too
                cmd = die_with_parent() + list(cmd)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = warm.process
        self.pid = warm.process.pid
        self.pgid = os.getpgid(self.pid) if hasattr(os, "getpgid") else None
        self.cwd = warm.cwd
        self.handed_pid = self.pid
        # A new kernel starts as "starting" for the server. jupyter_server 2.21.1 keeps the old kernel's state
        # across a restart (its restart writes `self.execution_state = "starting"` on the MappingKernelManager,
        # services/kernels/kernelmanager.py:517, not on the kernel): restarted during Run All, the kernel stayed
        # "busy", the server then skipped its nudge of the notebook's new websocket (it does not nudge a busy
        # kernel), the kernel's answer to JupyterLab's kernel_info could go out before that websocket's IOPub
        # subscription was in place, and the notebook stayed "unknown" (chapter 4, 1 of 20 restarts).
        if getattr(self.parent, "execution_state", None) is not None:
            self.parent.execution_state = "starting"
        if Pool.current is not None:
            Pool.current.handed_over(warm, self.kernel_id)
        return self.connection_info

    async def post_launch(self, **kwargs: Any) -> None:
        """Inside a server, a cold kernel is returned only once it answers: the server (a restart's REST
        call, the websocket's nudge) then meets a ready kernel, which is what keeps evcxr alive (see
        `answers_kernel_info`). A handed-over kernel answers already."""
        await super().post_launch(**kwargs)
        if Pool.current is not None and self.handed_pid is None and self.process is not None:
            ok, why = await answers_kernel_info(self.connection_info, self.process, READY_TIMEOUT)
            if not ok:
                self.log.warning("[warm kernels] kernel %s: %s", self.kernel_id, why)

    async def get_provisioner_info(self) -> dict:
        info = await super().get_provisioner_info()
        info["warm_pid"] = self.handed_pid
        return info


# -- the Jupyter Server extension ----------------------------------------------------------------

def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "course_warm_kernel"}]


KERNEL_INFO = ("kernel_info_request", "kernel_info_reply")


def lab_counts_kernel_info(settings: dict) -> bool:
    """Takes kernel_info out of the `untracked_message_types` of JupyterLab's page configuration (in the server's
    `settings["page_config_data"]`); True if it was there. The server's own activity tracking is not changed.

    JupyterLab (services/kernel/default.ts) sets a kernel's status to "unknown" when its websocket reconnects
    after a restart, sends kernel_info "to get kernel status back", and then ignores every status message whose
    parent's type the page lists as untracked; jupyterlab_server copies that list from the server's kernel
    manager, where jupyter_server 2.x has kernel_info by default. A warmed kernel handed over on a restart (on
    new ports, already started) sends no other status: the notebook stayed "unknown" and Run All waited for
    good (JupyterLab in Chromium: 3 of 3 restarts once the pool had refilled; a cold restart, on the kernel's
    old ports, came back). With kernel_info counted by the page, the kernel's own answer to that request brings
    the status back.

    Only the page: taking kernel_info out of the kernel manager's list instead (tried first) also made the
    server skip its nudge of a new websocket whenever the kernel was answering its own kernel_info just then
    (it does not nudge a "busy" kernel), and the new connection's first answers could then be lost before its
    IOPub subscription was in place (2 connections that never answered in 5 test runs)."""
    page = settings.get("page_config_data") or {}
    types = page.get("untracked_message_types")
    if not isinstance(types, list) or not any(t in KERNEL_INFO for t in types):
        return False
    page["untracked_message_types"] = [t for t in types if t not in KERNEL_INFO]
    return True


def _load_jupyter_server_extension(serverapp) -> None:
    """Creates the server's pool and starts filling it once the server's event loop runs."""
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = getattr(serverapp, "runtime_dir", None) or jupyter_runtime_dir()
    os.makedirs(runtime, exist_ok=True)
    # The folder the chapters open in: the server's root folder (make lab serves notebooks/), or
    # COURSE_WARM_KERNEL_DIR where they live below it (a learner's ~/rust-alloc-course/notebooks on the hub).
    root = serverapp.root_dir or os.getcwd()
    chapters = os.environ.get("COURSE_WARM_KERNEL_DIR")
    if chapters and os.path.isdir(chapters):
        root = chapters
    # KernelManager.ip as the server was configured (`--KernelManager.ip=...` on the classroom server).
    km_config = serverapp.config.get("KernelManager", {})
    ip = str(km_config["ip"]) if "ip" in km_config else "127.0.0.1"
    pool = Pool(serverapp.kernel_spec_manager, root, runtime, serverapp.log, ip="127.0.0.1" if ip == "localhost" else ip)
    Pool.current = pool
    atexit.register(pool.stop)
    from tornado.ioloop import IOLoop

    def start() -> None:
        # Once the loop runs, every extension is loaded: jupyterlab's has written the page's configuration.
        if lab_counts_kernel_info(serverapp.web_app.settings):
            serverapp.log.info("[warm kernels] JupyterLab's page counts kernel_info statuses (a restart comes back)")
        pool.start()

    (getattr(serverapp, "io_loop", None) or IOLoop.current()).add_callback(start)


load_jupyter_server_extension = _load_jupyter_server_extension
