"""The course's book: mdBook pages built from the executed chapters, the teacher's page and docs/.

course/runner.py calls `build_book` after `execute` and `pages`. It writes an mdBook source folder
(build/.book/src: one markdown file per executed chapter, index.md, teachers.md, docs/*.md) and runs
mdBook (a pinned version that scripts/setup.sh installs), which gives the pages their sidebar of chapters
and sections, full-text search that works from file:// (its index is a script beside the pages), previous
and next links, and a print view. What mdBook cannot do is added here, and unit-tested without mdBook
(tests/test_notebooks_runner.py):
- every output exactly as the cell printed it in `make run`: text in a monospace scroll box, HTML outputs
  as they are, SVG charts inline (with a <title>), errors without terminal colours;
- exercise solutions folded in a closed <details>;
- a contents list of the page at the top of every chapter (its '##' sections, with ids given here);
- links between chapters (`NN-name.ipynb`) and chapter 0's table of chapters pointing at the pages;
- the course's CSS (course.css, below).
mdBook cleans the folder it writes, so the book is built into build/.book/out and moved into build/,
beside the executed notebooks, logs and slides that live there; files of the previous book are removed first.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pages

ROOT = pages.ROOT
BUILD = pages.BUILD
DOCS = ROOT / "docs"
MDBOOK_VERSION = "0.5.4"
WORK = BUILD / ".book"
MANIFEST = BUILD / ".book-files"

BOOK_TOML = """[book]
title = "{title}"
language = "en"
src = "src"

[output.html]
additional-css = ["course.css"]
no-section-label = true
default-theme = "light"
preferred-dark-theme = "navy"

[output.html.playground]
runnable = false

[output.html.search]
enable = true
limit-results = 30
use-boolean-and = true

