#!/usr/bin/env python3
"""The built pages in a real browser (headless Chromium): what a reader without a kernel sees.

    python tests/browser.py            # after `course/runner.py execute` (make test runs it after the notebooks)

For the book in build/ (course/book.py, mdBook), opened from disk: build/index.html, every chapter page it
links, build/teachers.html, the docs/ pages and, when built, the slide decks:
- the page loads, without uncaught script errors, and has its real title;
- chapter pages: a sidebar with every chapter, the index and the teacher's page, and this chapter's sections
  below it (each found in the page); a contents list of the page (each entry found in the page); previous
  and next links in the book's order; no link to a .ipynb file, every local link points at a file that
  exists, chapter tables (chapter 0's map) link;
- search, from file:// with no server: a word that only one chapter has (`malloc_trim`, counted in the
  book's sources) finds that chapter and no other;
- every chart is an inline <svg> with a <title> and a visible caption at its top; plotted charts (SVG
  outputs) also have a rotated y-axis label and an x-axis label at the bottom;
- solutions are folded: each solution cell's source is inside a closed <details> and not rendered;
- output text is in a monospace font, long output is capped by a scroll box, code wider than its cell
  scrolls sideways;
- slide decks: reveal.js starts, one horizontal slide per '## ' section plus the title, no solution cells.
Without Chromium it prints one line saying why it skipped, and exits 0. It ends with 'N passed, N failed'.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "course"))
import cdp  # noqa: E402
from skips import record_skip  # noqa: E402
import pages  # noqa: E402

BUILD = pages.BUILD

# Everything the checks need from one chapter page, measured in the browser after layout.
CHAPTER_PROBE = r"""
(() => {
  const rel = a => a.getAttribute('href') || '';
  const exists = h => h.startsWith('#') && !!document.getElementById(decodeURIComponent(h.slice(1)));
  const sidebar = [...document.querySelectorAll('#mdbook-sidebar a')].map(rel);
  const onPage = [...document.querySelectorAll('#mdbook-sidebar .on-this-page a')].map(rel);
  const contents = [...document.querySelectorAll('main nav.page-contents a')].map(rel);
  const prev = rel(document.querySelector('a.nav-chapters.previous') || document.createElement('a'));
  const next = rel(document.querySelector('a.nav-chapters.next') || document.createElement('a'));
  const links = [...document.querySelectorAll('main a[href]')].map(rel);
  const charts = [...document.querySelectorAll('.course-outputs svg')].filter(s => !s.parentElement.closest('svg')).map(s => {
    const R = s.getBoundingClientRect();
    const texts = [...s.querySelectorAll('text')].map(t => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent.trim(), rotated: /rotate/.test(t.getAttribute('transform') || ''),
              top: (r.top - R.top) / Math.max(R.height, 1), bottom: (r.bottom - R.top) / Math.max(R.height, 1)};
    }).filter(t => t.text);
    return {plotted: !!s.closest('.course-svg'), width: R.width, height: R.height,
            title: (s.querySelector(':scope > title') || {}).textContent || '', texts};
  });
  const svgImages = [...document.querySelectorAll('.course-outputs img')]
    .filter(i => (i.getAttribute('src') || '').startsWith('data:image/svg')).length;
  const solutions = [...document.querySelectorAll('.celltag_solution')].map(c => {
    const input = c.querySelector('.course-input');
    const details = input && input.closest('details');
    const shown = !!input && (input.checkVisibility ? input.checkVisibility() : input.getClientRects().length > 0);
    return {folded: !!details && !details.open, rendered: shown};
  });
  const fontOf = e => getComputedStyle(e).fontFamily.toLowerCase();
  const mono = f => /mono|menlo|consolas|courier|source code pro/.test(f);
  const outputs = [...document.querySelectorAll('.course-outputs pre')].map(p => {
    const cs = getComputedStyle(p);
    const em = parseFloat(cs.fontSize) || 13;
    return {text: p.textContent.slice(0, 50), mono: mono(fontOf(p)), height: p.getBoundingClientRect().height,
            capEm: cs.maxHeight === 'none' ? null : parseFloat(cs.maxHeight) / em, em,
            scrollable: p.scrollHeight <= p.clientHeight + 1 || ['auto', 'scroll'].includes(cs.overflowY)};
  });
  const wideCode = [...document.querySelectorAll('pre.course-input')].filter(e => e.scrollWidth > e.clientWidth + 1).map(e => {
    let scrolls = false;
    for (let n = e; n && n !== document.body; n = n.parentElement)
      if (['auto', 'scroll'].includes(getComputedStyle(n).overflowX) && n.scrollWidth > n.clientWidth) scrolls = true;
    return {text: e.textContent.trim().slice(0, 50), scrolls};
  });
  const unlinkedChapters = [...document.querySelectorAll('main table tr')].filter(r => !r.closest('.course-outputs'))
    .map(r => r.querySelector('td')).filter(td => td && /^\d{1,2} \S/.test(td.textContent.trim()) && !td.querySelector('a'))
    .map(td => td.textContent.trim());
  return JSON.stringify({title: document.title, sidebar, onPage, onPageOk: onPage.filter(exists).length,
    contents, contentsOk: contents.filter(exists).length, prev, next, links, charts, svgImages, solutions,
    outputs, wideCode, unlinkedChapters});
})()
"""


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        return ok


def local_link_problems(page: Path, links: list[str]) -> list[str]:
    out = []
    for href in links:
        if re.match(r"^[a-z]+:", href) or href.startswith("#") or not href:
            continue
        path = re.split(r"[?#]", href)[0]
        target = (page.parent / path).resolve()
        if path.endswith(".ipynb"):
            out.append(f"links to a notebook file: {href}")
        elif not target.exists():
            out.append(f"broken link: {href}")
    return out


def check_chapter(b: cdp.Browser, c: Checker, page: Path, ch: dict, prev: str, nxt: str, built: list[dict]) -> str:
    b.open(page.as_uri())
    name = page.name
    c.check(not b.exceptions(), f"{name}: script errors {b.exceptions()[:2]}")
    d = json.loads(b.evaluate(CHAPTER_PROBE))
    c.check(d["title"].startswith(ch["title"]), f"{name}: <title> is {d['title']!r}, expected {ch['title']!r} first")
    # The sidebar: every chapter, the index and the teacher's page; this chapter's sections below it.
    for want in ["index.html", "teachers.html"] + [x["html"] for x in built]:
        c.check(want in d["sidebar"], f"{name}: the sidebar has no link to {want}")
    c.check(len(d["onPage"]) > 0 and d["onPageOk"] == len(d["onPage"]),
            f"{name}: the sidebar lists {len(d['onPage'])} sections of the page, {d['onPageOk']} of them found in the page")
    c.check(len(d["contents"]) > 0 and d["contentsOk"] == len(d["contents"]),
            f"{name}: the page's contents list has {len(d['contents'])} links, {d['contentsOk']} of them found in the page")
    c.check(d["prev"] == prev, f"{name}: previous link is {d['prev']!r}, expected {prev!r}")
    c.check(d["next"] == nxt, f"{name}: next link is {d['next']!r}, expected {nxt!r}")
    for p in local_link_problems(page, d["links"]):
        c.check(False, f"{name}: {p}")
    c.check(not d["unlinkedChapters"], f"{name}: chapter table rows without a link: {d['unlinkedChapters']}")
    c.check(d["svgImages"] == 0, f"{name}: {d['svgImages']} chart(s) left as <img> instead of inline <svg>")
    for i, ch_ in enumerate(d["charts"]):
        label = f"{name}: chart {i + 1}"
        c.check(ch_["width"] > 50 and ch_["height"] > 50, f"{label} is not rendered ({ch_['width']}x{ch_['height']})")
        c.check(bool(ch_["title"].strip()), f"{label} has no <title>")
        caption = [t for t in ch_["texts"] if t["top"] < 0.15 and not t["rotated"]]
        c.check(bool(caption), f"{label} has no caption at its top")
        if ch_["plotted"]:
            numeric = re.compile(r"^[-+0-9.,e%x ]+$")
            y_label = [t for t in ch_["texts"] if t["rotated"] and not numeric.match(t["text"])]
            x_label = [t for t in ch_["texts"] if t["bottom"] > 0.85 and not t["rotated"] and not numeric.match(t["text"])]
            c.check(bool(y_label), f"{label} ({ch_['title'][:40]!r}) has no y-axis label")
            c.check(bool(x_label), f"{label} ({ch_['title'][:40]!r}) has no x-axis label")
    for i, s in enumerate(d["solutions"]):
        c.check(s["folded"] and not s["rendered"], f"{name}: solution {i + 1} is not folded ({s})")
    for o in d["outputs"]:
        c.check(o["mono"], f"{name}: output {o['text']!r} is not in a monospace font")
        c.check(o["capEm"] is not None and o["height"] <= (o["capEm"] + 2) * o["em"] and o["scrollable"],
                f"{name}: output {o['text']!r} is not capped by a scroll box ({o['height']:.0f}px)")
    for w in d["wideCode"]:
        c.check(w["scrolls"], f"{name}: code wider than its cell does not scroll: {w['text']!r}")
    return (f"{len(d['charts'])} charts, {len(d['solutions'])} solutions folded, {len(d['outputs'])} text outputs, "
            f"{len(d['contents'])} sections")


SEARCH_WORD = "malloc_trim"


def check_search(b: cdp.Browser, c: Checker, word: str = SEARCH_WORD) -> str:
    """The book's search, from file:// with no server: a word that only one chapter has (counted in the
    book's markdown sources; docs pages may mention it too) finds that chapter and no other chapter."""
    sources = BUILD / ".book" / "src"
    chapter = re.compile(r"^\d\d-.*\.html$")
    having = sorted(p.with_suffix(".html").name for p in sources.glob("*.md")
                    if chapter.match(p.with_suffix(".html").name) and word.lower() in p.read_text().lower())
    if not c.check(len(having) == 1, f"search: {word!r} should be in exactly one chapter, it is in {having}"):
        return "search not checked"
    b.open((BUILD / "index.html").as_uri())
    b.evaluate("document.getElementById('mdbook-search-toggle').click()")
    b.wait_for("!!document.getElementById('mdbook-searchbar') && "
               "getComputedStyle(document.getElementById('mdbook-search-wrapper')).display !== 'none'", timeout=10)
    b.evaluate(f"""(() => {{ const s = document.getElementById('mdbook-searchbar'); s.value = {json.dumps(word)};
        s.dispatchEvent(new Event('input', {{bubbles: true}}));
        s.dispatchEvent(new KeyboardEvent('keyup', {{key: 'm', bubbles: true}})); return 1; }})()""")
    try:
        found = b.wait_for("(() => { const r = [...document.querySelectorAll('#mdbook-searchresults li a')]"
                           ".map(a => a.getAttribute('href').split(/[?#]/)[0]); return r.length ? JSON.stringify(r) : ''; })()",
                           timeout=15)
        pages_found = sorted(set(json.loads(found)))
    except cdp.BrowserError:
        pages_found = []
    c.check(not b.exceptions(), f"search: script errors {b.exceptions()[:2]}")
    chapters_found = [p for p in pages_found if chapter.match(p)]
    c.check(chapters_found == having, f"search: {word!r} found the chapters {chapters_found}, expected {having}")
    return f"search for {word!r}: {pages_found}"


