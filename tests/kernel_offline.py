#!/usr/bin/env python3
"""Does evcxr's `:offline 1` shorten the course's `:dep` cell? (issue 28: the kernel's own crate has no lock
file, so a `:dep` may look at the crates index.)

    .venv/bin/python tests/kernel_offline.py [ROUNDS]

Starts fresh kernels of the course's kernel spec in notebooks/ (cold: no warm-kernel pool, jupyter_client
only), alternately with and without `:offline 1` run first, and times the chapter's `:dep` cell alone in
each (ROUNDS pairs, default 3, at most 10). Prints each time and the medians; a measurement, not a test
(no pass or fail: the machine's load decides the numbers).
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEP = ':dep support = { path = "../support" }'


def timed_dep(offline: bool) -> float:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="rust", startup_timeout=300, cwd=str(ROOT / "notebooks"))
    try:
        if offline:
            reply = kc.execute_interactive(":offline 1", timeout=120, output_hook=lambda m: None)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f":offline 1 failed: {reply['content']}")
        t0 = time.monotonic()
        reply = kc.execute_interactive(DEP, timeout=900, output_hook=lambda m: None)
        seconds = time.monotonic() - t0
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the :dep cell failed: {reply['content'].get('evalue', '')[:300]}")
        return seconds
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(argv: list[str]) -> int:
    try:
        rounds = max(1, min(10, int(argv[0]))) if argv else 3
    except ValueError:
        print("usage: kernel_offline.py [ROUNDS (1-10)]", file=sys.stderr)
        return 2
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(rounds):
        for offline in (False, True):
            s = timed_dep(offline)
            times[offline].append(s)
            print(f"[offline] round {i + 1}: :dep cell {'with' if offline else 'without'} :offline 1: {s:.2f}s", flush=True)
    plain, off = statistics.median(times[False]), statistics.median(times[True])
    print(f"[offline] median of {rounds}: without {plain:.2f}s, with :offline 1 {off:.2f}s "
          f"({'shorter' if off < plain else 'not shorter'} by {abs(plain - off):.2f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