[output.html.print]
enable = true
"""

# mdBook's own styles cover text, headings, tables and code; these cover the cells' outputs.
COURSE_CSS = """
.course-cell { margin: 0.6em 0 1em 0; }
.course-input { margin: 0; }
.course-outputs { border-left: 3px solid #c5d2e6; padding-left: 0.6em; margin-top: 0.3em; }
.course-outputs pre, .course-outputs code {
  font-family: var(--mono-font, "Source Code Pro", "DejaVu Sans Mono", Menlo, Consolas, monospace) !important;
}
.course-outputs pre { white-space: pre; overflow-x: auto; max-height: 36em; overflow-y: auto; font-size: 0.85em;
  background: var(--quote-bg); padding: 0.4em 0.6em; margin: 0.2em 0; }
.course-outputs .course-error pre { background: #fbefe6; }
.course-outputs svg { max-width: 100%; height: auto; display: block; margin: 0.3em 0; }
.course-outputs table { margin: 0.3em 0; }
.course-input pre, pre.course-input { overflow-x: auto; }
details.solution > summary { cursor: pointer; font-weight: bold; margin: 4px 0; }
nav.page-contents { border: 1px solid var(--table-border-color); padding: 0.3em 1em; margin: 1em 0; }
nav.page-contents > strong { display: block; margin: 0.3em 0; }
"""


def no_blank_lines(raw: str) -> str:
    """Raw HTML for a markdown page: markdown ends an HTML block at the first blank line and reads what
    follows as markdown, so a blank line (in a <pre> of program output, say) becomes a line holding a
    space character reference, which shows the same."""
    return "\n".join(line if line.strip() else "&#32;" for line in raw.strip("\n").splitlines())


def slug(text: str) -> str:
    """An id for a heading: its words in lower case joined by '-' (markup and punctuation dropped)."""
    text = re.sub(r"<[^>]+>|`|\*|_(?=\w)|\[|\]\([^)]*\)", "", text)
    words = re.findall(r"[A-Za-z0-9]+", text.lower())
    return "-".join(words) or "section"


FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{2,3}) +(.+?)\s*#*\s*$")


def heading_ids(source: str, used: set[str]) -> tuple[str, list[tuple[int, str, str]]]:
    """A markdown cell with an explicit id on every '##' and '###' heading outside code fences
    (`## Title {#id}`, unique in the page: `used` collects them), and the (level, text, id) of each."""
    out, found, fenced = [], [], False
    for line in source.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        m = None if fenced else HEADING.match(line)
        if m and not line.rstrip().endswith("}"):
            base = slug(m.group(2))
            ident, k = base, 1
            while ident in used:
                ident, k = f"{base}-{k}", k + 1
            used.add(ident)
            found.append((len(m.group(1)), m.group(2), ident))
            line = f"{m.group(1)} {m.group(2)} {{#{ident}}}"
        out.append(line)
    return "\n".join(out), found


NOTEBOOK_LINK = re.compile(r"\]\(((?:\./)?\d\d-[A-Za-z0-9_.-]*?)\.ipynb(#[^)\s]*)?\)")
CHAPTER_ROW = re.compile(r"^\|(\s*)(\d{1,2}) ([^|\[]+?)(\s*)\|", re.M)


def markdown_links(source: str, chs: list[dict]) -> str:
    """Links to `NN-name.ipynb` become links to the chapter's page (mdBook maps .md to .html), and a
    table row whose first cell names a chapter by number ("| 1 Memory layout and alignment |", chapter
    0's map) links to that chapter."""
    source = NOTEBOOK_LINK.sub(lambda m: f"]({m.group(1)}.md{m.group(2) or ''})", source)
    by_number = {int(m.group(1)): c["stem"] for c in chs if (m := re.match(r"(\d+)-", c["stem"]))}

    def row(m: re.Match) -> str:
        stem = by_number.get(int(m.group(2)))
        if stem is None:
            return m.group(0)
        return f"|{m.group(1)}[{m.group(2)} {m.group(3)}]({stem}.md){m.group(4)}|"

    return CHAPTER_ROW.sub(row, source)


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def text_of(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def output_html(o: dict) -> str:
    """One output of a code cell, as the cell showed it."""
    kind = o.get("output_type")
    if kind == "stream":
        cls = "course-stream course-stderr" if o.get("name") == "stderr" else "course-stream"
        return f'<pre class="{cls}">{html.escape(ANSI.sub("", text_of(o.get("text"))))}</pre>'
    if kind == "error":
        trace = "\n".join(o.get("traceback") or []) or f'{o.get("ename", "")}: {o.get("evalue", "")}'
        return f'<div class="course-error"><pre>{html.escape(ANSI.sub("", trace))}</pre></div>'
    data = o.get("data", {})
    if "image/svg+xml" in data:
        svg = re.sub(r"^\s*<\?xml[^>]*>\s*", "", text_of(data["image/svg+xml"]))
        return f'<div class="course-svg">{pages.titled_svg(svg)}</div>'
    if "text/html" in data:
        page = text_of(data["text/html"])
        return f'<div class="course-html">{pages.inline_svgs(page)}</div>'
    for image in ("image/png", "image/jpeg"):
        if image in data:
            b64 = text_of(data[image]).replace("\n", "")
            return f'<img class="course-image" alt="chart" src="data:{image};base64,{b64}">'
    if "text/plain" in data:
        return f'<pre class="course-value">{html.escape(ANSI.sub("", text_of(data["text/plain"])))}</pre>'
    return ""


def code_cell_html(cell: dict, index: int) -> str:
    """A code cell: its source (folded in a closed <details> for a solution) and its outputs."""
    tags = cell.get("metadata", {}).get("tags", [])
    classes = " ".join(["course-cell"] + [f"celltag_{re.sub(r'[^A-Za-z0-9_-]', '', t)}" for t in tags])
    source = f'<pre class="course-input"><code class="language-rust">{html.escape(text_of(cell.get("source")))}</code></pre>'
    if "solution" in tags:
        source = f'<details class="solution"><summary>Show the solution</summary>{source}</details>'
    outputs = "".join(output_html(o) for o in cell.get("outputs", []))
    out = f'<div class="course-outputs">{outputs}</div>' if outputs else ""
    return no_blank_lines(f'<div class="{classes}" data-cell="{index}">{source}{out}</div>')


def contents_list(sections: list[tuple[int, str, str]]) -> str:
    """The contents of a page: its '##' sections (and '###' below them), linked by id."""
    items = []
    for level, text, ident in sections:
        label = html.escape(re.sub(r"[`*]", "", text))
        items.append(f'{"  " if level == 3 else ""}<li class="level{level}"><a href="#{ident}">{label}</a></li>')
    if not items:
        return ""
    return no_blank_lines('<nav class="page-contents" aria-label="contents of this page"><strong>On this page</strong>'
                          "<ul>" + "".join(items) + "</ul></nav>")


def chapter_markdown(nb: dict, chs: list[dict], deck: str = "") -> str:
    """The markdown page of an executed chapter: markdown cells as they are (headings with ids, links
    to the pages), code cells and their outputs as HTML, the contents list after the title cell, with a
    link to the chapter's slide deck (`deck`, relative to build/) when there is one."""
    parts, used, sections = [], set(), []
    for i, cell in enumerate(nb.get("cells", [])):
        kind = cell.get("cell_type")
        if kind == "markdown":
            text, found = heading_ids(markdown_links(text_of(cell.get("source")), chs), used)
            sections += found
            parts.append(text)
        elif kind == "code":
            parts.append(code_cell_html(cell, i))
    contents = contents_list(sections)
    if deck:
        contents += f'\n\n<p class="course-slides"><a href="{html.escape(deck)}">Slides of this chapter</a> (reveal.js)</p>'
    if contents and parts:
        parts.insert(1, contents)
    return "\n\n".join(parts) + "\n"


def summary(chs: list[dict], docs: list[tuple[str, str]]) -> str:
    """SUMMARY.md: the introduction, the chapters, then the teacher's page and the docs pages."""
    lines = ["# Summary", "", f"[{pages.COURSE}](index.md)", "", "# Chapters", ""]
    lines += [f"- [{c['title']}]({c['stem']}.md)" for c in chs]
    lines += ["", "# Teaching and running the course", "", "- [Teacher's page](teachers.md)"]
    lines += [f"- [{title}](docs/{name})" for name, title in docs]
    return "\n".join(lines) + "\n"


def doc_pages() -> list[tuple[str, str]]:
    """(file name, title) of every docs/*.md page, in name order; the title is its first '# ' line."""
    out = []
    for p in sorted(DOCS.glob("*.md")):
        title = next((ln[2:].strip() for ln in p.read_text().splitlines() if ln.startswith("# ")), p.stem)
        out.append((p.name, title))
    return out


def doc_markdown(text: str) -> str:
    """A docs page inside the book: a link to `../README.md` goes to the book's first page; a link to
    any other file of the repository becomes its path in code (the book holds pages, not sources)."""
    text = re.sub(r"\]\(\.\./README\.md(#[^)\s]*)?\)", "](../index.md)", text)
    return re.sub(r"\[([^\]]+)\]\(\.\./(?!index\.md\))([^)#\s]+)[^)]*\)", r"\1 (`\2`)", text)


def mdbook_binary() -> str | None:
    """The mdbook on PATH (or in ~/.cargo/bin) if it is the pinned version, else None."""
    for exe in (shutil.which("mdbook"), str(Path.home() / ".cargo" / "bin" / "mdbook")):
        if exe and Path(exe).exists():
            r = subprocess.run([exe, "--version"], capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip() == f"mdbook v{MDBOOK_VERSION}":
                return exe
    return None


def write_source(rows: list[dict], chs: list[dict]) -> Path:
    """build/.book/src: every page the book has, in markdown (only chapters executed in build/)."""
    src = WORK / "src"
    shutil.rmtree(WORK, ignore_errors=True)
    (src / "docs").mkdir(parents=True)
    built = [c for c in chs if (BUILD / c["name"]).exists()]
    for c in built:
        nb = json.loads((BUILD / c["name"]).read_text())
        deck = f"slides/{c['stem']}.slides.html"
        (src / f"{c['stem']}.md").write_text(chapter_markdown(nb, chs, deck if (BUILD / deck).exists() else ""))
    docs = doc_pages()
    for name, _ in docs:
        (src / "docs" / name).write_text(doc_markdown((DOCS / name).read_text()))
    (src / "index.md").write_text(f"# {pages.COURSE}\n\n" + no_blank_lines(pages.index_body(rows)) + "\n")
    (src / "teachers.md").write_text("# Teacher's page\n\n" + no_blank_lines(pages.teachers_body(rows)) + "\n")
    (src / "SUMMARY.md").write_text(summary(built, docs))
    (WORK / "course.css").write_text(COURSE_CSS)
    (WORK / "book.toml").write_text(BOOK_TOML.format(title=pages.COURSE))
    return src


def install_output(out: Path) -> list[str]:
    """Moves the built book from `out` into build/, after removing the files the previous book put
    there (listed in build/.book-files); returns the new list. Nothing else in build/ is touched."""
    try:
        previous = [ln for ln in MANIFEST.read_text().splitlines() if ln and "/" not in ln and ln not in ("..", ".")]
    except OSError:
        previous = []
    for name in previous:
        target = BUILD / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    names = sorted(p.name for p in out.iterdir())
    for name in names:
        target = BUILD / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        shutil.move(str(out / name), target)
    MANIFEST.write_text("\n".join(names) + "\n")
    return names


def build_book(rows: list[dict], chs: list[dict]) -> tuple[bool, str]:
    """Writes the book into build/ (index.html, one page per executed chapter, teachers.html, docs/).
    Returns (ok, one line saying what happened)."""
    exe = mdbook_binary()
    if exe is None:
        return False, (f"mdbook {MDBOOK_VERSION} not found: run `make setup` (it installs it with "
                       f"cargo install --locked mdbook --version {MDBOOK_VERSION})")
    write_source(rows, chs)
    r = subprocess.run([exe, "build", str(WORK), "--dest-dir", str(WORK / "out")], capture_output=True, text=True)
    if r.returncode != 0:
        return False, "mdbook build failed: " + (r.stderr.strip().splitlines() or ["no output"])[-1]
    install_output(WORK / "out")
    return True, f"{sum((BUILD / c['name']).exists() for c in chs)} chapters, {len(doc_pages())} docs pages"