def check_index(b: cdp.Browser, c: Checker, chs: list[dict]) -> list[dict]:
    index = BUILD / "index.html"
    b.open(index.as_uri())
    d = json.loads(b.evaluate("JSON.stringify({title: document.title, links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))})"))
    c.check(d["title"].startswith(pages.COURSE), f"index.html: title is {d['title']!r}")
    c.check("teachers.html" in d["links"], "index.html: no link to the teacher's page")
    for p in local_link_problems(index, d["links"]):
        c.check(False, f"index.html: {p}")
    built = [ch for ch in chs if (BUILD / ch["html"]).exists()]
    for ch in built:
        c.check(ch["html"] in d["links"], f"index.html: no link to {ch['html']}")
    return built


def check_teachers(b: cdp.Browser, c: Checker, built: list[dict]) -> None:
    page = BUILD / "teachers.html"
    if not c.check(page.exists(), "teachers.html was not written"):
        return
    b.open(page.as_uri())
    d = json.loads(b.evaluate("""JSON.stringify({title: document.title,
      index: !!document.querySelector('#mdbook-sidebar a[href="index.html"]'),
      rows: [...document.querySelectorAll('#chapters tr')].slice(1).map(r => [...r.cells].map(x => x.textContent.trim()))})"""))
    c.check(d["title"].startswith("Teacher's page"), f"teachers.html: title is {d['title']!r}")
    c.check(d["index"], "teachers.html: no link back to the index")
    titles = [r[0] for r in d["rows"]]
    for ch in built:
        c.check(ch["title"] in titles, f"teachers.html: no row for {ch['title']!r}")
    for r in d["rows"]:
        c.check(bool(re.match(r"^\d+ s$", r[1])), f"teachers.html: {r[0]!r} has no measured run time ({r[1]!r})")


