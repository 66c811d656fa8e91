#!/usr/bin/env python3
"""The warm-kernel pool (tools/warm-kernel, issue 28) through a real JupyterLab server.

    python tests/kernel_warm.py

Starts `jupyter lab` as `make lab` does (the course's JUPYTER_PATH, kernel spec and server extension), on a
scratch copy of notebooks/, with the pool's record (COURSE_WARM_KERNEL_RECORD) in a scratch file, and talks
to it as JupyterLab does (REST sessions, the kernel's websocket). It checks:
  1. opening a chapter gets a warmed kernel: the record says the pool handed kernel process P to the
     session's kernel id, and the session's kernel is P (its cell's process is P's child);
  2. the learner's first cell sees nothing of the warm-up: `:vars` lists no variable, and its execution
     count is the one a cold kernel gives its first cell;
  3. two chapters opened at once never share a kernel (one gets the waiting kernel, the other claims the
     refill still warming and gets it once warmed); a notebook in another folder gets a cold kernel;
  4. a restart during a running cell gets another warmed kernel (a new process, no variables of before), which the
     server does not call busy (it would then not nudge the new websocket), and JupyterLab learns its
     status again: after reconnecting it sends kernel_info and ignores status messages whose parent's type is
     in the page's `untracked_message_types` (read from the lab page), so one with another parent must come;
  4b. Restart during Run All, RESTARTS times in a row for each of chapters 0, 4 and 7 (COURSE_TEST_RESTARTS,
     default 20): every restart comes back to idle (as JupyterLab sees it, as in 4) and the chapter then runs to its first chart, with no
     kernel dying after its restart (the server's automatic restarts counted in its log);
  5. after the server stops (SIGTERM), and in a second server after `kill -9`, no process it started
     (waiting, handed-over or cold kernels, and their children) is left running.
The waiting kernel is also checked to be invisible to the server's kernel list (so to its culling).
Exits non-zero, saying which check failed. About 2-3 minutes on 2 cores (kernels start and warm up), and
the restarts of 4b about 10 s each.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hub_client import Kernel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEP = ':dep support = { path = "../support" }'
USES_SUPPORT = "{ let _ = support::layout::SizeTable::new(); }"
RESTARTS = max(1, min(100, int(os.environ.get("COURSE_TEST_RESTARTS", "20") or 20)))
RESTART_CHAPTERS = ("00-start-here.ipynb", "04-vec.ipynb", "07-rc-arc.ipynb")
OTHER_FOLDER = "elsewhere/00-start-here.ipynb"  # below the chapters' folder, where the pool's kernels do not start
PARENT = "std::os::unix::process::parent_id()"  # a cell runs in a child of the kernel process


class Failed(Exception):
    pass


def check(ok: bool, what: str) -> None:
    if not ok:
        raise Failed(what)
    print(f"[warm] ok: {what}", flush=True)


class Lab:
    """A `jupyter lab` server of its own on a scratch copy of the chapters."""

    def __init__(self, scratch: Path, name: str):
        self.record = scratch / f"{name}-record.jsonl"
        self.port, self.token = free_port(), secrets.token_hex(16)
        env = dict(os.environ, JUPYTER_PATH=str(Path(sys.prefix) / "share" / "jupyter"),
                   JUPYTERLAB_SETTINGS_DIR=str(scratch / "user-settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(scratch / f"{name}-runtime"),
                   COURSE_WARM_KERNEL_RECORD=str(self.record), COURSE_WARM_KERNELS="1")
        args = [str(Path(sys.prefix) / "bin" / "jupyter"), "lab", "--no-browser", f"--port={self.port}",
                "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
                f"--notebook-dir={scratch / 'notebooks'}"]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.log_path = scratch / f"{name}-lab.log"
        self.proc = subprocess.Popen(args, env=env, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self.seen: set[psutil.Process] = set()
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(f"{self.base}/api/status", headers=self.headers(), timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise Failed(f"JupyterLab did not start; its log: {self.log_path.read_text()[-2000:]}")
                time.sleep(0.3)

    def headers(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def events(self, event: str | None = None) -> list[dict]:
        try:
            lines = self.record.read_text().splitlines()
        except OSError:
            return []
        return [e for e in map(json.loads, lines) if event is None or e["event"] == event]

    def wait_ready(self, count: int, timeout: float = 400) -> None:
        """Waits until the record shows `count` kernels warmed (ever), remembering the server's processes."""
        deadline = time.monotonic() + timeout
        while len(self.events("ready")) < count:
            self.remember()
            failed = self.events("failed")
            if failed or time.monotonic() > deadline:
                raise Failed(f"no warmed kernel #{count} after {timeout:.0f} s (record: {self.events()[-3:]}); "
                             f"log: {self.log_path.read_text()[-1500:]}")
            time.sleep(0.5)
        self.remember()

    def remember(self) -> None:
        """Every process under the server so far: what must be gone once it ends."""
        try:
            self.seen.update(psutil.Process(self.proc.pid).children(recursive=True))
        except psutil.Error:
            pass

    def open(self, path: str) -> Kernel:
        r = requests.post(f"{self.base}/api/sessions", headers=self.headers(), timeout=300,
                          json={"path": path, "type": "notebook", "name": path, "kernel": {"name": "rust"}})
        if r.status_code != 201:
            raise Failed(f"no session for {path}: {r.status_code} {r.text[:300]}")
        kid = r.json()["kernel"]["id"]
        k = self.connect(kid)
        k.wait_ready(300)
        self.remember()
        return k

    def connect(self, kid: str) -> Kernel:
        ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}/api/kernels/{kid}/channels",
                                         header=[f"Authorization: token {self.token}"], timeout=600)
        return Kernel(ws, kid)

    def handed(self, kernel_id: str) -> list[int]:
        return [e["pid"] for e in self.events("handed") if e["kernel_id"] == kernel_id]

    def left_running(self, timeout: float = 30) -> list[str]:
        pids = {p for p in self.seen} | {psutil.Process(e["pid"]) for e in self.events("started") if psutil.pid_exists(e["pid"])}
        _, alive = psutil.wait_procs(list(pids), timeout=timeout)
        return sorted(f"{p.pid} {p.name()}" for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_cell(k: Kernel, code: str) -> tuple[str, int | None, str]:
    """Runs a cell; (status, execution count of its execute_input, text output)."""
    from hub_client import output_text

    count = None

    def seen(m: dict) -> None:
        nonlocal count
        if m.get("header", {}).get("msg_type") == "execute_input":
            count = m["content"].get("execution_count")

    status, outputs = k.execute(code, timeout=300, seen=seen)
    return status, count, output_text(outputs).strip()


def code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]


