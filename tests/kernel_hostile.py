#!/usr/bin/env python3
"""The worst inputs, sent to a live `rust` kernel: the kernel must keep its state.

    python tests/kernel_hostile.py

Starts the course's evcxr kernel as JupyterLab does (a fresh build folder; the support crate comes
from course-rustc-cache, warmed by set-up), defines a variable, then runs one cell per hostile input: counts of 10^12, sizes of
usize::MAX, f64::MAX in a chart, a path out of the std source, the display protocol's end marker in
an Html value, a foreign pointer to the guarded heap, a recorder cleared with a block live. Each cell
must end as its case says (an answer, or an error naming the limit), within its time bound, with the
kernel alive; at the end the variable defined first must still hold its value.

Exits non-zero on the first case that fails; prints one line per case.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
CELL_TIMEOUT = 60  # seconds for a hostile cell; the warm-up (:dep) gets STARTUP_TIMEOUT
STARTUP_TIMEOUT = 300


@dataclass
class Case:
    """One cell: its code, and what the kernel must answer."""

    name: str
    code: str
    # "ok": the cell runs and shows `shows` in its output; "error": the cell is stopped with `shows`
    # in its message (a refusal), and the kernel lives on. evcxr reports a panic in a cell as a
    # `panicked at` message on stderr (the execute reply still says "ok"), a compile error as an
    # error reply; both count as the cell being stopped.
    expect: str
    shows: str
    # Text that must NOT appear as plain stdout (a display block that broke open would leak there).
    not_in_stdout: str = ""


@dataclass
class CellResult:
    """What one cell produced, gathered from the kernel's messages."""

    status: str = "ok"  # the execute reply's status
    error: str = ""  # ename, evalue and traceback of an error
    stdout: str = ""  # stream output on stdout
    stderr: str = ""  # stream output on stderr (evcxr prints panics there)
    display: str = ""  # every display/execute_result, all mime types
    seconds: float = 0.0
    messages: list = field(default_factory=list)


KEEP = "let keep: Vec<u64> = vec![1, 2, 3];"
KEEP_CHECK = Case("the variable survived", "keep.iter().sum::<u64>()", "ok", "6")