def check_slides(b: cdp.Browser, c: Checker, built: list[dict]) -> int:
    decks = 0
    for ch in built:
        deck = BUILD / "slides" / (Path(ch["html"]).stem + ".slides.html")
        if not deck.exists():
            continue
        decks += 1
        b.open(deck.as_uri())
        local = (BUILD / "slides" / "lib" / "reveal.js" / "dist" / "reveal.js").exists() and "lib/reveal.js" in deck.read_text()
        if local:
            try:
                b.wait_for("!!document.querySelector('.reveal.ready')", timeout=20)
                c.check(True, "")
            except cdp.BrowserError:
                c.check(False, f"{deck.name}: reveal.js did not start")
        d = json.loads(b.evaluate("""JSON.stringify({title: document.title,
          slides: document.querySelectorAll('.slides > section').length,
          solutions: document.querySelectorAll('.celltag_solution').length,
          svg: document.querySelectorAll('.slides svg').length})"""))
        import nbformat

        sections = sum(1 for cell in nbformat.read(BUILD / (Path(ch["html"]).stem + ".ipynb"), as_version=4).cells
                       if cell.cell_type == "markdown" for ln in cell.source.splitlines() if ln.startswith("## "))
        c.check(d["title"].startswith(ch["title"]), f"{deck.name}: title is {d['title']!r}")
        c.check(d["slides"] == sections + 1, f"{deck.name}: {d['slides']} slides for {sections} sections + title")
        c.check(d["solutions"] == 0, f"{deck.name}: shows {d['solutions']} solution cells")
    return decks




