#!/usr/bin/env python3
"""Notebook checks and headless execution for the course.

    python tests/notebooks.py hygiene             # structure checks, no kernel needed (seconds)
    python tests/notebooks.py execute [NB ...]     # run every chapter through the real `rust` kernel

`execute` runs the notebooks in order, prints one progress line per notebook, and writes into build/:
the executed notebook, a standalone HTML page per chapter, and index.html linking them. It exits
non-zero if any cell errors. A cell that must fail (a deliberate compile error, a panic shown on
purpose) carries the standard Jupyter tag `raises-exception`; such a cell is checked to fail.
Exercise check cells (tag `exercise-check`) must say NOT YET on the committed, unsolved exercise, and
solution cells (tag `solution`, source hidden in JupyterLab) must say PASS.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
EXPECTED_FAIL_TAG = "raises-exception"
SUPPORT_DEP = ':dep support = { path = "../support" }'


def notebook_paths(names: list[str]) -> list[Path]:
    if names:
        return [Path(n).resolve() for n in names]
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def hygiene_problems(path: Path) -> list[str]:
    """Everything wrong with how a notebook is committed; an empty list means clean."""
    import nbformat

    problems = []
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # invalid JSON or schema
        return [f"not a valid nbformat 4 notebook: {e}"]
    spec = nb.metadata.get("kernelspec", {})
    if spec.get("name") != "rust":
        problems.append(f"kernelspec name is {spec.get('name')!r}, expected 'rust'")
    if nb.metadata.get("language_info", {}).get("name") not in (None, "rust", "Rust"):
        problems.append("language_info is not rust")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        problems.append("has no code cells")
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code":
            if c.get("outputs"):
                problems.append(f"cell {i} is committed with outputs")
            if c.get("execution_count") is not None:
                problems.append(f"cell {i} is committed with an execution count")
        extra = set(c.get("metadata", {})) - {"tags", "jupyter"}
        if extra:
            problems.append(f"cell {i} has unstable metadata keys {sorted(extra)}")
    if code:
        first = [ln.strip() for ln in code[0].source.splitlines() if ln.strip()]
        if not first or first[0] != SUPPORT_DEP:
            problems.append(f"the first code cell must start with `{SUPPORT_DEP}`")
        stray = [ln for ln in first if not (ln.startswith(":dep ") or ln.startswith("//"))]
        if stray:
            problems.append(f"the first code cell holds only :dep lines, found {stray[0]!r}")
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        problems.append("the first cell must be a markdown title ('# ...')")
    return problems


def unsafe_problems(nb) -> list[str]:
    """Every `unsafe` block or impl in a code cell needs a `// SAFETY:` comment: on its line, or in
    the comment lines right above it (as clippy's undocumented_unsafe_blocks asks of the crate)."""
    problems = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        lines = c.source.splitlines()
        for n, line in enumerate(lines):
            code = re.sub(RUST_STR, '""', line).split("//", 1)[0]
            if not re.search(r"\bunsafe\s*(\{|impl\b)", code):
                continue
            documented = "SAFETY:" in line
            k = n - 1
            while not documented and k >= 0 and lines[k].strip().startswith("//"):
                documented = "SAFETY:" in lines[k]
                k -= 1
            if not documented:
                problems.append(f"cell {i} line {n + 1}: `unsafe` without a `// SAFETY:` comment: {line.strip()!r}")
    return problems


# `std_source::show("PATH", "ITEM")` and `show_after("PATH", "ANCHOR", "ITEM")` with literal arguments.
RUST_STR = r'"((?:[^"\\]|\\.)*)"'
SHOW_CALL = re.compile(r"std_source::show\(\s*" + RUST_STR + r"\s*,\s*" + RUST_STR + r"\s*\)")
SHOW_AFTER_CALL = re.compile(
    r"std_source::show_after\(\s*" + RUST_STR + r"\s*,\s*" + RUST_STR + r"\s*,\s*" + RUST_STR + r"\s*\)"
)


def rust_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def excerpt_requests(nb) -> list[tuple[int, tuple[str, ...]]]:
    """(cell index, (path, item) or (path, anchor, item)) for every std-source excerpt a code cell shows."""
    found = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        for pattern in (SHOW_CALL, SHOW_AFTER_CALL):
            for m in pattern.finditer(c.source):
                found.append((i, tuple(rust_unescape(g) for g in m.groups())))
    return found


def check_excerpts_with_crate(requests: list[tuple[str, ...]]) -> list[str]:
    """One answer per request (`ok ...` or `error: ...`), from the support crate's own lookup."""
    import subprocess

    stdin = "".join("\t".join(r) + "\n" for r in requests)
    cmd = ["cargo", "run", "--quiet", "-p", "support", "--example", "std_excerpt", "--", "--check"]
    out = subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True, text=True)
    answers = out.stdout.splitlines()
    if out.returncode != 0 or len(answers) != len(requests):
        reason = out.stderr.strip().splitlines()[-1:] or ["no output"]
        return [f"error: std_excerpt --check failed: {reason[0]}"] * len(requests)
    return answers


