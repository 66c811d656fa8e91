"""Load test of the course's JupyterHub: N learners arrive within a window, each logs in through the
login page, starts their server, opens chapter 00 and runs its cells through the kernel's websocket
until the first chart. Per learner: seconds to a running server, to kernel ready, to the first
chart (all from the moment they arrive), and their peak memory (their cgroup's high-water mark).
Reports p50, p95 and max, and every failure. Then where the time goes, per phase (server start, kernel
start, the `:dep` cell, the cells up to the chart): wall seconds and the learner's CPU-seconds (their
cgroups' CPU accounting), the spawner's own steps (its "start phases" log lines), and the hub's and
proxy's CPU-seconds per learner. Figures only: nothing here is a timed assertion.

  tests/hub_load.py --learners 20 --window 120 [--prestart]   (as root; starts its own hub on 127.0.0.1:18000)

With --prestart the room is pre-started first (hub/prestart.py, what `make hub-warm` does) and its cost
printed; learners then arrive at running servers with warmed kernels. The run ends with a Markdown table row
(the figures the README's load table holds) and the commit measured.
  tests/hub_load.py --base http://... --class F --passwords F   (against a running hub)
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hub"))
import course_hub  # noqa: E402
import prestart  # noqa: E402
from hub_client import Learner, has_chart, output_text  # noqa: E402

CHAPTER = f"{course_hub.CONTENT_DIR}/notebooks/00-start-here.ipynb"


@dataclass
class Result:
    name: str
    server_s: float | None = None
    kernel_s: float | None = None
    chart_s: float | None = None
    peak_mb: float | None = None
    dep_s: float | None = None  # the first code cell (the :dep line) done
    # the learner's CPU-seconds (cgroup accounting) when the server ran, the kernel answered, :dep, chart
    cpu: dict = field(default_factory=dict)
    error: str | None = None
    cells: int = 0
    notes: list[str] = field(default_factory=list)


def one_learner(base: str, name: str, password: str, delay: float, keep: dict | None = None) -> Result:
    """Arrive after `delay` seconds and go to the first chart. With `keep`, the learner and kernel
    are left open in it (the caller closes them)."""
    time.sleep(delay)
    res = Result(name)
    t0 = time.monotonic()
    kernel = None
    try:
        learner = Learner(base, name, password)
        learner.login()
        learner.start_server()
        res.server_s = time.monotonic() - t0
        res.cpu["server"] = course_hub.cpu_seconds(name)
        nb = learner.notebook(CHAPTER)
        kernel = learner.open_kernel(CHAPTER)
        kernel.wait_ready()
        res.kernel_s = time.monotonic() - t0
        res.cpu["kernel"] = course_hub.cpu_seconds(name)
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            status, outputs = kernel.execute(cell["source"])
            res.cells += 1
            if status != "ok":
                raise RuntimeError(f"cell {res.cells} failed: {output_text(outputs)[:300]}")
            if res.cells == 1:
                res.dep_s = time.monotonic() - t0
                res.cpu["dep"] = course_hub.cpu_seconds(name)
            if has_chart(outputs):
                res.chart_s = time.monotonic() - t0
                res.cpu["chart"] = course_hub.cpu_seconds(name)
                break
        else:
            raise RuntimeError("no chart in chapter 00")
        if keep is not None:
            keep[name] = (learner, kernel)
            kernel = None
    except Exception as e:  # a failure is a figure of the run, not a crash of the test
        res.error = f"{type(e).__name__}: {e}"
    finally:
        if kernel:
            kernel.close()
    return res


def peak_mb(name: str) -> float | None:
    for d in course_hub.cgroup_dirs(name):
        for f in ("memory.max_usage_in_bytes", "memory.peak"):
            try:
                return int((d / f).read_text()) / 2**20
            except OSError:
                continue
    return None


def run(base: str, accounts: list[tuple[str, str]], window: float, keep: dict | None = None) -> list[Result]:
    """All learners, arriving evenly over `window` seconds; threads, as many as learners."""
    n = len(accounts)
    with cf.ThreadPoolExecutor(max_workers=n) as pool:
        futs = [pool.submit(one_learner, base, name, pw, window * i / max(n - 1, 1), keep)
                for i, (name, pw) in enumerate(accounts)]
        results = [f.result() for f in futs]
    for r in results:
        r.peak_mb = peak_mb(r.name)
    return results


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]


def report(results: list[Result]) -> str:
    lines = [f"{'learner':<12} {'server s':>9} {'kernel s':>9} {'chart s':>8} {'peak MiB':>9}  error"]
    for r in results:
        f = lambda x: f"{x:.1f}" if x is not None else "-"  # noqa: E731
        lines.append(f"{r.name:<12} {f(r.server_s):>9} {f(r.kernel_s):>9} {f(r.chart_s):>8} {f(r.peak_mb):>9}  "
                     f"{r.error or ''}")
    for label, key in (("running server", "server_s"), ("kernel ready", "kernel_s"), ("first chart", "chart_s"),
                       ("peak memory MiB", "peak_mb")):
        vals = [getattr(r, key) for r in results if getattr(r, key) is not None]
        if vals:
            lines.append(f"{label:<16} p50 {statistics.median(vals):7.1f}   p95 {pct(vals, 95):7.1f}   "
                         f"max {max(vals):7.1f}   (n={len(vals)})")
    failed = [r for r in results if r.error]
    lines.append(f"failures: {len(failed)} of {len(results)}")
    return "\n".join(lines)


PHASES = (("server start (login to running server)", None, "server_s", "server"),
          ("kernel start (open chapter to kernel ready)", "server_s", "kernel_s", "kernel"),
          (":dep cell", "kernel_s", "dep_s", "dep"),
          ("cells to the first chart", "dep_s", "chart_s", "chart"))


def breakdown(results: list[Result], hub_log: str = "", hub_cpu: float | None = None) -> str:
    """Per phase: wall seconds and the learner's CPU-seconds, p50 / p95 over learners; the spawner's
    steps from its log; the hub's own CPU-seconds per learner."""
    def p50_95(vals: list[float]) -> str:
        return f"{statistics.median(vals):6.1f} / {pct(vals, 95):6.1f}" if vals else "     - /      -"

    lines = [f"{'phase':<44} {'wall s p50 / p95':>16}   {'CPU-s p50 / p95':>16}"]
    for label, begin, end, cpu_key in PHASES:
        walls, cpus = [], []
        prev_cpu = {"server": None, "kernel": "server", "dep": "kernel", "chart": "dep"}[cpu_key]
        for r in results:
            a = getattr(r, begin) if begin else 0.0
            b = getattr(r, end)
            if a is not None and b is not None:
                walls.append(b - a)
            c1 = r.cpu.get(cpu_key)
            c0 = r.cpu.get(prev_cpu, 0.0) if prev_cpu else 0.0
            if c1 is not None and c0 is not None:
                cpus.append(c1 - c0)
        lines.append(f"{label:<44} {p50_95(walls):>16}   {p50_95(cpus):>16}")
    totals = [r.cpu["chart"] for r in results if r.cpu.get("chart") is not None]
    if totals:
        lines.append(f"{'a learner, login to first chart':<44} {'':>16}   {p50_95(totals):>16}")
    steps: dict[str, list[float]] = {}
    for m in re.finditer(r"start phases of \S+: (.*)", hub_log):
        for part in m.group(1).split(", "):
            k, _, v = part.rpartition(" ")[0].rpartition(" ")
            try:
                steps.setdefault(k, []).append(float(v))
            except ValueError:
                continue
    for k, vals in steps.items():
        lines.append(f"  spawner: {k:<34} {p50_95(vals):>16}   (n={len(vals)})")
    if hub_cpu is not None and results:
        lines.append(f"the hub and its proxy (root): {hub_cpu:.1f} CPU-s in all, {hub_cpu / len(results):.2f} per learner")
    return "\n".join(lines)