def check_docs(b: cdp.Browser, c: Checker) -> int:
    """Every docs page of the book loads without script errors, is in the sidebar, and links only to
    files that exist."""
    pages_ = sorted((BUILD / "docs").glob("*.html"))
    for page in pages_:
        b.open(page.as_uri())
        d = json.loads(b.evaluate("JSON.stringify({links: [...document.querySelectorAll('main a[href]')].map(a => a.getAttribute('href')),"
                                  "sidebar: [...document.querySelectorAll('#mdbook-sidebar a')].map(a => a.getAttribute('href'))})"))
        c.check(not b.exceptions(), f"docs/{page.name}: script errors {b.exceptions()[:2]}")
        c.check(any(h.endswith(page.name) for h in d["sidebar"]), f"docs/{page.name}: not in the sidebar")
        for p in local_link_problems(page, d["links"]):
            c.check(False, f"docs/{page.name}: {p}")
    return len(pages_)


def main() -> int:
    start = time.monotonic()
    if not (BUILD / "index.html").exists():
        print("[browser] error: build/index.html is missing: run `make run` (or course/runner.py execute) first")
        return 1
    try:
        b = cdp.Browser.start()
    except cdp.BrowserMissing as e:
        why = f"the browser test: {e}; on Debian/Ubuntu as root `make browser-setup` installs Chromium"
        print(f"[browser] skipped: {why}")
        record_skip(why)
        return 0
    c = Checker()
    chs = pages.chapters()
    with b:
        built = check_index(b, c, chs)
        for i, ch in enumerate(built):
            page = BUILD / ch["html"]
            before = len(c.failed)
            # The book's order: the index, the chapters, the teacher's page.
            prev = built[i - 1]["html"] if i > 0 else "index.html"
            nxt = built[i + 1]["html"] if i + 1 < len(built) else "teachers.html"
            summary = check_chapter(b, c, page, ch, prev, nxt, built)
            status = "ok" if len(c.failed) == before else "FAILED"
            print(f"[browser] {ch['html']:<32} {status}  ({summary})")
        before = len(c.failed)
        said = check_search(b, c)
        print(f"[browser] {'search':<32} {'ok' if len(c.failed) == before else 'FAILED'}  ({said})")
        before = len(c.failed)
        ndocs = check_docs(b, c)
        print(f"[browser] {'docs/*.html':<32} {'ok' if len(c.failed) == before else 'FAILED'}  ({ndocs} pages)")
        check_teachers(b, c, built)
        decks = check_slides(b, c, built)
    for f in c.failed:
        print(f"          - {f}")
    print(f"[browser] {len(built)} chapter pages, search, docs, index, teacher's page, {decks} slide decks "
          f"in {time.monotonic() - start:.1f}s")
    print(f"{c.passed} passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