CASES = [
    Case(
        "simulate(StdGrowth, 8, 10^12) answers in steps, not pushes",
        "support::growth::simulate::simulate(&support::growth::strategy::StdGrowth, 8, 1_000_000_000_000).reallocations",
        "ok",
        "39",
    ),
    Case(
        "CapacityTrace::record of 10^12 pushes is refused",
        'support::growth::trace::CapacityTrace::record("Vec<u8>", 1_000_000_000_000, |i| i as u8);',
        "error",
        "pushes n is 1000000000000, above the limit of",
    ),
    Case(
        "a LayoutReport of 1 TiB shows in summary form",
        'support::layout::LayoutReport::new("Huge", 1 << 40, 8, vec![]).unwrap()',
        "ok",
        "too many to draw",
    ),
    Case(
        "a chart with a point at f64::MAX says why it cannot be drawn",
        'support::views::chart::Chart::new("x").points("s", [(f64::MAX, 1.0)])',
        "ok",
        "linear axis",
    ),
    Case(
        "std_source::show('/etc/passwd') stays inside library/",
        'support::infra::std_source::show("/etc/passwd", "root")',
        "ok",
        "outside the source folder",
    ),
    Case(
        "an Html value holding EVCXR_END_CONTENT stays in its block",
        'support::views::display::Html("<b>before</b>\\nEVCXR_END_CONTENT\\nafter the marker".to_string())',
        "ok",
        "after the marker",
        not_in_stdout="after the marker",
    ),
    Case(
        "address_trailing_zeros of 10^12 samples is refused",
        "support::system::address_trailing_zeros(8, 8, 1_000_000_000_000).unwrap_err()",
        "ok",
        "samples is 1000000000000",
    ),
    Case(
        "lab::trace to usize::MAX bytes is refused before a process starts",
        'support::growth::lab::trace(support::growth::lab::Elem::U8, usize::MAX).unwrap_err()',
        "ok",
        "max_bytes is 18446744073709551615",
    ),
    Case(
        "GuardedSystem::realloc of a foreign pointer is refused",
        "\n".join(
            [
                "use std::alloc::{GlobalAlloc, Layout};",
                "let g = support::allocators::guarded::GuardedSystem::new();",
                "let mut x = 0u64;",
                "// SAFETY: the guarded heap refuses the foreign pointer before it reaches libc.",
                "let q = unsafe { g.realloc((&mut x as *mut u64).cast(), Layout::new::<u64>(), 64) };",
                "(q.is_null(), g.problems())",
            ]
        ),
        "ok",
        "not a live block",
    ),
    Case(
        "a recorder cleared with a block live, then the block freed",
        "\n".join(
            [
                "use support::reexports::allocator_api2::boxed::Box as ABox;",
                "let rec = support::allocators::recording::RecordingAllocator::new();",
                "let b = ABox::new_in(7u64, &rec);",
                "rec.clear();",
                "drop(b);",
                'format!("live blocks {}", rec.stats().live_blocks())',
            ]
        ),
        "ok",
        "live blocks 0",
    ),
    Case(
        "libc_calls with a request of usize::MAX bytes is refused before a process starts",
        'support::system::libc_calls(&["18446744073709551615:8"]).unwrap_err()',
        "ok",
        "limit of 134217728",
    ),
    Case(
        "criterion_estimates('/') does not walk the disk",
        'support::infra::timing::criterion_estimates("/").is_none()',
        "ok",
        "true",
    ),
    # ---- learner code inside a check (chapters 5 and 6): each ends in NOT YET, the kernel lives on ----
    Case(
        "5.1 with a bump rule that recurses without end",
        "\n".join([
            "fn deep(n: usize) -> usize { if n == usize::MAX { 0 } else { deep(n + 1) + 1 } }",
            "fn rec_rule(cur: usize, start: usize, size: usize, align: usize) -> Option<usize> {",
            "    Some(deep(cur + start + size + align))",
            "}",
            "support::exercise::ch5::check_bump_down(rec_rule).verdict.to_string()",
        ]),
        "ok",
        "overflowed the stack",
    ),
    Case(
        "5.3 with a class lookup that never returns",
        "\n".join([
            "fn spin(size: usize, _align: usize) -> Option<usize> {",
            "    let mut i = size; loop { i = std::hint::black_box(i.wrapping_add(1)); if i == 0 { return None; } }",
            "}",
            "support::exercise::ch5::check_class_lookup(spin).verdict.to_string()",
        ]),
        "ok",
        "did not finish within 20 s",
    ),
    Case(
        "6.2 with a sizing closure that panics",
        'support::exercise::ch6::check_with_capacity(|n| if n > 10 { panic!("too many: {n}") } else { n }).to_string()',
        "ok",
        "your sizing closure panicked (too many: 14)",
    ),
    Case(
        "6.2 with a sizing closure that allocates without end",
        "support::exercise::ch6::check_with_capacity(|n| { let mut v = Vec::new(); loop { v.push(vec![n as u8; 1 << 26]); } }).to_string()",
        "ok",
        "more memory than the check allows",
    ),
    # ---- the sandbox (support::infra::isolate) in every chapter whose check runs learner code: the
    # kernel denies files and processes to it, bounds it, and the kernel's variables survive ----
    Case(
        "2.1 with an allocator that calls itself (a loop once optimised: 5 s, lowered in the cell)",
        "\n".join([
            "support::infra::isolate::lower_time_limit(5);",
            "struct Selfish;",
            "unsafe impl std::alloc::GlobalAlloc for Selfish {",
            "    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 { unsafe { self.alloc(l) } }",
            "    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) { unsafe { std::alloc::System.dealloc(p, l) } }",
            "}",
            "support::exercise::ch2::check_limit_allocator(Selfish, 4096).to_string()",
        ]),
        "ok",
        "NOT YET [2.1",
    ),
    Case(
        "2.1 with an allocator that writes its own process memory",
        "\n".join([
            "struct Peek;",
            "unsafe impl std::alloc::GlobalAlloc for Peek {",
            "    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {",
            '        if let Err(e) = std::fs::OpenOptions::new().write(true).open("/proc/self/mem") { panic!("refused: {e}") }',
            "        unsafe { std::alloc::System.alloc(l) }",
            "    }",
            "    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) { unsafe { std::alloc::System.dealloc(p, l) } }",
            "}",
            "support::exercise::ch2::check_limit_allocator(Peek, 4096).to_string()",
        ]),
        "ok",
        "panicked (refused: Operation not permitted",
    ),
    Case(
        "4.1 with a x1.5 rule stuck at capacity 0 (5 s, lowered in the cell: a cell's statics are its own)",
        "\n".join([
            "support::infra::isolate::lower_time_limit(5);",
            "struct OneAndAHalf;",
            "impl support::growth::strategy::Growth for OneAndAHalf {",
            "    fn next_capacity(&self, cap: usize, required: usize, _e: usize) -> usize {",
            "        let mut c = cap; while c < required { c = c * 3 / 2; } c",
            "    }",
            '    fn name(&self) -> String { "x1.5".into() }',
            "}",
            "support::exercise::ch4::check_strategy(&OneAndAHalf).to_string()",
        ]),
        "ok",
        "did not finish within 5 s",
    ),
    Case(
        "4.1 with a strategy that spawns a process that would outlive it",
        "\n".join([
            "struct Spawner;",
            "impl support::growth::strategy::Growth for Spawner {",
            "    fn next_capacity(&self, cap: usize, required: usize, _e: usize) -> usize {",
            '        if let Err(e) = std::process::Command::new("sleep").arg("1000").spawn() { panic!("refused: {e}") }',
            "        (cap * 2).max(required)",
            "    }",
            '    fn name(&self) -> String { "spawner".into() }',
            "}",
            "support::exercise::ch4::check_strategy(&Spawner).to_string()",
        ]),
        "ok",
        "panicked (refused: Operation not permitted",
    ),
    Case(
        "5.1 with a bump rule that plants a file",
        "\n".join([
            "fn planting(cur: usize, _s: usize, _z: usize, _a: usize) -> Option<usize> {",
            '    if let Err(e) = std::fs::write("/tmp/course-kernel-planted", "x") { panic!("refused: {e}") }',
            "    Some(cur)",
            "}",
            "support::exercise::ch5::check_bump_down(planting).verdict.to_string()",
        ]),
        "ok",
        "panicked (refused: Operation not permitted",
    ),
    Case(
        "6.2 with a sizing closure that prints a quarter of a gigabyte",
        "\n".join([
            "support::exercise::ch6::check_with_capacity(|n| {",
            '    let l = "y".repeat(1 << 20); for _ in 0..256 { println!("{l}"); } panic!("flooded {n}")',
            "}).to_string()",
        ]),
        "ok",
        "NOT YET",
    ),
    Case(
        "7.2 with a build function that writes its own process memory",
        "\n".join([
            "support::exercise::ch7::check_cycle_broken(|_c: &support::boxes::DropCounter| -> Vec<std::rc::Rc<u8>> {",
            '    if let Err(e) = std::fs::OpenOptions::new().write(true).open("/proc/self/mem") { panic!("refused: {e}") }',
            "    vec![]",
            "}).to_string()",
        ]),
        "ok",
        "panicked (refused: Operation not permitted",
    ),
    Case(
        "8.1 with a source that brings in a file through #[path]",
        'support::exercise::ch8::check_render_table("#[path = \\"/etc/passwd\\"]\\nmod m;\\npub fn render_table(_: &[(&str, u32)]) -> String { String::new() }").to_string()',
        "ok",
        "`#[path]` is not allowed",
    ),
    Case(
        "8.2 with a function that writes its own process memory",
        "\n".join([
            'support::exercise::ch8::check_clean_tabs(r##"use std::borrow::Cow;',
            "pub fn clean(line: &str) -> Cow<'_, str> {",
            '    if let Err(e) = std::fs::OpenOptions::new().write(true).open("/proc/self/mem") { panic!("refused: {e}") }',
            "    Cow::Borrowed(line)",
            '}"##).to_string()',
        ]),
        "ok",
        "refused: Operation not permitted",
    ),
    Case(
        "8.2 with a function that reads its own process memory",
        "\n".join([
            'support::exercise::ch8::check_clean_tabs(r##"use std::borrow::Cow;',
            "pub fn clean(line: &str) -> Cow<'_, str> {",
            '    if let Err(e) = std::fs::read("/proc/self/mem") { panic!("refused: {e}") }',
            '    Cow::Borrowed(line)',
            '}"##).to_string()',
        ]),
        "ok",
        "refused: Operation not permitted",
    ),
    Case(
        "8.2 with a function that writes a gigabyte to a file",
        "\n".join([
            'support::exercise::ch8::check_clean_tabs(r##"use std::borrow::Cow;',
            "pub fn clean(line: &str) -> Cow<'_, str> {",
            '    let chunk = vec![0u8; 1 << 20]; let r = std::fs::File::create("/tmp/course-hostile-big").and_then(|mut f| { use std::io::Write; (0..1024).try_for_each(|_| f.write_all(&chunk)) }); if let Err(e) = r { panic!("refused: {e}") }',
            '    Cow::Borrowed(line)',
            '}"##).to_string()',
        ]),
        "ok",
        "refused: Operation not permitted",
    ),
    Case(
        "8.1 with a function that plants a file",
        "\n".join([
            'support::exercise::ch8::check_render_table(r##"',
            'pub fn render_table(rows: &[(&str, u32)]) -> String {',
            '    if let Err(e) = std::fs::write("/tmp/course-hostile-planted.rs", "fn main() {}") { panic!("refused: {e}") }',
            '    rows.iter().map(|(n, v)| format!("{n}: {v}\\n")).collect()',
            '}"##).to_string()',
        ]),
        "ok",
        "refused: Operation not permitted",
    ),
    Case(
        "8.1 with a function that spawns a process that would outlive it",
        "\n".join([
            'support::exercise::ch8::check_render_table(r##"',
            'pub fn render_table(rows: &[(&str, u32)]) -> String {',
            '    if let Err(e) = std::process::Command::new("sleep").arg("1000").spawn() { panic!("refused: {e}") }',
            '    rows.iter().map(|(n, v)| format!("{n}: {v}\\n")).collect()',
            '}"##).to_string()',
        ]),
        "ok",
        "refused: Operation not permitted",
    ),
    Case(
        "3.2 with a MyBox that frees its block twice (glibc aborts the copy of the kernel)",
        "\n".join([
            "support::exercise::ch3::check_mybox(|_heap, _drops| {",
            "    let l = std::alloc::Layout::new::<u64>();",
            "    // SAFETY: none on purpose: the second free is a double free, which glibc aborts.",
            "    // (black_box: an allocation freed unused is otherwise removed by the optimiser.)",
            "    unsafe {",
            "        let p = std::hint::black_box(std::alloc::alloc(l));",
            "        std::alloc::dealloc(p, l);",
            "        std::alloc::dealloc(std::hint::black_box(p), l);",
            "    }",
            "    42",
            "}).to_string()",
        ]),
        "ok",
        "your MyBox crashed the copy of the kernel it ran in (signal 6",
    ),
    Case(
        "3.2 with a MyBox that reads its own process memory",
        "\n".join([
            "support::exercise::ch3::check_mybox(|_heap, _drops| {",
            '    if let Err(e) = std::fs::read("/proc/self/mem") { panic!("refused: {e}") }',
            "    42",
            "}).to_string()",
        ]),
        "ok",
        "panicked (refused: Operation not permitted",
    ),
    Case(
        "6.2 with a sizing closure that writes a gigabyte to a file",
        "\n".join([
            "support::exercise::ch6::check_with_capacity(|n| {",
            '    let chunk = vec![0u8; 1 << 20];',
            '    let r = std::fs::File::create("/tmp/course-kernel-big").and_then(|mut f| {',
            "        use std::io::Write; (0..1024).try_for_each(|_| f.write_all(&chunk))",
            "    });",
            '    if let Err(e) = r { panic!("refused: {e}") }',
            "    n",
            "}).to_string()",
        ]),
        "ok",
        "panicked (refused: Operation not permitted",
    ),
    Case(
        "4.2 one capacity wrong reads as all five wrong (which, or how many, is not said)",
        "support::exercise::ch4::check_capacity_prediction([6, 15, 24, 4, 8]).to_string()",
        "ok",
        "not all 5 predictions are right yet",
    ),
    # ---- a yes/no prediction check cannot be brute-forced: the count of wrong ones is never said,
    # and wrong attempts beyond three cost time, counted across cells ----
    *[
        Case(
            f"7.3 wrong attempt {i} (the count of wrong predictions is not said)",
            "support::exercise::ch7::check_make_mut_prediction([true; 5]).to_string()",
            "ok",
            "not all 5 predictions are right yet",
        )
        for i in (1, 2, 3)
    ],
    Case(
        "7.3 wrong attempt 4 waits 10 s before its verdict",
        "support::exercise::ch7::check_make_mut_prediction([true; 5]).to_string()",
        "ok",
        "wrong attempt 4: this verdict waited 10 s",
    ),
    Case(
        "no file was planted and no process outlived its check",
        "\n".join([
            'let planted = std::path::Path::new("/tmp/course-kernel-planted").exists()',
            '    || std::path::Path::new("/tmp/course-kernel-big").exists();',
            'let sleepers = std::process::Command::new("pgrep").args(["-f", "^sleep 1000$"]).output().map(|o| o.stdout.len()).unwrap_or(0);',
            'format!("planted={planted} sleepers={sleepers}")',
        ]),
        "ok",
        "planted=false sleepers=0",
    ),
]