def run_to_chart(k: Kernel, cells: list[str]) -> int:
    """Runs a chapter's cells in order until one shows a chart; the number of cells run."""
    from hub_client import has_chart, output_text

    for i, code in enumerate(cells, 1):
        status, outputs = k.execute(code, timeout=300)
        if status != "ok":
            raise Failed(f"cell {i} failed: {output_text(outputs)[:300]}")
        if has_chart(outputs):
            return i
    raise Failed("no chart in the chapter")


def run_all(k: Kernel, cells: list[str]) -> None:
    """Sends every cell at once, as JupyterLab's Run All does (the kernel queues them)."""
    for code in cells:
        k.request("execute_request", {"code": code, "silent": False, "store_history": True,
                                      "user_expressions": {}, "allow_stdin": False})


def untracked_types(lab: Lab) -> list[str]:
    """The page's `untracked_message_types`, as JupyterLab reads them (jupyterlab_server copies them from the
    server's kernel manager into the page's configuration)."""
    html = requests.get(f"{lab.base}/lab", headers=lab.headers(), timeout=30).text
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    if not m:
        raise Failed("the lab page has no jupyter-config-data")
    return list(json.loads(m.group(1)).get("untracked_message_types", []))


def status_lab_would_see(k: Kernel, untracked: list[str], timeout: float = 60) -> list[str]:
    """What JupyterLab does when its websocket reconnects after a restart (services/kernel/default.ts:
    the status is "unknown", a kernel_info request goes out "to get kernel status back"), and the statuses
    it would then take: JupyterLab ignores a status message whose parent's type is untracked. Waits for the
    kernel_info reply and its idle; returns the statuses JupyterLab would have taken meanwhile."""
    taken: list[str] = []

    def seen(m: dict) -> None:
        if m["header"]["msg_type"] == "status" and (m.get("parent_header") or {}).get("msg_type") not in untracked:
            taken.append(m["content"]["execution_state"])

    k._collect(k.request("kernel_info_request", {}), timeout, reply="kernel_info_reply", seen=seen)
    return taken


