"""Load test of the course's JupyterHub: N learners arrive within a window, each logs in through the
login page, starts their server, opens chapter 00 and runs its cells through the kernel's websocket
until the first chart. Per learner: seconds to a running server, to kernel ready, to the first
chart (all from the moment they arrive), and their peak memory (their cgroup's high-water mark).
Reports p50, p95 and max, and every failure. Figures only: nothing here is a timed assertion.

  tests/hub_load.py --learners 20 --window 120     (as root; starts its own hub on 127.0.0.1:18000)
  tests/hub_load.py --base http://... --class F --passwords F   (against a running hub)
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hub"))
import course_hub  # noqa: E402
from hub_client import Learner, has_chart, output_text  # noqa: E402

CHAPTER = f"{course_hub.CONTENT_DIR}/notebooks/00-start-here.ipynb"


@dataclass
class Result:
    name: str
    server_s: float | None = None
    kernel_s: float | None = None
    chart_s: float | None = None
    peak_mb: float | None = None
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
        nb = learner.notebook(CHAPTER)
        kernel = learner.open_kernel(CHAPTER)
        kernel.wait_ready()
        res.kernel_s = time.monotonic() - t0
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            status, outputs = kernel.execute(cell["source"])
            res.cells += 1
            if status != "ok":
                raise RuntimeError(f"cell {res.cells} failed: {output_text(outputs)[:300]}")
            if has_chart(outputs):
                res.chart_s = time.monotonic() - t0
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


def main(argv: list[str]) -> int:
    import hub_test  # noqa: E402  (starts and stops a hub of its own)

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--learners", type=int, default=3)
    ap.add_argument("--window", type=float, default=10.0, help="seconds over which learners arrive")
    args = ap.parse_args(argv)
    if not 1 <= args.learners <= 200:
        print("--learners must be 1..200", file=sys.stderr)
        return 2
    with hub_test.TestHub(n_learners=args.learners) as hub:
        print(f"[hub-load] {args.learners} learners arriving over {args.window:.0f} s at {hub.base}", flush=True)
        t = time.monotonic()
        results = run(hub.base, hub.accounts, args.window)
        print(report(results))
        print(f"[hub-load] whole run {time.monotonic() - t:.0f} s")
        return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
