#!/usr/bin/env python3
"""Times what a learner waits for in JupyterLab: from opening a chapter to its first chart.

    python tests/lab_timing.py [NN ...]        # default: 00 and 04

It starts `jupyter lab` the way `make lab` does (the course's JUPYTER_PATH and kernel spec), on a scratch
copy of notebooks/ (so autosave cannot touch the course's notebooks) and with fresh user settings (a first
open), drives it in headless Chromium (tests/cdp.py): the lab page is loaded once (its time is printed),
then each chapter is opened from inside it, all its cells run as a learner pressing Run All right after
opening, and it reports per chapter: seconds until the kernel is idle, until the first code cell (the
`:dep` cell) has finished, and until the first chart (an SVG output) is on screen; then the first chart after
a kernel restart (outputs cleared, Run All again) once the pool has warmed its next kernel (a learner who has
worked in the chapter a while), and after a second restart right after that one's chart. It also checks that no
news pop-up was shown. With the warm-kernel pool (tools/warm-kernel, on unless COURSE_WARM_KERNELS=0) it
waits before each chapter until a warmed kernel waits (a lab open for a while), and says from the pool's record
whether each start got a warm or a cold kernel, and the waiting kernel's memory and CPU-seconds. The numbers go to build/lab-timing.json, which the teacher's page shows. Not part of `make test` (it takes minutes, and timings are never pass/fail).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cdp  # noqa: E402
import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

STATE = r"""
((name) => {
  const app = window.jupyterapp;
  const panel = app && [...app.shell.widgets('main')].find(w => w.sessionContext && w.context && w.context.path === name);
  const ctx = panel && panel.sessionContext;
  const status = ctx && ctx.session && ctx.session.kernel ? ctx.session.kernel.status : '';
  const connection = ctx && ctx.session && ctx.session.kernel ? ctx.session.kernel.connectionStatus : '';
  const model = panel && panel.content && panel.content.model;
  let cells = 0, firstDone = false, chart = false, done = 0;
  if (model) {
    for (let i = 0; i < model.cells.length; i++) {
      const c = model.cells.get(i);
      if (c.type !== 'code') continue;
      const ran = c.executionCount !== null && c.executionCount !== undefined;
      if (cells === 0) firstDone = ran;
      if (ran) done += 1;
      cells += 1;
      for (let j = 0; j < c.outputs.length; j++) {
        const d = c.outputs.get(j).data || {};
        if (d['image/svg+xml'] || (typeof d['text/html'] === 'string' && d['text/html'].includes('<svg'))) chart = true;
      }
    }
  }
  const news = [...document.querySelectorAll('.jp-toast-message, .Toastify__toast')].map(t => t.textContent).join(' | ');
  return JSON.stringify({ready: !!ctx, status, connection, firstDone, chart, news, cells, done});
})(NAME)
"""


def state(name: str) -> str:
    """The probe for the chapter `name` (the notebook's path in the lab)."""
    return STATE.strip().replace("NAME", json.dumps(name))


def run_until_chart(b, nb: str, t0: float) -> dict:
    """Waits until the chapter's kernel is idle, presses Run All, and waits for the first code cell
    and the first chart; seconds from t0."""
    try:
        opened = json.loads(b.wait_for(
            f"(() => {{ const s = JSON.parse({state(nb)}); return s.status === 'idle' && s.cells > 0 ? JSON.stringify(s) : ''; }})()",
            timeout=180, poll=0.1))
    except cdp.BrowserError as e:
        raise cdp.BrowserError(f"{nb}: the kernel was not idle within 180 s; the notebook's state: {b.evaluate(state(nb))}") from e
    t_idle = time.monotonic() - t0
    b.evaluate("(() => { const app = window.jupyterapp;"
               f" const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === {json.dumps(nb)});"
               " app.shell.activateById(panel.id);"
               " void app.commands.execute('notebook:run-all-cells'); return 1; })()")
    t_first = t_chart = idle_since = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and t_chart is None:
        s = json.loads(b.evaluate(state(nb)))
        now = time.monotonic() - t0
        if t_first is None and s["firstDone"]:
            t_first = now
        if s["chart"]:
            t_chart = now
        # Run All ended without a chart (a chapter that draws none before an error cell stops Run All, or
        # at all): the kernel idle for 3 s after its first cell.
        idle_since = (idle_since or now) if s["status"] == "idle" and s["firstDone"] else None
        if idle_since is not None and now - idle_since > 3:
            break
        time.sleep(0.1)
    return {"kernel_idle": t_idle, "first_cell": t_first, "first_chart": t_chart, "cells": opened["cells"]}


def record(path: Path) -> list[dict]:
    """The warm-kernel pool's record (tools/warm-kernel): one event per line; [] without a pool."""
    try:
        return [json.loads(line) for line in path.read_text().splitlines()]
    except OSError:
        return []


def waiting_pids(path: Path) -> set[int]:
    """Pool kernels started and not handed over (waiting or warming)."""
    events = record(path)
    handed = {e["pid"] for e in events if e["event"] == "handed"}
    return {e["pid"] for e in events if e["event"] == "started"} - handed


def safe_parents(p: psutil.Process) -> list:
    try:
        return p.parents()
    except psutil.Error:
        return []


def wait_for_pool(path: Path, timeout: float = 300) -> float | None:
    """Seconds waited until the pool has a warmed kernel waiting (None when the pool is off): "opening a
    chapter inside a running JupyterLab" means a lab that has been open long enough to warm one."""
    events = record(path)
    pools = [e for e in events if e["event"] == "pool"]
    if not pools or all(e["size"] == 0 for e in pools):
        return None
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        events = record(path)
        ready = {e["pid"] for e in events if e["event"] == "ready"}
        gone = {e["pid"] for e in events if e["event"] in ("handed", "died", "failed", "stopped")}
        if ready - gone:
            break
        time.sleep(0.2)
    return time.monotonic() - t0


def waiting_cost(path: Path) -> str:
    """Memory (RSS, the kernel and its children) and CPU-seconds so far of the pool's waiting kernel(s)."""
    parts = []
    for pid in sorted(waiting_pids(path)):
        try:
            procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
            rss = sum(p.memory_info().rss for p in procs) / 2**20
            # the kernel's own time, that of the children it waited for (cargo, rustc), and live children's
            cpu = sum(procs[0].cpu_times()[:4]) + sum(sum(p.cpu_times()[:2]) for p in procs[1:])
            parts.append(f"waiting kernel {pid}: RSS {rss:.0f} MiB, {cpu:.1f} CPU-s to start and warm")
        except psutil.Error:
            pass
    return "; ".join(parts) or "no kernel waiting"


def kernel_kinds(path: Path, base: str, token: str, nb: str) -> list[str]:
    """'warm' or 'cold' for each kernel start of the chapter's kernel (open, then restart), from the record."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}") as r:
        ids = {s["kernel"]["id"] for s in json.load(r) if s.get("path", "").endswith(nb)}
    return [("warm" if e["event"] == "handed" else "cold") for e in record(path)
            if e["event"] in ("handed", "cold") and e.get("kernel_id") in ids]


def restart(b, nb: str) -> None:
    """Kernel > Restart (without its dialog) of the chapter `nb`, its outputs cleared first."""
    b.evaluate("(() => { const app = window.jupyterapp;"
               f" const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === {json.dumps(nb)});"
               " app.shell.activateById(panel.id);"
               " void app.commands.execute('notebook:clear-all-cell-outputs');"
               " void panel.sessionContext.session.kernel.restart(); return 1; })()")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    wanted = sys.argv[1:] or ["00", "04"]
    scratch = Path(tempfile.mkdtemp(prefix="course-lab-"))
    shutil.copytree(ROOT / "notebooks", scratch / "notebooks", ignore=shutil.ignore_patterns(".backup", ".ipynb_checkpoints"))
    (scratch / "support").symlink_to(ROOT / "support")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_PATH=str(Path(sys.prefix) / "share" / "jupyter"),
               JUPYTERLAB_SETTINGS_DIR=str(scratch / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
               COURSE_WARM_KERNEL_RECORD=str(scratch / "warm-record.jsonl"))
    args = [str(Path(sys.prefix) / "bin" / "jupyter"), "lab", "--no-browser", f"--port={port}",
            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--notebook-dir={scratch / 'notebooks'}", "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = open(scratch / "lab.log", "wb")
    lab = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or lab.poll() is not None:
                    print(f"[lab] JupyterLab did not start; see {scratch / 'lab.log'}", flush=True)
                    return 1
                time.sleep(0.3)
        results: dict = {}
        with cdp.Browser.start(offline=True) as b:
            # The lab is opened once, as a learner opens it at the start of a session; each chapter is
            # then opened from inside it (what "opening a chapter" is), in a workspace with no other tabs.
            t0 = time.monotonic()
            b.open(f"{base}/lab/workspaces/timing?token={token}", timeout=60)
            b.wait_for("(() => window.jupyterapp && window.jupyterapp.shell && document.querySelector('.jp-DirListing') ? 1 : 0)()",
                       timeout=120, poll=0.2)
            print(f"[lab] JupyterLab page loaded in {time.monotonic() - t0:.1f}s (once per session)", flush=True)
            for nn in wanted:
                nb = next((p.name for p in sorted((scratch / "notebooks").glob(f"{nn}-*.ipynb"))), None)
                if nb is None:
                    print(f"[lab] no chapter {nn}", flush=True)
                    continue
                pool_wait = wait_for_pool(scratch / "warm-record.jsonl")
                t0 = time.monotonic()
                b.evaluate(f"(() => {{ void window.jupyterapp.commands.execute('docmanager:open', {{path: {json.dumps(nb)}, factory: 'Notebook'}}); return 1; }})()")
                opened = run_until_chart(b, nb, t0)
                tree = psutil.Process(lab.pid).children(recursive=True)
                # A learner works in the chapter a while, then restarts (Kernel > Restart, without its
                # dialog) and runs all again: by then the pool has warmed the next kernel. Then a second
                # restart right after the first one's chart (within 10 s of it), before any refill is warm.
                refill_wait = wait_for_pool(scratch / "warm-record.jsonl")
                restarts = []
                for _ in range(2):
                    t1 = time.monotonic()
                    restart(b, nb)
                    time.sleep(0.5)  # the status leaves 'idle' once the restart is under way
                    try:
                        restarts.append(run_until_chart(b, nb, t1)["first_chart"])
                    except cdp.BrowserError as e:
                        with urllib.request.urlopen(f"{base}/api/kernels?token={token}") as r:
                            raise cdp.BrowserError(f"{e}; the server's kernels: {r.read().decode()}") from e
                kinds = kernel_kinds(scratch / "warm-record.jsonl", base, token, nb)
                results[nb] = {**opened, "restart_first_chart": restarts[0], "second_restart_first_chart": restarts[1],
                               "kernels": kinds}
                fmt = lambda x: f"{x:5.1f}s" if x is not None else "  n/a"  # noqa: E731
                print(f"[lab] {nb:<28} kernel idle {fmt(opened['kernel_idle'])}  first cell done "
                      f"{fmt(opened['first_cell'])}  first chart {fmt(opened['first_chart'])}"
                      f"  (from opening the chapter; {opened['cells']} code cells); after a restart: first chart "
                      f"{fmt(restarts[0])}; after a second restart within 10 s: {fmt(restarts[1])}", flush=True)
                if pool_wait is not None:
                    print(f"[lab] warm-kernel pool: waited {pool_wait:.1f}s for a warmed kernel before opening and "
                          f"{refill_wait or 0:.1f}s before the first restart; kernels (open, restart, restart): "
                          f"{', '.join(kinds) or 'unknown'}; {waiting_cost(scratch / 'warm-record.jsonl')}", flush=True)
                toasts = json.loads(b.evaluate(state(nb)))["news"]
                print(f"[lab] notifications on screen: {toasts or 'none'}", flush=True)
                # Leave the chapter: close its tab, shut its kernel down, and wait until every process
                # under it has ended (Run All goes on after the first chart: child programs a cell
                # started would otherwise load the machine while the next chapter opens).
                b.evaluate("(() => { const app = window.jupyterapp;"
                           f" const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === {json.dumps(nb)});"
                           " panel.context.model.dirty = false; panel.dispose(); return 1; })()")
                with urllib.request.urlopen(f"{base}/api/kernels?token={token}") as r:
                    for k in json.load(r):
                        req = urllib.request.Request(f"{base}/api/kernels/{k['id']}?token={token}", method="DELETE")
                        urllib.request.urlopen(req).close()
                t_quiet = time.monotonic()
                # Kernels of the warm-kernel pool still waiting for the next chapter are not this chapter's.
                pool = waiting_pids(scratch / "warm-record.jsonl")
                tree = [p for p in tree if p.pid not in pool and not (pool & {a.pid for a in safe_parents(p)})]
                _, alive = psutil.wait_procs(tree, timeout=120)
                left = sorted({p.name() for p in alive if p.is_running()})
                if left:
                    print(f"[lab] still running 120 s after the kernel was shut down: {', '.join(left)}", flush=True)
                else:
                    print(f"[lab] the kernel's processes ended {time.monotonic() - t_quiet:.1f}s after it was shut down", flush=True)
        # The teacher's page (course/runner.py execute/pages) shows these next to the headless times.
        out = ROOT / "build" / "lab-timing.json"
        out.parent.mkdir(exist_ok=True)
        try:
            old = json.loads(out.read_text())
        except (OSError, ValueError):
            old = {}
        stamp = time.strftime("%Y-%m-%d %H:%M %Z")
        old.update({k: {**v, "measured": stamp} for k, v in results.items()})
        out.write_text(json.dumps(old, indent=1))
    finally:
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
        if os.environ.get("COURSE_LAB_KEEP"):
            print(f"[lab] kept {scratch} (its lab.log and the pool's record)", flush=True)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