def judge(case: Case, result: CellResult) -> list[str]:
    """Everything wrong with a cell's result for its case; empty when it is as expected."""
    problems = []
    if case.expect == "ok":
        if result.status != "ok":
            problems.append(f"expected an answer, got an error: {result.error[:300]}")
        elif case.shows not in result.display + result.stdout:
            problems.append(f"expected {case.shows!r} in the output, got {(result.display + result.stdout)[:300]!r}")
    else:
        stopped = result.status != "ok" or "panicked at" in result.stderr
        message = result.error + result.stderr
        if not stopped:
            problems.append("expected the cell to be stopped with an error, it succeeded")
        elif case.shows not in message:
            problems.append(f"expected {case.shows!r} in the error, got {message[:300]!r}")
    if case.not_in_stdout and case.not_in_stdout in result.stdout:
        problems.append(f"{case.not_in_stdout!r} leaked out of its display block into stdout")
    return problems


def collect(result: CellResult, msg: dict) -> None:
    """Adds one iopub message to a cell's result."""
    kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
    content = msg.get("content", {})
    result.messages.append(kind)
    if kind == "stream" and content.get("name") == "stderr":
        result.stderr += content.get("text", "")
    elif kind == "stream":
        result.stdout += content.get("text", "")
    elif kind in ("display_data", "execute_result"):
        result.display += "\n".join(str(v) for v in content.get("data", {}).values())
    elif kind == "error":
        result.error += "\n".join(
            [content.get("ename", ""), content.get("evalue", "")] + list(content.get("traceback", []))
        )