def excerpt_problems(notebooks: dict, check=check_excerpts_with_crate) -> dict:
    """Per notebook name, the excerpts its cells show that the installed rust-src does not have.
    A request whose path names `no_such_file` is the deliberate error example: it must fail."""
    requests = [(name, cell, req) for name, nb in notebooks.items() for cell, req in excerpt_requests(nb)]
    answers = check([req for _, _, req in requests]) if requests else []
    problems = {name: [] for name in notebooks}
    for (name, cell, req), answer in zip(requests, answers):
        expect_error = "no_such_file" in req[0]
        if answer.startswith("ok") == expect_error:
            said = answer if not expect_error else "it was found"
            problems[name].append(f"cell {cell}: excerpt {' / '.join(req)}: {said}")
    return problems


def cmd_hygiene(args) -> int:
    import nbformat

    paths = notebook_paths(args.notebooks)
    if not paths:
        print("[hygiene] no notebooks found in notebooks/", file=sys.stderr)
        return 1
    readable = {}
    for p in paths:
        try:
            readable[p.name] = nbformat.read(p, as_version=4)
        except Exception:  # reported by hygiene_problems
            pass
    excerpts = excerpt_problems(readable)
    bad = 0
    for p in paths:
        probs = hygiene_problems(p)
        if p.name in readable:
            probs += unsafe_problems(readable[p.name]) + excerpts[p.name]
        status = "ok" if not probs else "FAILED"
        print(f"[hygiene] {p.name:<36} {status}")
        for pr in probs:
            print(f"          - {pr}")
        bad += bool(probs)
    return 1 if bad else 0


# evcxr reports a panic or a crashed child process as stderr text, not as an `error` output.
FAILURE_MARKERS = ("panicked at", "Child process terminated", "Subprocess terminated")


def cell_errors(cell) -> list[dict]:
    """The cell's error outputs, with panics and crashes (stderr text) turned into errors."""
    errors = []
    stderr = ""
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            errors.append(o)
        elif o.get("output_type") == "stream" and o.get("name") == "stderr":
            stderr += o.get("text", "")
    if any(m in stderr for m in FAILURE_MARKERS):
        errors.append({"ename": "panic", "evalue": stderr.strip(), "traceback": [stderr.strip()]})
    return errors


def output_text(cell) -> str:
    """Everything a cell showed, as one string (stream text and text/plain or text/html data)."""
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", ""))
        data = o.get("data", {})
        parts.append(data.get("text/plain", ""))
        parts.append(data.get("text/html", ""))
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def cell_failures(nb) -> list[str]:
    """Error outputs in cells not tagged to fail, and tagged cells that did not fail."""
    out = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        errors = cell_errors(c)
        expected = EXPECTED_FAIL_TAG in tags(c)
        if errors and not expected:
            e = errors[0]
            detail = "\n".join(e.get("traceback", [])) or e.get("evalue", "")
            detail = re.sub(r"\x1b\[[0-9;]*m", "", detail)  # evcxr colours its compiler errors
            first = c.source.strip().splitlines()[0] if c.source.strip() else ""
            out.append(f"cell {i} ({first[:60]!r}) errored: {e.get('ename')}: {detail[:2000]}")
        if expected and not errors:
            out.append(f"cell {i} is tagged {EXPECTED_FAIL_TAG} but did not fail")
        # Exercises must fail unsolved and pass solved, in the real kernel, every run.
        shown = output_text(c)
        if "exercise-check" in tags(c) and "NOT YET" not in shown:
            out.append(f"cell {i} checks an unsolved exercise but did not say NOT YET: {shown[:300]!r}")
        if "solution" in tags(c) and ("PASS" not in shown or "NOT YET" in shown):
            out.append(f"cell {i} runs a solution but did not say PASS: {shown[:300]!r}")
    return out


def title_of(nb, fallback: str) -> str:
    for c in nb.cells:
        if c.cell_type == "markdown":
            for ln in c.source.splitlines():
                if ln.startswith("# "):
                    return ln[2:].strip()
    return fallback


def hide_solutions(page: str) -> str:
    """Folds the source of every `solution` cell of an HTML page into a closed <details> block, so
    that a reader without a kernel sees the exercise first and opens the solution when wanted."""
    marker = "celltag_solution"
    out, pos = [], 0
    while True:
        i = page.find(marker, pos)
        if i < 0:
            break
        start = page.find('<div class="jp-Cell-inputWrapper"', i)
        end = page.find('<div class="jp-Cell-outputWrapper"', start)
        nxt = page.find(marker, i + len(marker))
        if start < 0 or end < 0 or (0 <= nxt < start):
            pos = i + len(marker)
            continue
        out.append(page[pos:start])
        out.append('<details style="margin:4px 0"><summary style="cursor:pointer;font-weight:bold">'
                   "Show the solution</summary>")
        out.append(page[start:end])
        out.append("</details>")
        pos = end
    out.append(page[pos:])
    return "".join(out)


