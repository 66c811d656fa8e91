#!/usr/bin/env python3
"""Notebook checks and headless execution for the course.

    python course/runner.py hygiene             # structure checks, no kernel needed (seconds)
    python course/runner.py execute [NB ...]     # run every chapter through the real `rust` kernel
    python course/runner.py slides [NB ...]      # reveal.js decks from the executed chapters
    python course/runner.py pages                # build the book again from build/*.ipynb (no kernel)
    python course/runner.py normalize [NB ...]   # rewrite notebooks in the form the git filter commits

`execute` runs the notebooks in order, prints one progress line per notebook, and writes into build/:
the executed notebook, then the book (course/book.py, mdBook): index.html, a page per chapter (sidebar,
search, contents of the page, inline charts, folded solutions), teachers.html and the docs/ pages. The kernel's own chatter
(evcxr's start-up line, cargo's "Compiling ..." lines) goes to build/logs/NAME.kernel.log, which a
failure report points at. It exits non-zero if any cell errors. A cell that must fail (a deliberate
compile error, a panic shown on purpose) carries the standard Jupyter tag `raises-exception`; such a cell is checked to fail.
Exercise check cells (tag `exercise-check`) must say NOT YET on the committed, unsolved exercise, and
solution cells (tag `solution`, source hidden in JupyterLab) must say PASS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import book  # course/book.py and course/pages.py, beside this file (python puts this folder first on sys.path)
import pages

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


def clean_filter(path: Path) -> tuple[str, Path] | None:
    """The clean command git runs on `path` when committing it (the nbstripout filter that
    scripts/setup.sh configures), with the folder git runs it in; None outside git or without one."""
    def git(*args: str) -> str:
        r = subprocess.run(["git", *args], cwd=path.parent, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""

    attr = git("check-attr", "filter", "--", path.name)
    name = attr.rsplit(": ", 1)[-1] if attr else ""
    if name in ("", "unspecified", "unset", "set"):
        return None
    command, top = git("config", "--get", f"filter.{name}.clean"), git("rev-parse", "--show-toplevel")
    return (command, Path(top)) if command and top else None


def committed_text(path: Path) -> tuple[str, bool]:
    """The notebook as git would commit it: through the clean filter when one is configured (outputs
    that autosave wrote into a learner's working copy are not committed, so they are not a problem).
    Returns the text and whether the filter was applied."""
    raw = path.read_bytes()
    filt = clean_filter(path)
    if filt is None:
        return raw.decode("utf-8"), False
    command, top = filt
    r = subprocess.run(command, shell=True, cwd=top, input=raw, capture_output=True)
    if r.returncode != 0 or not r.stdout:
        # git itself would commit the unfiltered file in this case; so check that.
        return raw.decode("utf-8"), False
    return r.stdout.decode("utf-8"), True


def canonical(text: str) -> str:
    """The form JupyterLab saves and the nbstripout filter commits: nbformat's JSON, keys sorted."""
    import nbformat

    return nbformat.writes(nbformat.reads(text, as_version=4)) + "\n"


def hygiene_problems(path: Path) -> list[str]:
    """Everything wrong with how a notebook is committed; an empty list means clean."""
    import nbformat

    problems = []
    try:
        text, _ = committed_text(path)
        nb = nbformat.reads(text, as_version=4)
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
    stored = stored_text(path)
    if not problems and stored is not None and stored != canonical(stored):
        problems.append("not stored in the form JupyterLab saves and the git filter commits (nbformat JSON, "
                        "sorted keys), so every saved notebook would show as modified: run `make normalize`, "
                        "then commit")
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


def stored_text(path: Path) -> str | None:
    """The notebook as git stores it now (the index, i.e. the last commit plus what is staged), or the
    file itself outside git; None if it cannot be read."""
    r = subprocess.run(["git", "show", f":./{path.name}"], cwd=path.parent, capture_output=True)
    if r.returncode == 0:
        return r.stdout.decode("utf-8", errors="replace")
    try:
        return path.read_text()
    except OSError:
        return None


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
        # A cell whose last expression is a loop or a `match` shows a bare `Out[n]: ()` to the reader.
        if any(o.get("output_type") == "execute_result"
               and "".join(o.get("data", {}).get("text/plain", "")).strip() == "()" for o in c.outputs):
            out.append(f"cell {i} shows a bare `()` as its value: end its last loop or match with `;`")
        # Exercises must fail unsolved and pass solved, in the real kernel, every run.
        # A check this machine cannot make (CANNOT CHECK HERE: a missing tool, said by the check) is
        # neither; execute_one reports it as a note.
        shown = output_text(c)
        if CANNOT_CHECK in shown:
            continue
        if "exercise-check" in tags(c) and "NOT YET" not in shown:
            out.append(f"cell {i} checks an unsolved exercise but did not say NOT YET: {shown[:300]!r}")
        if "solution" in tags(c) and ("PASS" not in shown or "NOT YET" in shown):
            out.append(f"cell {i} runs a solution but did not say PASS: {shown[:300]!r}")
    return out


CANNOT_CHECK = "CANNOT CHECK HERE"


def unchecked_notes(nb) -> list[str]:
    """The checks of the executed notebook that said this machine cannot make them, with their reason."""
    notes = []
    for i, c in enumerate(nb.cells):
        shown = output_text(c) if c.cell_type == "code" else ""
        at = shown.find(CANNOT_CHECK)
        if at >= 0:
            notes.append(f"cell {i}: " + re.sub(r"<[^>]+>", "", shown[at:at + 300]).strip())
    return notes


KILLED = "signal: 9 (SIGKILL)"
KILLED_HINT = ("(evcxr's worker process was killed: evcxr answers an interrupt, including the one every "
               "restart or shutdown sends first, with SIGKILL, and so does the out-of-memory killer. If the "
               "`:dep` cell failed this way, later cells cannot find `support`: run the first cell again, then "
               "the rest from the top. README, Troubleshooting.)")


def execute_one(path: Path, chs: list[dict]) -> dict:
    import nbformat
    from nbclient import NotebookClient

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
    logs = BUILD / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{path.stem}.kernel.log"
    start = time.monotonic()
    failures: list[str] = []
    # The kernel's stdout/stderr (evcxr's "No configuration file found..." line, cargo's "Compiling"
    # lines) go to a log file instead of the progress output; a failure points at the log.
    with open(log_path, "wb") as log:
        try:
            client.execute(stdout=log, stderr=log)
        except Exception as e:  # dead kernel, timeout
            failures.append(f"execution stopped: {type(e).__name__}: {str(e)[:2000]}")
    seconds = time.monotonic() - start
    failures += cell_failures(nb)
    failures = [f + "\n" + KILLED_HINT if KILLED in f else f for f in failures]
    if failures:
        failures.append(f"the kernel's own output is in {log_path.relative_to(ROOT)}")
    nbformat.write(nb, BUILD / path.name)
    html_name = path.stem + ".html"  # the book's page of the chapter (course/book.py)
    return {
        "name": path.name,
        "title": pages.notebook_title(nb.cells, path.stem),
        "cells": ncode,
        "seconds": seconds,
        "status": "ok" if not failures else "failed",
        "failures": failures,
        "notes": unchecked_notes(nb),
        "html": html_name,
        "facts": pages.chapter_facts(nb),
    }


def use_course_kernel() -> bool:
    """Points Jupyter at the course's kernel spec (in .venv first, so a `rust` kernel in ~/.local
    cannot shadow it); False, after saying what to do, when it is not installed."""
    venv_kernels = Path(sys.prefix) / "share" / "jupyter"
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(venv_kernels)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
                               if p and p != str(venv_kernels)]
    )
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("rust")
    except NoSuchKernel:
        print("[run] error: the Jupyter kernel 'rust' is not installed here: run `make setup` first",
              file=sys.stderr)
        return False
    return True