def run_cell(kc, code: str, timeout: float) -> CellResult:
    result = CellResult()
    start = time.monotonic()
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: collect(result, m))
    result.seconds = time.monotonic() - start
    result.status = reply["content"]["status"]
    if result.status != "ok" and not result.error:
        c = reply["content"]
        result.error = "\n".join([c.get("ename", ""), c.get("evalue", "")] + list(c.get("traceback", [])))
    return result


def main() -> int:
    os.environ.setdefault("RUST_BACKTRACE", "0")
    venv_kernels = Path(sys.prefix) / "share" / "jupyter"
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(venv_kernels)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import start_new_kernel

    try:
        KernelSpecManager().get_kernel_spec("rust")
    except NoSuchKernel:
        print("[kernel] error: the Jupyter kernel 'rust' is not installed here: run `make setup` first", file=sys.stderr)
        return 1
    total = time.monotonic()
    km, kc = start_new_kernel(kernel_name="rust", startup_timeout=STARTUP_TIMEOUT, cwd=str(NOTEBOOKS))
    failed = 0
    try:
        warm = run_cell(kc, ':dep support = { path = "../support" }\n' + KEEP, STARTUP_TIMEOUT)
        if warm.status != "ok":
            print(f"[kernel] set-up cell failed: {warm.error[:1000]}", file=sys.stderr)
            return 1
        print(f"[kernel] support crate loaded, `keep` defined ({warm.seconds:.1f}s)")
        for case in CASES + [KEEP_CHECK]:
            try:
                result = run_cell(kc, case.code, CELL_TIMEOUT)
            except TimeoutError:
                print(f"[kernel] HANG   {case.name}: no reply after {CELL_TIMEOUT}s")
                return 1
            problems = judge(case, result)
            if not km.is_alive():
                problems.append("the kernel died")
            status = "ok" if not problems else "FAILED"
            print(f"[kernel] {status:<6} {case.name} ({result.seconds:.1f}s)")
            for p in problems:
                print(f"         - {p}")
            failed += bool(problems)
            if not km.is_alive():
                return 1
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    # What the refused cells tried to leave behind: a planted file, a gigabyte file, a process outliving its check.
    left = [f for f in ("/tmp/course-hostile-planted.rs", "/tmp/course-hostile-big") if os.path.exists(f)]
    sleepers = subprocess.run(["pgrep", "-x", "-f", "sleep 1000"], capture_output=True, text=True).stdout.split()
    if left or sleepers:
        print(f"[kernel] FAILED the checks left behind files {left} and processes {sleepers}")
        failed += 1
    n = len(CASES)
    print(f"[kernel] {n - failed}/{n} hostile cells as expected and `keep` intact: "
          f"{'yes' if failed == 0 else 'no'}; {time.monotonic() - total:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
