#!/usr/bin/env python3
"""Reproduces the "SIGKILL, then `support` is missing" failure of issue 12 with a real kernel.

    python tests/kernel_interrupt.py [SECONDS]     # default 5: interrupt that long after the :dep cell starts

evcxr_jupyter 0.22.0 answers an `interrupt_request` by killing its worker process (src/core.rs,
`handle_control`: `process_handle.lock().unwrap().kill()`, a SIGKILL), and jupyter_client interrupts a
kernel first whenever it restarts or shuts it down (manager.py, `_async_shutdown_kernel`). This script
starts the kernel as `make lab` does, runs the first cell of a chapter (`:dep support = ...`), interrupts
it, and prints what each following cell says. Measured (2 cores): the :dep cell fails with
"Subprocess terminated with status: signal: 9 (SIGKILL)", the next cell with "cannot find module or
crate `support`", and running the :dep cell again repairs the kernel. Not part of `make test` (it compiles
the support crate in a fresh kernel: about 30 s).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEP = ':dep support = { path = "../support" }'
USE = "support::layout::SizeTable::new()"


def main() -> int:
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    os.environ["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="rust")
    with open(os.devnull, "wb") as quiet:
        km.start_kernel(cwd=str(ROOT / "notebooks"), stdout=quiet, stderr=quiet)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(120)

        def said(msg_id: str) -> str:
            out = []
            while True:
                m = kc.get_iopub_msg(timeout=600)
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                if m["msg_type"] == "error":
                    out.append("error: " + m["content"]["evalue"].strip().splitlines()[0])
                elif m["msg_type"] in ("execute_result", "display_data"):
                    out.append("ok (a value)")
                elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    return "; ".join(out) or "ok"

        first = kc.execute(DEP)
        time.sleep(delay)
        km.interrupt_kernel()
        print(f"[interrupt] {DEP!r}, interrupted after {delay:.0f} s: {said(first)}")
        for code in (USE, DEP, USE):
            start = time.monotonic()
            result = said(kc.execute(code))
            print(f"[interrupt] then {code!r}: {result} ({time.monotonic() - start:.1f} s)")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
