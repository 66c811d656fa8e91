#!/usr/bin/env python3
"""The compiled-crate cache (course-rustc-cache) through real kernels, started as JupyterLab starts them.

    python tests/kernel_cache.py

1. Three kernels start together; each loads the support crate and a small path crate that no
   kernel has built yet (`lib_a`, in a scratch folder): all three load both, and `lib_a` is
   compiled once (the other two wait for it, then reuse it), as the cache's log shows.
2. Never stale: `lib_a::value()` is edited to return another number; the next kernel prints the new
   number, having compiled the crate once more; a kernel after that reuses the new build.
3. Cells are never served from the cache: two kernels evaluate a cell with the same item and a
   different body, and each prints its own answer; the log never names evcxr's cell crate (`ctx`).

The tests pass through the same code as the support crate (a path crate, compiled by cargo for a
kernel, wrapped by course-rustc-cache); `lib_a` stands in for it so that no test edits the course.
Exits non-zero on the first failure.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_hostile import NOTEBOOKS, ROOT, STARTUP_TIMEOUT, run_cell  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from warm_kernel import INIT, cache_dir  # noqa: E402  (set-up's reader of the same config)


def cache_log() -> Path:
    cache = cache_dir()
    if cache is None:
        raise SystemExit(f"[cache] error: {INIT} names no cache folder: run `make setup`")
    return cache / "log"


def log_since(offset: int) -> str:
    try:
        return cache_log().read_bytes()[offset:].decode(errors="replace")
    except OSError:
        return ""


def log_size() -> int:
    try:
        return cache_log().stat().st_size
    except OSError:
        return 0


def kernel_session(cells: list[str]) -> list[str]:
    """Starts a kernel, runs the cells in order, returns what each printed (stdout and display);
    raises with the kernel's message when a cell fails."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="rust", startup_timeout=STARTUP_TIMEOUT, cwd=str(NOTEBOOKS))
    try:
        outs = []
        for code in cells:
            r = run_cell(kc, code, STARTUP_TIMEOUT)
            if r.status != "ok":
                raise RuntimeError(f"cell {code[:60]!r} failed: {r.error[:500]}")
            outs.append((r.stdout + r.display).strip())
        return outs
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def count(text: str, what: str, crate: str) -> int:
    return len(re.findall(rf" {what} {crate} ", text))


def main() -> int:
    os.environ.setdefault("RUST_BACKTRACE", "0")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(Path(sys.prefix) / "share" / "jupyter")] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    if not INIT.exists():
        print(f"[cache] error: no {INIT}: run `make setup` first", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="kernel-cache-"))
    lib = scratch / "lib_a"
    (lib / "src").mkdir(parents=True)
    (lib / "Cargo.toml").write_text('[package]\nname = "lib_a"\nversion = "0.1.0"\nedition = "2021"\n')
    # A value unique to this run: no earlier run's entry can match it.
    stamp = int(time.time() * 1000) % 1_000_000_000
    (lib / "src" / "lib.rs").write_text(f"pub fn value() -> u64 {{ {stamp} }}\n")
    dep = f':dep support = {{ path = "../support" }}\n:dep lib_a = {{ path = "{lib}" }}'
    failures = 0

    def check(ok: bool, what: str, detail: str = "") -> None:
        nonlocal failures
        print(f"[cache] {'ok    ' if ok else 'FAILED'} {what}")
        if not ok:
            failures += 1
            if detail:
                print("         " + detail.replace("\n", "\n         ")[:2000])

    try:
        start = log_size()
        t0 = time.monotonic()
        with ThreadPoolExecutor(3) as pool:
            runs = list(pool.map(lambda _: kernel_session([dep, "lib_a::value()", "support::reexports::libc::EINVAL"]), range(3)))
        seconds = time.monotonic() - t0
        new = log_since(start)
        check(all(r[1:] == [str(stamp), "22"] for r in runs), f"three kernels started together all loaded both crates ({seconds:.0f}s)", repr(runs))
        check(count(new, "stored", "lib_a") == 1 and count(new, "hit", "lib_a") == 2,
              "the new crate was compiled once and reused twice", new)
        check(count(new, "stored", "support") == 0 and count(new, "hit", "support") == 3,
              "the support crate came from the cache in all three", new)

        start = log_size()
        (lib / "src" / "lib.rs").write_text(f"pub fn value() -> u64 {{ {stamp + 1} }}\n")
        edited = kernel_session([dep, "lib_a::value()"])
        again = kernel_session([dep, "lib_a::value()"])
        new = log_since(start)
        check(edited[1] == str(stamp + 1), "after an edit, the next kernel runs the new code", repr(edited))
        check(again[1] == str(stamp + 1) and count(new, "stored", "lib_a") == 1 and count(new, "hit", "lib_a") == 1,
              "the edit was compiled once, then reused", new)

        start = log_size()
        one = kernel_session(["fn answer() -> i32 { 1 }", "answer()"])
        two = kernel_session(["fn answer() -> i32 { 2 }", "answer()"])
        new = log_since(start)
        check((one[1], two[1]) == ("1", "2"), "the same cell with another body gives its own answer", repr((one, two)))
        check(" ctx " not in new, "no cell was stored in or served from the cache", new)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"[cache] {'all checks passed' if failures == 0 else f'{failures} check(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
