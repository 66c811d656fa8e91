#!/usr/bin/env python3
"""Times what a learner waits for in JupyterLab: from opening a chapter to its first chart.

    python tests/lab_timing.py [NN ...]        # default: 00 and 04

It starts `jupyter lab` the way `make lab` does (the course's JUPYTER_PATH and kernel spec), on a scratch
copy of notebooks/ (so autosave cannot touch the course's notebooks) and with fresh user settings (a first
open), drives it in headless Chromium (tests/cdp.py), runs all cells as a learner pressing Run All right
after opening, and reports per chapter: seconds until the kernel is idle, until the first code cell (the
`:dep` cell) has finished, and until the first chart (an SVG output) is on screen. It also checks that no
news pop-up was shown. The numbers go to build/lab-timing.json, which the teacher's page shows. Not part of `make test` (it takes minutes, and timings are never pass/fail).
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

ROOT = Path(__file__).resolve().parent.parent

STATE = r"""
((name) => {
  const app = window.jupyterapp;
  const panel = app && [...app.shell.widgets('main')].find(w => w.sessionContext && w.context && w.context.path === name);
  const ctx = panel && panel.sessionContext;
  const status = ctx && ctx.session && ctx.session.kernel ? ctx.session.kernel.status : '';
  const model = panel && panel.content && panel.content.model;
  let cells = 0, firstDone = false, chart = false;
  if (model) {
    for (let i = 0; i < model.cells.length; i++) {
      const c = model.cells.get(i);
      if (c.type !== 'code') continue;
      if (cells === 0) firstDone = c.executionCount !== null && c.executionCount !== undefined;
      cells += 1;
      for (let j = 0; j < c.outputs.length; j++) {
        const d = c.outputs.get(j).data || {};
        if (d['image/svg+xml'] || (typeof d['text/html'] === 'string' && d['text/html'].includes('<svg'))) chart = true;
      }
    }
  }
  const news = [...document.querySelectorAll('.jp-toast-message, .Toastify__toast')].map(t => t.textContent).join(' | ');
  return JSON.stringify({ready: !!ctx, status, firstDone, chart, news, cells});
})(NAME)
"""


def state(name: str) -> str:
    """The probe for the chapter `name` (the notebook's path in the lab)."""
    return STATE.strip().replace("NAME", json.dumps(name))


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
               JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"))
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
            for nn in wanted:
                nb = next((p.name for p in sorted((scratch / "notebooks").glob(f"{nn}-*.ipynb"))), None)
                if nb is None:
                    print(f"[lab] no chapter {nn}", flush=True)
                    continue
                t0 = time.monotonic()
                b.open(f"{base}/lab/tree/{nb}?token={token}", timeout=60)
                opened = json.loads(b.wait_for(
                    f"(() => {{ const s = JSON.parse({state(nb)}); return s.status === 'idle' && s.cells > 0 ? JSON.stringify(s) : ''; }})()",
                    timeout=120, poll=0.2))
                t_idle = time.monotonic() - t0
                b.evaluate("(() => { const app = window.jupyterapp;"
                           f" const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === {json.dumps(nb)});"
                           " app.shell.activateById(panel.id);"
                           " void app.commands.execute('notebook:run-all-cells'); return 1; })()")
                t_first = t_chart = None
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline and t_chart is None:
                    s = json.loads(b.evaluate(state(nb)))
                    now = time.monotonic() - t0
                    if t_first is None and s["firstDone"]:
                        t_first = now
                    if s["chart"]:
                        t_chart = now
                    time.sleep(0.2)
                results[nb] = {"kernel_idle": t_idle, "first_cell": t_first, "first_chart": t_chart}
                print(f"[lab] {nb:<28} kernel idle {t_idle:5.1f}s  first cell done {t_first or float('nan'):5.1f}s  "
                      f"first chart {t_chart or float('nan'):5.1f}s  (from opening the chapter; {opened['cells']} code cells)")
                toasts = json.loads(b.evaluate(state(nb)))["news"]
                print(f"[lab] notifications on screen: {toasts or 'none'}", flush=True)
                # Leave the chapter: shut its kernel down so the next one starts the same way.
                with urllib.request.urlopen(f"{base}/api/kernels?token={token}") as r:
                    for k in json.load(r):
                        req = urllib.request.Request(f"{base}/api/kernels/{k['id']}?token={token}", method="DELETE")
                        urllib.request.urlopen(req).close()
                b.open("about:blank")
        # The teacher's page (tests/notebooks.py execute/pages) shows these next to the headless times.
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
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
