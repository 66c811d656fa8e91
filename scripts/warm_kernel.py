"""Set-up's last step: one kernel loads the support crate, so that course-rustc-cache holds it and
the learner's first chapter finds it built. Prints one line: the time, and whether the crate was
compiled or already in the cache (read from the cache's log). Exits non-zero, with the reason on
its last line, when the kernel cannot start or the cell fails.

Run with JUPYTER_PATH pointing at the course's .venv/share/jupyter (scripts/setup.sh does). The shared
install (scripts/setup_shared.sh) runs it with COURSE_RUSTC_CACHE naming the shared cache and
`--notebooks DIR` naming the shared copy of the chapters."""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEP = ':dep support = { path = "../support" }'
# The evcxr config set-up writes for the course's kernel (it names the cache folder).
INIT = ROOT / ".tools" / "evcxr" / "init.evcxr"


def cache_dir() -> Path | None:
    """The cache folder: COURSE_RUSTC_CACHE when set, else the one named in the generated evcxr config
    (None when there is none)."""
    if os.environ.get("COURSE_RUSTC_CACHE"):
        return Path(os.environ["COURSE_RUSTC_CACHE"])
    m = re.search(r"^:build_env COURSE_RUSTC_CACHE=(.+)$", INIT.read_text(), re.M) if INIT.exists() else None
    return Path(m.group(1)) if m else None


def main(argv: list[str]) -> int:
    from jupyter_client.manager import start_new_kernel

    notebooks = Path(argv[argv.index("--notebooks") + 1]) if "--notebooks" in argv else ROOT / "notebooks"

    cache = cache_dir()
    log = cache / "log" if cache else None
    before = log.stat().st_size if log and log.exists() else 0
    start = time.monotonic()
    km, kc = start_new_kernel(kernel_name="rust", startup_timeout=300, cwd=str(notebooks))
    try:
        reply = kc.execute_interactive(DEP, timeout=900, output_hook=lambda m: None)
        if reply["content"]["status"] != "ok":
            print(f"the :dep cell failed: {reply['content'].get('evalue', '')[:300]}")
            return 1
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    seconds = time.monotonic() - start
    new = log.read_bytes()[before:].decode(errors="replace") if log and log.exists() else ""
    stored = len(re.findall(r" stored ", new))
    hits = len(re.findall(r" hit ", new))
    if re.search(r" stored support ", new):
        what = f"compiled and kept {stored} crates"
    elif re.search(r" hit support ", new):
        what = f"already in the cache ({hits} crates reused)"
    else:
        what = "loaded, but the cache log shows no support crate (is the cache folder writable?)"
    print(f"{what}; a kernel and its :dep cell took {seconds:.0f}s")
    return 0


if __name__ == "__main__":
    import signal
    # Stopped from outside (Ctrl-C, a timeout): unwind, so the `finally` above shuts the kernel down
    # instead of leaving it running without a parent.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("RUST_BACKTRACE", "0")
    sys.exit(main(sys.argv[1:]))
