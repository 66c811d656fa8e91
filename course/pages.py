"""The course's HTML besides the book's chapters: the index's and teacher's page's tables, and the reveal.js slides.

Used by course/runner.py (`slides` writes the presentations) and course/book.py (the book's index and
teacher's page). Everything here is plain text processing, so it is unit-tested without a kernel
(tests/test_notebooks_runner.py) and checked in a real browser (tests/browser.py).
"""

from __future__ import annotations

import base64
import copy
import html
import json
import os
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
COURSE = "Rust Allocation from First Principles"

# Injected into every slide deck (the book's pages have course/book.py's COURSE_CSS).
# - program output and std excerpts are HTML outputs whose <pre> would otherwise inherit the page's
#   proportional font (JupyterLab's CSS gives .jp-RenderedHTMLCommon pre no font of its own);
# - long lines scroll sideways instead of being cut off (code cells) or wrapped (outputs);
# - very long outputs (a std excerpt of a few hundred lines) stand in a scroll box.
PAGE_CSS = """
<style id="course-css">
.jp-RenderedHTMLCommon pre, .jp-RenderedHTMLCommon code, .jp-RenderedText pre {
  font-family: var(--jp-code-font-family, "DejaVu Sans Mono", Menlo, Consolas, monospace) !important;
}
.jp-OutputArea-output pre { white-space: pre !important; overflow-x: auto; max-height: 36em; overflow-y: auto; }
.jp-InputArea-editor, .jp-InputArea-editor .highlight { overflow-x: auto; }
.jp-InputArea-editor pre { white-space: pre; overflow-x: visible; }
</style>
"""


def notebook_title(source_cells, fallback: str) -> str:
    """The text of the first '# ' heading of the first markdown cells (the chapter title)."""
    for c in source_cells:
        if c.get("cell_type") == "markdown":
            src = c.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            for ln in src.splitlines():
                if ln.startswith("# "):
                    return ln[2:].strip()
    return fallback


def chapters(folder: Path = NOTEBOOKS) -> list[dict]:
    """Every chapter notebook in order, with its title (read from the committed notebook)."""
    out = []
    for p in sorted(folder.glob("*.ipynb")):
        try:
            cells = json.loads(p.read_text()).get("cells", [])
        except (OSError, ValueError):
            cells = []
        out.append({"name": p.name, "stem": p.stem, "html": p.stem + ".html", "title": notebook_title(cells, p.stem)})
    return out


NOTEBOOK_LINK = re.compile(r'href="((?:\./)?(\d\d-[A-Za-z0-9_.-]*?))\.ipynb(#[^"]*)?"')


def rewrite_notebook_links(page: str, suffix: str = ".html") -> str:
    """`href="NN-name.ipynb#x"` (links between chapters in the notebooks' markdown) -> the page NN-name
    + `suffix` (".html" for the chapter pages, ".slides.html" between decks)."""
    return NOTEBOOK_LINK.sub(lambda m: f'href="{m.group(1)}{suffix}{m.group(3) or ""}"', page)


SVG_IMG = re.compile(r'<img(?P<attrs>[^>]*?)src="data:image/svg\+xml;base64,(?P<data>[A-Za-z0-9+/=\s]+)"(?P<rest>[^>]*)>')
SVG_ELEMENT = re.compile(r"<svg\b[^>]*>.*?</svg>", re.S)


def titled_svg(svg: str) -> str:
    """An SVG without a <title> gets its first text (a chart's caption) as <title>: the chart's accessible
    name, and its tooltip."""
    head = re.match(r"<svg\b[^>]*>", svg)
    if head is None or re.match(r"\s*<title", svg[head.end():]):
        return svg
    first = re.search(r"<text[^>]*>\s*([^<]+?)\s*</text>", svg)
    if not first:
        return svg
    return svg[:head.end()] + f"<title>{first.group(1)}</title>" + svg[head.end():]


