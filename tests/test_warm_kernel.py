"""The warm-kernel pool's rules without a kernel (tools/warm-kernel; tests/kernel_warm.py runs real ones).

A waiting kernel is handed out once, only to a request from its own folder and environment, never when it
died while waiting; the pool size is bounded whatever COURSE_WARM_KERNELS says; a process started with the
pool's guard dies when the process that started it is killed with SIGKILL.
"""

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
        child = int(parent.stdout.readline())
        self.assertTrue(alive(child))
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(child), "the guarded child outlived its killed parent")


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that a container's init may never be counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
