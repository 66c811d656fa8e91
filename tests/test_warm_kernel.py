"""The warm-kernel pool's rules without a kernel (tools/warm-kernel; tests/kernel_warm.py runs real ones).

A waiting kernel is handed out once, only to a request from its own folder and environment, never when it
died while waiting; a kernel still warming is claimed once and handed over when warmed (or the request goes
cold when its warm-up fails); refills count only unclaimed kernels and wait for a quiet machine under the
"quiet" policy unless claimed; the pool size is bounded whatever COURSE_WARM_KERNELS says; a process started with the
pool's guard dies when the process that started it is killed with SIGKILL.
"""

import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path

try:
    import course_warm_kernel as warm
except ImportError:  # not installed: make setup installs it into .venv
    warm = None


@unittest.skipIf(warm is None, "course_warm_kernel is not installed: run `make setup`")
class PoolRules(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.pool = warm.Pool(None, self.tmp.name, self.tmp.name, logging.getLogger("test"))
        self.pool.sizes["rust"] = 0  # no refills: these tests only hand out
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
            p.wait()
        self.tmp.cleanup()

    def waiting(self, cwd=None, env=None):
        p = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.procs.append(p)
        conn = Path(self.tmp.name, f"k{p.pid}.json")
        conn.write_text("{}")
        k = warm.WarmKernel("rust", p, {}, str(conn), ["sleep"], str(Path(cwd or self.tmp.name).resolve()),
                            env if env is not None else {"A": "1"}, ready=True)
        self.pool.waiting.setdefault("rust", []).append(k)
        return k

    def test_a_kernel_is_handed_out_once(self):
        k = self.waiting()
        self.assertIs(self.pool.take("rust", self.tmp.name, {"A": "1", "JPY_SESSION_NAME": "x.ipynb"}), k)
        self.assertIsNone(self.pool.take("rust", self.tmp.name, {"A": "1"}))

    def test_another_folder_environment_or_spec_gets_none(self):
        k = self.waiting()
        self.assertIsNone(self.pool.take("rust", "/", {"A": "1"}))
        self.assertIsNone(self.pool.take("rust", self.tmp.name, {"A": "2"}))
        self.assertIsNone(self.pool.take("rust", self.tmp.name, {"A": "1", "B": "1"}))
        self.assertIsNone(self.pool.take("python3", self.tmp.name, {"A": "1"}))
        self.assertIsNone(self.pool.take("rust", None, {"A": "1"}))
        self.assertIs(self.pool.take("rust", self.tmp.name, {"A": "1"}), k)

    def test_a_kernel_that_died_while_waiting_is_dropped(self):
        k = self.waiting()
        k.process.kill()
        k.process.wait()
        self.assertIsNone(self.pool.take("rust", self.tmp.name, {"A": "1"}))
        self.assertEqual(self.pool.waiting["rust"], [])
        self.assertFalse(os.path.exists(k.connection_file))
        self.assertIn('"event": "died"', Path(self.pool.record_path).read_text())

    def test_stop_ends_every_waiting_kernel(self):
        ks = [self.waiting(), self.waiting()]
        self.pool.stop()
        self.assertTrue(all(k.process.poll() is not None for k in ks))
        self.assertIsNone(self.pool.take("rust", self.tmp.name, {"A": "1"}))

    def warming(self, env=None):
        """A slot of the pool whose kernel is launched (a `sleep`), not warmed yet."""
        slot = warm.Slot("rust")
        p = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.procs.append(p)
        conn = Path(self.tmp.name, f"k{p.pid}.json")
        conn.write_text("{}")
        slot.kernel = warm.WarmKernel("rust", p, {}, str(conn), ["sleep"], str(Path(self.tmp.name).resolve()),
                                      env if env is not None else {"A": "1"})
        self.pool.starting.setdefault("rust", []).append(slot)
        return slot

    def test_a_warming_kernel_is_claimed_once_and_handed_when_warm(self):
        async def go():
            slot = self.warming()
            self.assertIsNone(self.pool.claim("rust", "/"))  # another folder
            self.assertIs(self.pool.claim("rust", self.tmp.name), slot)
            self.assertIsNone(self.pool.claim("rust", self.tmp.name))  # once
            waiter = asyncio.ensure_future(self.pool.await_claimed(slot, {"A": "1", "JPY_SESSION_NAME": "x"}))
            await asyncio.sleep(0.05)
            self.assertFalse(waiter.done(), "handed over before it was warm")
            slot.kernel.ready = True
            slot.done.set()
            self.assertIs(await waiter, slot.kernel)
            self.assertEqual(self.pool.waiting.get("rust", []), [])  # not also left waiting
        asyncio.run(go())

    def test_a_claimed_kernel_that_fails_or_does_not_fit_is_not_handed(self):
        async def go():
            failed = self.warming()
            self.assertIs(self.pool.claim("rust", self.tmp.name), failed)
            failed.done.set()  # warm-up failed: never ready
            self.assertIsNone(await self.pool.await_claimed(failed, {"A": "1"}))
            other = self.warming(env={"A": "2"})
            self.assertIs(self.pool.claim("rust", self.tmp.name), other)
            other.kernel.ready = True
            other.done.set()
            self.assertIsNone(await self.pool.await_claimed(other, {"A": "1"}))
            self.assertEqual(self.pool.waiting["rust"], [other.kernel])  # it waits for a request that fits
        asyncio.run(go())

    def test_refills_count_unclaimed_kernels_and_wait_for_quiet(self):
        launched = []

        async def fake_launch(slot):
            launched.append(slot)

        async def go():
            self.pool.sizes["rust"] = 1
            self.pool._launch_and_warm = fake_launch
            self.pool.refill_policy = "quiet"
            self.pool.refill_delay = 0.0
            saved = warm.machine_is_quiet, warm.QUIET_POLL
            warm.machine_is_quiet, warm.QUIET_POLL = (lambda: False), 0.01
            try:
                self.pool.refill("rust")
                self.pool.refill("rust")  # decided in a row: still one kernel
                self.assertEqual(len(self.pool.starting["rust"]), 1)
                await asyncio.sleep(0.1)
                self.assertEqual(launched, [], "a quiet refill started on a busy machine")
                slot = self.pool.claim("rust", self.tmp.name)
                self.pool.refill("rust")  # the claimed one no longer counts
                self.assertEqual(len(self.pool.starting["rust"]), 2)
                await asyncio.sleep(0.1)
                self.assertEqual(launched, [slot], "a claimed refill waits for the machine, not for the request")
                warm.machine_is_quiet = lambda: True
                await asyncio.sleep(0.1)
                self.assertEqual(len(launched), 2)
                self.pool.refill_delay = 0.3  # a quiet machine, but the delay not over yet
                self.pool.refill("rust")
                await asyncio.sleep(0.1)
                self.assertEqual(len(launched), 2, "a refill started before its delay")
                await asyncio.sleep(0.4)
                self.assertEqual(len(launched), 3)
                self.pool.refill_delay = 0.0
                self.assertEqual(self.pool.starting["rust"], [])
                warm.machine_is_quiet = lambda: False
                self.pool.waiting.pop("rust", None)
                self.pool.refill("rust", first=True)  # a server's first kernel does not wait
                await asyncio.sleep(0.1)
                self.assertEqual(len(launched), 4)
            finally:
                warm.machine_is_quiet, warm.QUIET_POLL = saved
        asyncio.run(go())

    def test_pool_size_is_bounded(self):
        saved = os.environ.pop("COURSE_WARM_KERNELS", None)
        try:
            self.assertEqual(warm._pool_size({}), 1)
            self.assertEqual(warm._pool_size({"pool_size": 0}), 0)
            for raw, want in (("0", 0), ("3", 3), ("-5", 0), ("1000000", 8), ("lots", 1), ("", 1)):
                os.environ["COURSE_WARM_KERNELS"] = raw
                self.assertEqual(warm._pool_size({"pool_size": 2}), want, raw)
        finally:
            os.environ.pop("COURSE_WARM_KERNELS", None)
            if saved is not None:
                os.environ["COURSE_WARM_KERNELS"] = saved

    def test_the_page_counts_kernel_info_and_the_server_does_not_change(self):
        """JupyterLab's page takes its untracked types from the page configuration: kernel_info leaves them (or a
        restarted, warmed kernel's status never comes back), every other type stays, and the server's own list
        (its activity tracking, its nudge of new connections) is not touched."""
        from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

        km = MappingKernelManager()
        server_list = list(km.untracked_message_types)
        self.assertIn("kernel_info_request", server_list)  # jupyter_server's default: what the fix is for
        settings = {"page_config_data": {"untracked_message_types": list(server_list), "other": 1}}
        self.assertTrue(warm.lab_counts_kernel_info(settings))
        self.assertEqual(settings["page_config_data"]["untracked_message_types"],
                         [t for t in server_list if not t.startswith("kernel_info_")])
        self.assertEqual(settings["page_config_data"]["other"], 1)
        self.assertEqual(km.untracked_message_types, server_list)
        self.assertFalse(warm.lab_counts_kernel_info(settings))  # a second call changes nothing
        for odd in ({}, {"page_config_data": None}, {"page_config_data": {"untracked_message_types": "x"}}):
            self.assertFalse(warm.lab_counts_kernel_info(odd))


@unittest.skipIf(warm is None, "course_warm_kernel is not installed: run `make setup`")
@unittest.skipUnless(sys.platform.startswith("linux"), "PR_SET_PDEATHSIG is Linux's")
class DiesWithItsServer(unittest.TestCase):
    def test_a_guarded_child_dies_when_its_parent_is_killed(self):
        self.assertTrue(warm.die_with_parent(), "no setpriv (util-linux): kernels would outlive a killed server")
        """A parent starts `sleep` with the guard, prints its pid, and is killed with SIGKILL."""
        parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
            import subprocess, sys, time
            import course_warm_kernel as w
            p = subprocess.Popen(w.die_with_parent() + ["sleep", "60"], start_new_session=True)
            print(p.pid, flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
        self.addCleanup(parent.kill)
        child = int(parent.stdout.readline())
        # Popen returns once `setpriv` is exec'd, before it has set the signal: wait until it has exec'd
        # `sleep` (the signal is set by then), or killing the parent races the prctl (CI met that race).
        deadline = time.monotonic() + 10
        while comm(child) != "sleep" and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(comm(child), "sleep")
        self.assertTrue(alive(child))
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(child), "the guarded child outlived its killed parent")


def comm(pid: int) -> str:
    """The program name a process runs, "" once it has gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that a container's init may never be counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