def inline_svgs(page: str) -> str:
    """nbconvert shows image/svg+xml outputs as <img src="data:..."> (its inline mode escapes the markup):
    put the SVG itself in the page, so its text (title, axis labels) is real, searchable text; and give
    every SVG (also those inside HTML outputs) a <title> (see titled_svg)."""

    def repl(m: re.Match) -> str:
        try:
            svg = base64.b64decode(m.group("data")).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return m.group(0)
        svg = re.sub(r"^\s*<\?xml[^>]*>\s*", "", svg)
        if not svg.lstrip().startswith("<svg"):
            return m.group(0)
        return svg

    page = SVG_IMG.sub(repl, page)
    return SVG_ELEMENT.sub(lambda m: titled_svg(m.group(0)), page)


def cell_seconds(cell) -> float | None:
    """How long a cell ran, from the timestamps nbclient records in its metadata."""
    from datetime import datetime

    t = cell.get("metadata", {}).get("execution", {})
    a, b = t.get("iopub.execute_input") or t.get("shell.execute_reply.started"), t.get("shell.execute_reply")
    if not (a and b):
        return None
    try:
        return (datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return None


EXERCISE = re.compile(r"^#{2,4}\s*Exercise\s+(?P<id>[\d.]+)\s*[—–-]+\s*(?P<what>.*?)\s*\((?P<min>\d+)\s*min(?:ute)?s?\)\s*$", re.M)
NEEDS = re.compile(r"\*\*What you need\*\*:?\s*(?P<text>.+)")


def chapter_facts(nb) -> dict:
    """What the teacher's page says about a chapter, read from its (executed) notebook."""
    exercises, needs = [], ""
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        for m in EXERCISE.finditer(c.source):
            exercises.append({"id": m["id"], "what": m["what"], "minutes": int(m["min"])})
        if not needs:
            m = NEEDS.search(c.source)
            if m:
                needs = m["text"].strip()
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = cell_seconds(code[0]) if code else None
    timed = [(cell_seconds(c), i) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    timed = sorted([(s, i) for s, i in timed if s is not None], reverse=True)

    def first_line(i: int) -> str:
        line = next((ln.strip() for ln in nb.cells[i].source.splitlines() if ln.strip()), "")
        return line if len(line) <= 48 else line[:47] + "…"

    return {
        "exercises": exercises,
        "needs": needs,
        "first_cell_seconds": first,
        "slowest": [{"cell": i, "code": first_line(i), "seconds": s} for s, i in timed[:3]],
    }


def markdown_inline(text: str) -> str:
    """Just enough Markdown for one line of the teacher's page: `code` and **bold**."""
    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


def index_body(results: list[dict]) -> str:
    """The book's first page below its title: every chapter (title, link, cells, seconds, status,
    slides), the teacher's page."""

    def row(r: dict) -> str:
        name = html.escape(r["name"])
        link = f'<a href="{html.escape(r["html"])}">{html.escape(r["title"])}</a>' if r["html"] else html.escape(r["title"])
        deck = Path(r["name"]).stem + ".slides.html"
        deck_link = f'<a href="slides/{html.escape(deck)}">slides</a>' if (BUILD / "slides" / deck).exists() else ""
        return (f'<tr><td>{link}</td><td><code>{name}</code></td>'
                f'<td class="num">{r["cells"]}</td><td class="num">{r["seconds"]:.1f}</td>'
                f'<td>{html.escape(r["status"])}</td><td>{deck_link}</td></tr>')

    rows = "\n".join(row(r) for r in results)
    return f"""<p>An interactive course on how Rust gets memory, from <code>Layout</code> and the allocator traits
through <code>Box</code>, <code>Vec</code> and the collections to your own allocator, real programs and the kernel
below <code>malloc</code>. These pages are the chapters executed headless on {html.escape(time.strftime('%Y-%m-%d %H:%M %Z'))}
through the evcxr <code>rust</code> kernel: every output is what its cell printed. To run them yourself,
<code>make lab</code>. Search every chapter with the magnifier above (or press <kbd>S</kbd>).</p>
<p class="course-links"><a href="teachers.html">Teacher's page</a> (run times, exercises, pitfalls)
&middot; slides: <code>make slides</code> writes one reveal.js deck per chapter into <code>build/slides/</code></p>
<h2 id="chapters-run">Chapters</h2>
<table id="chapters">
<tr><th>chapter</th><th>notebook</th><th>code cells</th><th>seconds</th><th>status</th><th>slides</th></tr>
{rows}
</table>"""


PITFALLS = """<h2>Pitfalls in a session</h2>
<ul>
<li><b>The first code cell of every chapter loads the support crate</b> compiled once per machine
(<code>make setup</code> does it; the kernels reuse it from <code>.cache/rustc</code>), in about 2 s. If you
edited <code>support/src</code>, the next kernel compiles it once (about 20 s) before it is reused again. Cells of
chapters 2&ndash;5 that run an example program build it the first time (<code>cargo run --release</code>): they
show in the "slowest cells" column; run <code>make run</code> once before the session and they are built.</li>
<li><b>Interrupting or restarting while the first cell compiles.</b> evcxr interrupts by killing its worker
process (SIGKILL), and every restart or shutdown begins with an interrupt (jupyter_client). If the <code>:dep</code>
cell was running, it fails with "Subprocess terminated with status: signal: 9 (SIGKILL)" and later cells say
"cannot find module or crate <code>support</code>": run the first cell again, then the cells from the top.
After a restart, wait until the kernel shows Idle before restarting again. Each kernel holds about 0.5 GB; with
little memory, keep one chapter's kernel running at a time (<a href="docs/troubleshooting.html">Troubleshooting</a>).</li>
<li><b>Autosave writes outputs into the notebooks.</b> <code>make setup</code> installs a git filter
(nbstripout) so that <code>git status</code>, <code>git diff</code> and <code>git pull</code> ignore outputs;
learners who edited exercises can restore a chapter with <code>make reset CHAPTER=NN</code> (their copy is saved
in <code>notebooks/.backup/</code> first).</li>
<li><b>Solutions</b> are folded in the pages and their source is hidden in JupyterLab; a check cell says
<code>PASS</code> or <code>NOT YET</code>. The slides leave solution cells out.</li>
<li><b>Several learners on one machine</b>: each should run <code>make lab</code> in their own clone.</li>
</ul>"""


def teachers_body(results: list[dict]) -> str:
    """The teacher's page below its title: per chapter the measured run time, exercises with minutes,
    what the learner needs, the first cell's time; then the pitfalls of a session."""
    rows = []
    total_ex = 0
    for r in results:
        f = r.get("facts") or {}
        ex = f.get("exercises", [])
        total_ex += sum(e["minutes"] for e in ex)
        ex_html = "<br>".join(f'{html.escape(e["id"])} {markdown_inline(e["what"])} ({e["minutes"]} min)' for e in ex) or "&mdash;"
        first = f.get("first_cell_seconds")
        slow = "<br>".join(f'<code>{html.escape(s.get("code", ""))}</code> {s["seconds"]:.1f} s'
                           for s in f.get("slowest", []))
        link = f'<a href="{html.escape(r["html"])}">{html.escape(r["title"])}</a>' if r.get("html") else html.escape(r["title"])
        rows.append(
            f'<tr><td>{link}</td><td class="num">{r["seconds"]:.0f} s</td>'
            f'<td class="num">{"%.1f s" % first if first is not None else "&mdash;"}</td>'
            f'<td>{slow or "&mdash;"}</td>'
            f'<td>{ex_html}</td><td class="num">{sum(e["minutes"] for e in ex) or "&mdash;"}{" min" if ex else ""}</td>'
            f'<td>{markdown_inline(f.get("needs", "")) or "&mdash;"}</td></tr>')
    measured = html.escape(time.strftime("%Y-%m-%d %H:%M %Z"))
    try:
        lab = json.loads((BUILD / "lab-timing.json").read_text())
    except (OSError, ValueError):
        lab = {}

    def secs(v) -> str:
        return f"{v:.1f} s" if isinstance(v, (int, float)) else "&mdash;"

    lab_rows = "\n".join(
        f'<tr><td><code>{html.escape(n)}</code></td><td class="num">{secs(t.get("kernel_idle"))}</td>'
        f'<td class="num">{secs(t.get("first_cell"))}</td><td class="num">{secs(t.get("first_chart"))}</td>'
        f'<td class="num">{secs(t.get("restart_first_chart"))}</td>'
        f'<td class="num">{secs(t.get("second_restart_first_chart"))}</td>'
        f'<td>{html.escape(", ".join(t.get("kernels", [])))}</td>'
        f'<td>{html.escape(str(t.get("measured", "")))}</td></tr>' for n, t in sorted(lab.items()))
    lab_html = (f"""<h2>In JupyterLab</h2>
<p>Measured by <code>tests/lab_timing.py</code> (JupyterLab driven in headless Chromium, a learner who has the
lab open opens the chapter and presses Run All): seconds from opening the chapter, and from a kernel restart
(Kernel &rarr; Restart, then Run All) to the first chart again, once after the learner has worked a while and
once more right after that. With the warm-kernel pool a kernel started and warmed ahead of time is handed over
(<em>warm</em>; <em>cold</em> is an ordinary start), so what remains is the chapter's own cells.</p>
<table id="lab"><tr><th>notebook</th><th>kernel idle</th><th>first cell done</th><th>first chart</th><th>first chart after a restart</th><th>after a second restart</th><th>kernels</th><th>measured</th></tr>
{lab_rows}</table>""" if lab_rows else "<p>JupyterLab times: run <code>tests/lab_timing.py</code> to measure them here.</p>")
    return f"""<p>Measured by the last headless run on this machine (<code>make run</code>, {measured}): the whole chapter,
top to bottom, and its first code cell (the <code>:dep</code> cell that loads the support crate). Exercise
minutes are the estimates stated in each chapter. All exercises together: {total_ex} minutes.</p>
<table id="chapters">
<tr><th>chapter</th><th>run time</th><th>first cell</th><th>slowest cells</th><th>exercises</th><th>exercise time</th><th>what the learner needs</th></tr>
{chr(10).join(rows)}
</table>
{lab_html}
{PITFALLS}
<h2>Before a session</h2>
<ol>
<li>On each machine: <code>make run</code> once (installs everything, compiles the dependencies, checks every chapter).</li>
<li>Slides: <code>make slides</code> (reveal.js, one slide per section, solutions left out) &rarr; <code>build/slides/</code>.</li>
<li>After the session, or to start a chapter again: <code>make reset CHAPTER=NN</code> (or <code>make reset</code> for all).</li>
</ol>"""


def split_at_headings(source: str) -> list[str]:
    """A markdown cell's text cut before every '## ' / '### ' heading line (outside code fences), so that
    a section that starts in the middle of a cell can start its own slide."""
    parts, current, fenced = [], [], False
    for line in source.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{2,3} ", line) and any(x.strip() for x in current):
            parts.append("".join(current).rstrip("\n"))
            current = []
        current.append(line)
    parts.append("".join(current).rstrip("\n"))
    return [p for p in parts if p.strip()] or [source]


def slide_notebook(nb):
    """A copy of an executed chapter with reveal.js slide metadata: the title cell and every '## ' section
    start a slide, '### ' headings (the exercises) a sub-slide below it, solution cells are left out.
    Markdown cells holding a heading after other text are split there first."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells = []
    for c in nb.cells:
        if c.cell_type != "markdown":
            cells.append(c)
            continue
        for k, text in enumerate(split_at_headings(c.source)):
            piece = nbformat.v4.new_markdown_cell(text, metadata=copy.deepcopy(c.get("metadata", {})))
            piece["id"] = f"{c.get('id', 'md')}-{k}"
            cells.append(piece)
    nb.cells = cells
    first_markdown = True
    for c in nb.cells:
        kind = "-"
        if c.cell_type == "markdown":
            head = c.source.lstrip()
            if first_markdown or head.startswith("## "):
                kind = "slide"
            elif head.startswith("### "):
                kind = "subslide"
            first_markdown = False
        if "solution" in c.get("metadata", {}).get("tags", []):
            kind = "skip"
        c.setdefault("metadata", {})["slideshow"] = {"slide_type": kind}
    return nb


# The versions nbconvert's reveal template is written for (SlidesExporter's defaults name reveal.js 4.0.2).
REVEAL_PACKAGES = {"reveal.js": "4.0.2", "jquery": "3.5.1", "requirejs": "2.3.6"}
TOOLS = ROOT / ".tools" / "reveal"
# The template's slide-change hook calls MathJax (loaded from a CDN); without network the hook would throw.
MATHJAX_STUB = ("<script>window.MathJax = window.MathJax || "
                "{Hub: {getAllJax: function () { return null; }, Rerender: function () {}}};</script>")


def vendor_reveal() -> bool:
    """Puts reveal.js, jQuery and require.js (pinned, from the npm registry through `npm pack`, cached in
    .tools/reveal) into build/slides/lib, so the decks work without network. False (the decks then load
    them from nbconvert's CDNs) when npm is missing or fails, or when $REVEAL_URL_PREFIX is set."""
    import shutil
    import subprocess
    import tarfile

    if os.environ.get("REVEAL_URL_PREFIX"):
        return False
    lib = BUILD / "slides" / "lib"
    wanted = [lib / "reveal.js" / "dist" / "reveal.js", lib / "jquery.min.js", lib / "require.js"]
    if all(p.exists() for p in wanted):
        return True
    npm = shutil.which("npm")
    if npm is None:
        return False
    TOOLS.mkdir(parents=True, exist_ok=True)
    for name, version in REVEAL_PACKAGES.items():
        tgz = TOOLS / f"{name}-{version}.tgz"
        if not tgz.exists():
            r = subprocess.run([npm, "pack", f"{name}@{version}", "--pack-destination", str(TOOLS)],
                               capture_output=True, text=True)
            if r.returncode != 0 or not tgz.exists():
                print(f"[slides] npm pack {name}@{version} failed: {r.stderr.strip()[-300:]}")
                return False
    lib.mkdir(parents=True, exist_ok=True)

    def extract(tgz: Path, keep: tuple[str, ...], dest: Path) -> None:
        with tarfile.open(tgz) as tar:
            for m in tar.getmembers():
                rel = m.name.split("/", 1)[-1]  # drop npm's "package/" folder
                if m.isfile() and rel.startswith(keep) and ".." not in rel:
                    target = dest / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(m)
                    if src is not None:
                        target.write_bytes(src.read())

    extract(TOOLS / "reveal.js-4.0.2.tgz", ("dist/", "plugin/notes/"), lib / "reveal.js")
    extract(TOOLS / "jquery-3.5.1.tgz", ("dist/jquery.min.js",), lib / "jquery")
    extract(TOOLS / "requirejs-2.3.6.tgz", ("require.js",), lib)
    shutil.copy(lib / "jquery" / "dist" / "jquery.min.js", lib / "jquery.min.js")
    return all(p.exists() for p in wanted)


def write_slides(executed: Path, chs: list[dict], local_reveal: bool) -> tuple[Path, int, int]:
    """build/slides/NAME.slides.html from an executed notebook in build/; returns the path and the
    numbers of slides and sub-slides."""
    import nbformat
    from nbconvert import SlidesExporter

    nb = slide_notebook(nbformat.read(executed, as_version=4))
    title = notebook_title(nb.cells, executed.stem)
    exporter = SlidesExporter(reveal_scroll=True, reveal_transition="none")
    if os.environ.get("REVEAL_URL_PREFIX"):
        exporter.reveal_url_prefix = os.environ["REVEAL_URL_PREFIX"]
    elif local_reveal:
        exporter.reveal_url_prefix = "lib/reveal.js"
        exporter.jquery_url = "lib/jquery.min.js"
        exporter.require_js_url = "lib/require.js"
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = inline_svgs(rewrite_notebook_links(body, ".slides.html")).replace("</head>", PAGE_CSS + "</head>", 1)
    body = body.replace("<script>\nrequire(", MATHJAX_STUB + "\n<script>\nrequire(", 1)
    out = BUILD / "slides"
    out.mkdir(parents=True, exist_ok=True)
    path = out / (executed.stem + ".slides.html")
    path.write_text(body)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    return path, kinds.count("slide"), kinds.count("subslide")
