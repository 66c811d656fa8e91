#!/usr/bin/env python3
"""What a new kernel costs until a chapter's first chart: wall seconds and CPU-seconds, by part.

    python tests/kernel_cost.py [NN ...] [--before] [--repeat N]

For each chapter (default: all) it starts the course's kernel through jupyter_client, as JupyterLab
does, and runs the chapter's code cells in order until one shows a chart (an SVG). It reports the
kernel's start, each cell, and the total, in wall seconds and in CPU-seconds of the kernel and every
process under it (cargo, rustc, evcxr's worker; read with psutil before the kernel is shut down).
`--before` runs the same with the evcxr config the course had before course-rustc-cache (evcxr's own
`:cache 2048`, which compiles the support crate in every kernel), to compare on one machine in one run.
A measurement, not a test (timings are never pass/fail): the classroom server is sized by its CPU column.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_hostile import NOTEBOOKS, STARTUP_TIMEOUT, run_cell  # noqa: E402

SHARE = Path(sys.prefix) / "share" / "jupyter"


def cpu_of_tree(pid: int) -> float:
    """CPU-seconds of a process, its children it has waited for, and its live descendants."""
    try:
        p = psutil.Process(pid)
        t = p.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for c in p.children(recursive=True):
            try:
                ct = c.cpu_times()
                total += ct.user + ct.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return float("nan")


def before_spec(tmp: Path) -> str:
    """A kernel spec 'rust-before': the course's, with the evcxr config of before (`:cache 2048`)."""
    spec = json.loads((SHARE / "kernels" / "rust" / "kernel.json").read_text())
    conf = tmp / "evcxr-before"
    conf.mkdir()
    (conf / "init.evcxr").write_text(":cache 2048\n")
    spec["env"] = {**spec.get("env", {}), "EVCXR_CONFIG_DIR": str(conf)}
    spec["display_name"] = "Rust (before the compiled-crate cache)"
    kdir = tmp / "kernels" / "rust-before"
    shutil.copytree(SHARE / "kernels" / "rust", kdir)
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return "rust-before"


def measure(nb: Path, kernel: str) -> list[tuple[str, float, float]]:
    from jupyter_client.manager import start_new_kernel

    cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    parts = []
    t0 = time.monotonic()
    km, kc = start_new_kernel(kernel_name=kernel, startup_timeout=STARTUP_TIMEOUT, cwd=str(NOTEBOOKS))
    pid = km.provisioner.pid if km.provisioner else None
    parts.append(("kernel start", time.monotonic() - t0, cpu_of_tree(pid)))
    try:
        for i, c in enumerate(cells):
            cpu0, w0 = cpu_of_tree(pid), time.monotonic()
            r = run_cell(kc, "".join(c["source"]), STARTUP_TIMEOUT)
            label = "".join(c["source"]).splitlines()[0][:48] if c["source"] else "(empty)"
            parts.append((f"cell {i}: {label}", time.monotonic() - w0, cpu_of_tree(pid) - cpu0))
            if r.status != "ok" and "raises-exception" not in c.get("metadata", {}).get("tags", []):
                parts.append((f"  (cell {i} failed: {r.error[:120]!r})", 0.0, 0.0))
            if "<svg" in r.display:
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return parts


def main() -> int:
    args = sys.argv[1:]
    before = "--before" in args
    repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 1
    wanted = [a for a in args if a.isdigit() and len(a) == 2] or sorted({p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")})
    tmp = Path(tempfile.mkdtemp(prefix="kernel-cost-"))
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(tmp), str(SHARE)])
    os.environ.setdefault("RUST_BACKTRACE", "0")
    kernel = before_spec(tmp) if before else "rust"
    try:
        for nn in wanted:
            nb = next(iter(sorted(NOTEBOOKS.glob(f"{nn}-*.ipynb"))), None)
            if nb is None:
                print(f"[cost] no chapter {nn}")
                continue
            for run in range(repeat):
                parts = measure(nb, kernel)
                wall, cpu = sum(p[1] for p in parts), sum(p[2] for p in parts)
                print(f"[cost] {nb.name} ({'before' if before else 'with the cache'}, run {run + 1}): "
                      f"first chart after {wall:.1f} s wall, {cpu:.1f} CPU-s")
                for name, w, c in parts:
                    print(f"         {w:6.2f} s {c:6.2f} CPU-s  {name}")
                sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