def write_index(results: list[dict]) -> None:
    def row(r: dict) -> str:
        name = html.escape(r["name"])
        link = f'<a href="{html.escape(r["html"])}">{name}</a>' if r["html"] else name
        return (f'<tr><td>{link}</td><td>{html.escape(r["title"])}</td>'
                f'<td style="text-align:right">{r["cells"]}</td>'
                f'<td style="text-align:right">{r["seconds"]:.1f}</td><td>{r["status"]}</td></tr>')

    rows = "\n".join(row(r) for r in results)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Rust Allocation from First Principles</title></head>
<body style="font-family:sans-serif;max-width:60em;margin:2em auto">
<h1>Rust Allocation from First Principles</h1>
<p>Chapters executed headless on {html.escape(time.strftime('%Y-%m-%d %H:%M %Z'))} through the evcxr <code>rust</code> kernel.</p>
<table style="border-collapse:collapse" border="1" cellpadding="6">
<tr><th>notebook</th><th>chapter</th><th>code cells</th><th>seconds</th><th>status</th></tr>
{rows}
</table></body></html>
"""
    (BUILD / "index.html").write_text(page)


def execute_one(path: Path) -> dict:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    ncode = sum(c.cell_type == "code" for c in nb.cells)
    client = NotebookClient(
        nb,
        kernel_name="rust",
        timeout=900,
        startup_timeout=300,
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.monotonic()
    failures: list[str] = []
    try:
        client.execute()
    except Exception as e:  # dead kernel, timeout
        failures.append(f"execution stopped: {type(e).__name__}: {str(e)[:2000]}")
    seconds = time.monotonic() - start
    failures += cell_failures(nb)
    BUILD.mkdir(exist_ok=True)
    nbformat.write(nb, BUILD / path.name)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    body = hide_solutions(body)
    html_name = path.stem + ".html"
    (BUILD / html_name).write_text(body)
    return {
        "name": path.name,
        "title": title_of(nb, path.stem),
        "cells": ncode,
        "seconds": seconds,
        "status": "ok" if not failures else "failed",
        "failures": failures,
        "html": html_name,
    }


def cmd_execute(args) -> int:
    paths = notebook_paths(args.notebooks)
    if not paths:
        print("[run] no notebooks found in notebooks/", file=sys.stderr)
        return 1
    BUILD.mkdir(exist_ok=True)
    # One persistent evcxr build directory: notebooks run one at a time, so they share compiled
    # dependencies (plotters, the support crate) and a second run rebuilds nothing.
    os.environ.setdefault("EVCXR_TMPDIR", str(BUILD / "evcxr"))
    os.environ.setdefault("RUST_BACKTRACE", "0")  # panics shown in pages stay short
    Path(os.environ["EVCXR_TMPDIR"]).mkdir(parents=True, exist_ok=True)
    # Our kernel spec lives in .venv; put it first so a `rust` kernel in ~/.local cannot shadow it.
    venv_kernels = Path(sys.prefix) / "share" / "jupyter"
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(venv_kernels)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("rust")
    except NoSuchKernel:
        print("[run] error: the Jupyter kernel 'rust' is not installed here: run `make setup` first",
              file=sys.stderr)
        return 1
    results = []
    total = time.monotonic()
    # The index lists every chapter: results of this run, else of the last run that executed it.
    summary_path = BUILD / "run-summary.json"
    try:
        previous = {r["name"]: r for r in json.loads(summary_path.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        previous = {}
    for i, p in enumerate(paths, 1):
        print(f"[run] {i}/{len(paths)} {p.name} ...", flush=True)
        r = execute_one(p)
        results.append(r)
        print(f"[run] {p.name:<36} {r['cells']:>3} cells {r['seconds']:>7.1f}s  {r['status']}", flush=True)
        for f in r["failures"]:
            print("      - " + f.replace("\n", "\n        "))
        previous[r["name"]] = r
        existing = {q.name for q in NOTEBOOKS.glob("*.ipynb")} | {q.name for q in paths}
        everything = [
            previous.get(n, {"name": n, "title": n, "cells": 0, "seconds": 0.0,
                             "status": "not run yet", "failures": [], "html": ""})
            for n in sorted(existing)
        ]
        write_index(everything)
        summary_path.write_text(json.dumps(everything, indent=1))
    failed = [r for r in results if r["status"] != "ok"]
    print(
        f"[run] {len(results) - len(failed)}/{len(results)} notebooks ok in "
        f"{time.monotonic() - total:.1f}s; pages in {BUILD.relative_to(ROOT)}/index.html"
    )
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("hygiene", "execute"):
        sp = sub.add_parser(name)
        sp.add_argument("notebooks", nargs="*", help="notebook files (default: notebooks/*.ipynb)")
    args = ap.parse_args()
    return {"hygiene": cmd_hygiene, "execute": cmd_execute}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