def load_summary() -> dict:
    try:
        return {r["name"]: r for r in json.loads((BUILD / "run-summary.json").read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def everything(previous: dict, extra: list[Path] = ()) -> list[dict]:
    """One row per chapter for the index: this run's result, else the last run's, else 'not run yet'.
    A row without the teacher's-page facts gets them from its executed notebook in build/."""
    import nbformat

    existing = {q.name for q in NOTEBOOKS.glob("*.ipynb")} | {q.name for q in extra}
    rows = [
        previous.get(n, {"name": n, "title": n, "cells": 0, "seconds": 0.0,
                         "status": "not run yet", "failures": [], "html": ""})
        for n in sorted(existing)
    ]
    for r in rows:
        if "facts" not in r and (BUILD / r["name"]).exists():
            try:
                r["facts"] = pages.chapter_facts(nbformat.read(BUILD / r["name"], as_version=4))
            except Exception:  # an unreadable executed copy: the row just has no facts
                pass
    return rows


def cmd_execute(args) -> int:
    paths = notebook_paths(args.notebooks)
    if not paths:
        print("[run] no notebooks found in notebooks/", file=sys.stderr)
        return 1
    BUILD.mkdir(exist_ok=True)
    os.environ.setdefault("RUST_BACKTRACE", "0")  # panics shown in pages stay short
    if not use_course_kernel():
        return 1
    chs = pages.chapters()
    results = []
    total = time.monotonic()
    previous = load_summary()
    for i, p in enumerate(paths, 1):
        print(f"[run] {i}/{len(paths)} {p.name} ...", flush=True)
        r = execute_one(p, chs)
        results.append(r)
        print(f"[run] {p.name:<36} {r['cells']:>3} cells {r['seconds']:>7.1f}s  {r['status']}", flush=True)
        for f in r["failures"]:
            print("      - " + f.replace("\n", "\n        "))
        for n in r.get("notes", []):
            print("      note: " + n)
        previous[r["name"]] = r
        rows = everything(previous, paths)
        (BUILD / "run-summary.json").write_text(json.dumps(rows, indent=1))
    failed = [r for r in results if r["status"] != "ok"]
    print(
        f"[run] {len(results) - len(failed)}/{len(results)} notebooks ok in "
        f"{time.monotonic() - total:.1f}s", flush=True
    )
    built = write_book(everything(previous, paths), chs)
    return 1 if failed or not built else 0


def write_book(rows: list[dict], chs: list[dict]) -> bool:
    """The book's pages (course/book.py) from the executed chapters in build/, with one line saying so."""
    start = time.monotonic()
    ok, said = book.build_book(rows, chs)
    where = f"{BUILD.relative_to(ROOT)}/index.html"
    print(f"[pages] {'book' if ok else 'error: no book'}: {said} in {time.monotonic() - start:.1f}s"
          + (f"; open {where}" if ok else ""), flush=True)
    return ok


def cmd_slides(args) -> int:
    """One reveal.js deck per executed chapter (build/NAME.ipynb, written by `execute`)."""
    paths = notebook_paths(args.notebooks)
    missing = [p for p in paths if not (BUILD / p.name).exists()]
    if missing:
        print(f"[slides] {len(missing)} chapter(s) not executed yet; running them first", flush=True)
        ns = argparse.Namespace(notebooks=[str(p) for p in missing])
        if cmd_execute(ns) != 0:
            print("[slides] error: a chapter failed to run; no slides written for it", file=sys.stderr)
    chs = pages.chapters()
    local = pages.vendor_reveal()
    written = 0
    for p in paths:
        executed = BUILD / p.name
        if not executed.exists():
            continue
        out, slides, subslides = pages.write_slides(executed, chs, local)
        print(f"[slides] {out.relative_to(ROOT)}  ({slides} slides, {subslides} sub-slides)")
        written += 1
    write_book(everything(load_summary()), chs)
    where = "a local copy (build/slides/lib)" if local else "its CDN (needs network when shown)"
    print(f"[slides] {written} decks; reveal.js is loaded from {where}")
    return 0 if written == len(paths) else 1


def cmd_pages(args) -> int:
    """Writes the pages again from the executed notebooks in build/, without running a kernel."""
    import nbformat

    chs = pages.chapters()
    previous = load_summary()
    for p in notebook_paths(args.notebooks):
        executed = BUILD / p.name
        if not executed.exists():
            print(f"[pages] {p.name}: not executed yet (make run)")
            continue
        nb = nbformat.read(executed, as_version=4)
        if p.name in previous:
            previous[p.name]["facts"] = pages.chapter_facts(nb)
            previous[p.name]["title"] = pages.notebook_title(nb.cells, p.stem)
    rows = everything(previous)
    (BUILD / "run-summary.json").write_text(json.dumps(rows, indent=1))
    return 0 if write_book(rows, chs) else 1


def cmd_normalize(args) -> int:
    """Rewrites notebooks in canonical form, without touching content (what the git filter commits)."""
    changed = 0
    for p in notebook_paths(args.notebooks):
        text = p.read_text()
        new = canonical(text)
        if new != text:
            p.write_text(new)
            changed += 1
            print(f"[normalize] {p.name}")
    print(f"[normalize] {changed} notebook(s) rewritten")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    commands = {"hygiene": cmd_hygiene, "execute": cmd_execute, "slides": cmd_slides, "pages": cmd_pages,
                "normalize": cmd_normalize}
    for name in commands:
        sp = sub.add_parser(name)
        sp.add_argument("notebooks", nargs="*", help="notebook files (default: notebooks/*.ipynb)")
    args = ap.parse_args()
    return commands[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