def run_cell(k: Kernel, code: str) -> str:
    status, _, text = first_cell(k, code)
    if status != "ok":
        raise Failed(f"cell {code!r} failed: {text[:300]}")
    return text


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="course-warm-"))
    shutil.copytree(ROOT / "notebooks", scratch / "notebooks", ignore=shutil.ignore_patterns(".backup", ".ipynb_checkpoints"))
    (scratch / "support").symlink_to(ROOT / "support")
    (scratch / "notebooks" / "elsewhere").mkdir()  # a folder the pool's kernels do not start in
    shutil.copy(ROOT / "notebooks" / "00-start-here.ipynb", scratch / "notebooks" / OTHER_FOLDER)
    (scratch / "notebooks" / "support").symlink_to(ROOT / "support")  # its `../support`
    labs: list[Lab] = []
    try:
        lab = Lab(scratch, "lab1")
        labs.append(lab)
        t0 = time.monotonic()
        lab.wait_ready(1)
        print(f"[warm] the pool's first kernel warmed {time.monotonic() - t0:.0f}s after the server started", flush=True)

        # The waiting kernel is no kernel of the server's (culling and /api/kernels only see those).
        listed = requests.get(f"{lab.base}/api/kernels", headers=lab.headers(), timeout=30).json()
        check(listed == [], f"the waiting kernel is not among the server's kernels (culling cannot see it): {listed}")

        # 1 + 2: a chapter opened gets the warmed kernel, and sees nothing of its warm-up.
        waiting = lab.events("ready")[0]["pid"]
        a = lab.open("00-start-here.ipynb")
        check(lab.handed(a.id) == [waiting], f"opening a chapter: the record says kernel process {waiting} "
              f"(warmed) was handed to the session's kernel {a.id[:8]}")
        status, warm_count, vars_text = first_cell(a, ":vars")
        check(status == "ok" and vars_text == "", f"its first cell, :vars, lists no variable (said {vars_text!r})")
        check(int(run_cell(a, PARENT)) == waiting, f"the session's kernel is process {waiting}, the warmed one")
        # The warm-up itself, seen from the kernel: `support` resolves before the chapter's :dep cell ran
        # (in a cold kernel the same cell fails: checked below).
        check(first_cell(a, USES_SUPPORT)[0] == "ok", "the warmed kernel already loaded the support crate")
        run_cell(a, DEP)
        run_cell(a, "let mine = support::layout::SizeTable::new();")

        # 3: two chapters at once: never the same kernel.
        lab.wait_ready(2)
        opened: dict[str, Kernel] = {}
        errors: list[Exception] = []

        def open_one(path: str) -> None:
            try:
                opened[path] = lab.open(path)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=open_one, args=(p,)) for p in ("01-layout.ipynb", "03-box.ipynb")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        b, c = opened["01-layout.ipynb"], opened["03-box.ipynb"]
        pids = {kid: int(run_cell(k, PARENT)) for kid, k in ((b.id, b), (c.id, c))}
        handed = {kid: lab.handed(kid) for kid in pids}
        check(len(set(pids.values())) == 2 and all(handed[kid] == [pid] for kid, pid in pids.items())
              and len(lab.events("claimed")) >= 1,
              f"two chapters opened at once run in two kernel processes {sorted(pids.values())}, both warmed: one "
              f"waiting, one claimed while it warmed")
        # A notebook in another folder than the pool's kernels: a cold start.
        cold_k = lab.open(OTHER_FOLDER)
        check(not lab.handed(cold_k.id) and any(e.get("kernel_id") == cold_k.id for e in lab.events("cold")),
              "a notebook in another folder gets a cold kernel (the record says so)")
        _, cold_count, cold_vars = first_cell(cold_k, ":vars")
        check(warm_count is not None and cold_count == warm_count and cold_vars == "",
              f"a warmed kernel's first cell has the execution count of a cold kernel's first ({warm_count}; "
              f"cold: {cold_count})")
        check(first_cell(cold_k, USES_SUPPORT)[0] == "error", "a cold kernel has no support crate before its :dep cell")
        for k in (b, c, cold_k):
            k.close()
            requests.delete(f"{lab.base}/api/kernels/{k.id}", headers=lab.headers(), timeout=120)

        # 4: a restart gets another warmed kernel: made while a cell runs (a learner's escape from a stuck cell).
        lab.wait_ready(3)
        a.request("execute_request", {"code": "std::thread::sleep(std::time::Duration::from_secs(60));",
                                      "silent": False, "store_history": True, "user_expressions": {},
                                      "allow_stdin": False})
        time.sleep(3)
        r = requests.post(f"{lab.base}/api/kernels/{a.id}/restart", headers=lab.headers(), timeout=300)
        check(r.status_code == 200 and r.json().get("execution_state") != "busy",
              f"restart during a running cell answered {r.status_code}, the new kernel "
              f"{r.json().get('execution_state') if r.status_code == 200 else '?'} for the server (not the old one's busy)")
        a.close()
        a = Kernel(websocket.create_connection(f"ws://127.0.0.1:{lab.port}/api/kernels/{a.id}/channels",
                                               header=[f"Authorization: token {lab.token}"], timeout=600), a.id)
        untracked = untracked_types(lab)
        taken = status_lab_would_see(a, untracked, 300)
        check(taken and taken[-1] == "idle",
              f"after the restart JupyterLab learns the kernel is idle from the kernel_info it sends on reconnecting "
              f"(statuses it takes: {taken}; the page's untracked types: {len(untracked)}, kernel_info "
              f"{'not ' if 'kernel_info_request' not in untracked else ''}among them)")
        after = lab.handed(a.id)
        old_gone = not psutil.pid_exists(waiting) or psutil.Process(waiting).status() == psutil.STATUS_ZOMBIE
        check(len(after) == 2 and after[1] != waiting and old_gone,
              f"a restart handed the session another warmed kernel ({after}) and ended the old one")
        status, _, vars_text = first_cell(a, ":vars")
        check(status == "ok" and vars_text == "" and int(run_cell(a, PARENT)) == after[-1],
              "after the restart: no variable of before, and the session's kernel is the new warmed one")
        lab.remember()

        # 4b: Restart during Run All, in a row, for chapters 0, 4 and 7; each restart must come back and the
        # chapter then reach its first chart. Each restart is followed at once by a new websocket (JupyterLab
        # reconnects after a restart; the server's nudge then meets the new kernel). No automatic restart of a
        # crashed kernel may happen.
        a.close()
        requests.delete(f"{lab.base}/api/kernels/{a.id}", headers=lab.headers(), timeout=120)
        for chapter in RESTART_CHAPTERS:
            cells = code_cells(scratch / "notebooks" / chapter)
            a = lab.open(chapter)
            t0 = time.monotonic()
            for i in range(RESTARTS):
                run_all(a, cells)
                time.sleep(1.0)
                r = requests.post(f"{lab.base}/api/kernels/{a.id}/restart", headers=lab.headers(), timeout=300)
                if r.status_code != 200:
                    raise Failed(f"{chapter}: restart {i + 1} answered {r.status_code}")
                # The server must not keep the old kernel's "busy" (it would not nudge the new websocket).
                if r.json().get("execution_state") == "busy":
                    raise Failed(f"{chapter}: after restart {i + 1} the server still calls the new kernel busy")
                a.close()
                a = Kernel(websocket.create_connection(f"ws://127.0.0.1:{lab.port}/api/kernels/{a.id}/channels",
                                                       header=[f"Authorization: token {lab.token}"], timeout=600), a.id)
                if status_lab_would_see(a, untracked, 300)[-1:] != ["idle"]:
                    raise Failed(f"{chapter}: after restart {i + 1} JupyterLab would not learn the kernel's status")
                lab.remember()
                try:
                    run_to_chart(a, cells)
                except Exception as e:
                    raise Failed(f"{chapter}: after restart {i + 1}: {e}")
            starts = [e["event"] for e in lab.events() if e["event"] in ("handed", "cold") and e.get("kernel_id") == a.id]
            kinds = starts[-RESTARTS:]
            check(len(starts) == RESTARTS + 1,
                  f"{chapter}: {RESTARTS} restarts during Run All each came back and reached the first chart "
                  f"({kinds.count('handed')} warmed kernels, {kinds.count('cold')} cold; "
                  f"{(time.monotonic() - t0) / RESTARTS:.1f} s per restart and chart)")
            a.close()
            requests.delete(f"{lab.base}/api/kernels/{a.id}", headers=lab.headers(), timeout=120)
        time.sleep(8)  # a kernel killed by the nudge is noticed by the server's restarter within 3 s
        autorestarts = lab.log_path.read_text().count("AsyncIOLoopKernelRestarter: restarting")
        check(autorestarts == 0, f"no kernel died after its restart ({autorestarts} automatic restarts)")

        # 5a: the server stops: nothing of it is left.
        lab.wait_ready(4)
        lab.remember()
        lab.proc.send_signal(signal.SIGTERM)
        lab.proc.wait(timeout=60)
        left = lab.left_running()
        check(not left, f"server stopped (SIGTERM): no process it started is left ({len(lab.seen)} seen; left: {left})")

        # 5b: a server killed with SIGKILL, with a warmed kernel handed over, a cold one, and one waiting.
        lab2 = Lab(scratch, "lab2")
        labs.append(lab2)
        lab2.wait_ready(1)
        k1 = lab2.open("04-vec.ipynb")
        k2 = lab2.open(OTHER_FOLDER)
        check(len(lab2.handed(k1.id)) == 1 and not lab2.handed(k2.id), "second server: one warmed, one cold kernel")
        lab2.wait_ready(2)
        os.kill(lab2.proc.pid, signal.SIGKILL)
        lab2.proc.wait(timeout=30)
        left = lab2.left_running()
        check(not left, f"server killed (SIGKILL): no process it started is left ({len(lab2.seen)} seen; left: {left})")
        for k in (k1, k2):
            k.close()
        print("[warm] all checks passed", flush=True)
        return 0
    except Exception as e:
        print(f"[warm] FAILED: {type(e).__name__}: {e}", flush=True)
        for lab in labs:
            print(f"[warm] {lab.log_path.name}, last lines:\n" + "\n".join(
                line for line in lab.log_path.read_text(errors="replace").splitlines()
                if "ServerApp]" in line or "rror" in line)[-3000:], flush=True)
            print(f"[warm] record: {lab.events()[-6:]}", flush=True)
        print(f"[warm] FAILED (again, after the logs above): {type(e).__name__}: {e}", flush=True)
        return 1
    finally:
        for lab in labs:
            if lab.proc.poll() is None:
                lab.proc.terminate()
                try:
                    lab.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    lab.proc.kill()
            for p in lab.seen:
                try:
                    p.kill()
                except psutil.Error:
                    pass
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