def table_row(results: list[Result], args) -> str:
    """The README's load-table row for this run: figures, failures, CPU per learner, and the commit."""
    import subprocess

    def p(key: str) -> str:
        vals = [getattr(r, key) for r in results if getattr(r, key) is not None]
        return f"{statistics.median(vals):.1f} / {pct(vals, 95):.1f} s" if vals else "-"

    cpu = [r.cpu["chart"] for r in results if r.cpu.get("chart") is not None]
    peak = [r.peak_mb for r in results if r.peak_mb is not None]
    commit = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent.parent), "log", "-1", "--format=%h"],
                            capture_output=True, text=True).stdout.strip() or "?"
    return ("| learners | arriving over | pre-started | running server p50 / p95 | kernel ready p50 / p95 | "
            "first chart p50 / p95 | failures | CPU-s per learner p50 | peak MiB p50 | commit |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n"
            f"| {len(results)} | {args.window:.0f} s | {'yes' if args.prestart else 'no'} | {p('server_s')} | "
            f"{p('kernel_s')} | {p('chart_s')} | {sum(1 for r in results if r.error)} of {len(results)} | "
            f"{statistics.median(cpu):.1f} | {statistics.median(peak):.0f} | {commit} |" if cpu and peak else
            "(no learner reached a chart: no table row)")


def hub_cpu_seconds() -> float:
    """CPU-seconds of root's jupyterhub and configurable-http-proxy processes (and their reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if d.stat().st_uid != 0:
                continue
            cmd = (d / "cmdline").read_bytes()
            if b"jupyterhub" not in cmd and b"configurable-http-proxy" not in cmd:
                continue
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            continue
    return total


def main(argv: list[str]) -> int:
    import hub_test  # noqa: E402  (starts and stops a hub of its own)

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--learners", type=int, default=3)
    ap.add_argument("--window", type=float, default=10.0, help="seconds over which learners arrive")
    ap.add_argument("--prestart", action="store_true", help="pre-start every learner's server first (make hub-warm)")
    args = ap.parse_args(argv)
    if not 1 <= args.learners <= 200:
        print("--learners must be 1..200", file=sys.stderr)
        return 2
    with hub_test.TestHub(n_learners=args.learners) as hub:
        if args.prestart:
            t = time.monotonic()
            cpu0 = {n: course_hub.cpu_seconds(n) or 0.0 for n, _ in hub.accounts}
            prestart.prestart(hub.base, (hub.state / "service_token").read_text().strip(), [n for n, _ in hub.accounts],
                              say=lambda line: print(line, flush=True))
            pre_cpu = [(course_hub.cpu_seconds(n) or 0.0) - cpu0[n] for n, _ in hub.accounts]
            print(f"[hub-load] pre-start: {time.monotonic() - t:.0f} s, {statistics.median(pre_cpu):.1f} CPU-s per "
                  f"learner (p50)", flush=True)
        print(f"[hub-load] {args.learners} learners arriving over {args.window:.0f} s at {hub.base}"
              f"{' (pre-started)' if args.prestart else ''}", flush=True)
        t = time.monotonic()
        cpu0 = hub_cpu_seconds()
        results = run(hub.base, hub.accounts, args.window)
        hub_cpu = hub_cpu_seconds() - cpu0
        print(report(results))
        log = hub.state / "hub.log"
        print(breakdown(results, log.read_text(errors="replace") if log.exists() else "", hub_cpu))
        print(f"[hub-load] whole run {time.monotonic() - t:.0f} s")
        print(table_row(results, args))
        return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
