#!/usr/bin/env python3
"""The built pages in a real browser (headless Chromium): what a reader without a kernel sees.

    python tests/browser.py            # after `course/runner.py execute` (make test runs it after the notebooks)

For build/index.html, every chapter page it links, build/teachers.html and, when built, the slide decks:
- the page loads, without uncaught script errors, and has its real title;
- chapter pages: a link back to the index and to the previous/next chapter (top and bottom), no link to a
  .ipynb file, every local link points at a file that exists, chapter tables (chapter 0's map) link;
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
  const navs = [...document.querySelectorAll('nav.course-nav')].map(n => ({
    where: n.classList.contains('top') ? 'top' : (n.classList.contains('bottom') ? 'bottom' : ''),
    index: rel(n.querySelector('a[rel=index]') || document.createElement('a')),
    prev: rel(n.querySelector('a[rel=prev]') || document.createElement('a')),
    next: rel(n.querySelector('a[rel=next]') || document.createElement('a')),
  }));
  const links = [...document.querySelectorAll('a[href]')].map(rel);
  const charts = [...document.querySelectorAll('.jp-OutputArea-output svg')].filter(s => !s.closest('svg svg')).map(s => {
    const R = s.getBoundingClientRect();
    const texts = [...s.querySelectorAll('text')].map(t => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent.trim(), rotated: /rotate/.test(t.getAttribute('transform') || ''),
              top: (r.top - R.top) / Math.max(R.height, 1), bottom: (r.bottom - R.top) / Math.max(R.height, 1)};
    }).filter(t => t.text);
    return {plotted: !!s.closest('.jp-RenderedSVG'), width: R.width, height: R.height,
            title: (s.querySelector(':scope > title') || {}).textContent || '', texts};
  });
  const svgImages = [...document.querySelectorAll('.jp-OutputArea-output img')]
    .filter(i => (i.getAttribute('src') || '').startsWith('data:image/svg')).length;
  const solutions = [...document.querySelectorAll('.celltag_solution')].map(c => {
    const input = c.querySelector('.jp-Cell-inputWrapper');
    const details = input && input.closest('details');
    const shown = !!input && (input.checkVisibility ? input.checkVisibility() : input.getClientRects().length > 0);
    return {folded: !!details && !details.open, rendered: shown};
  });
  const fontOf = e => getComputedStyle(e).fontFamily.toLowerCase();
  const mono = f => /mono|menlo|consolas|courier/.test(f);
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output pre')].map(p => {
    const cs = getComputedStyle(p);
    const em = parseFloat(cs.fontSize) || 13;
    return {text: p.textContent.slice(0, 50), mono: mono(fontOf(p)), height: p.getBoundingClientRect().height,
            capEm: cs.maxHeight === 'none' ? null : parseFloat(cs.maxHeight) / em, em,
            scrollable: p.scrollHeight <= p.clientHeight + 1 || ['auto', 'scroll'].includes(cs.overflowY)};
  });
  const wideCode = [...document.querySelectorAll('.jp-InputArea-editor')].filter(e => {
    const pre = e.querySelector('pre') || e;
    return pre.scrollWidth > e.clientWidth + 1;
  }).map(e => {
    let n = e.querySelector('pre'), scrolls = false;
    for (; n && n !== e.parentElement; n = n.parentElement)
      if (['auto', 'scroll'].includes(getComputedStyle(n).overflowX) && n.scrollWidth > n.clientWidth) scrolls = true;
    return {text: e.textContent.trim().slice(0, 50), scrolls};
  });
  const unlinkedChapters = [...document.querySelectorAll('.jp-MarkdownOutput tr')]
    .map(r => r.querySelector('td')).filter(td => td && /^\d{1,2} \S/.test(td.textContent.trim()) && !td.querySelector('a'))
    .map(td => td.textContent.trim());
  return JSON.stringify({title: document.title, navs, links, charts, svgImages, solutions, outputs, wideCode, unlinkedChapters});
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
        target = (page.parent / href.split("#")[0]).resolve()
        if href.split("#")[0].endswith(".ipynb"):
            out.append(f"links to a notebook file: {href}")
        elif not target.exists():
            out.append(f"broken link: {href}")
    return out


def check_chapter(b: cdp.Browser, c: Checker, page: Path, ch: dict, prev: dict | None, nxt: dict | None) -> str:
    b.open(page.as_uri())
    name = page.name
    c.check(not b.exceptions(), f"{name}: script errors {b.exceptions()[:2]}")
    d = json.loads(b.evaluate(CHAPTER_PROBE))
    c.check(d["title"] == ch["title"], f"{name}: <title> is {d['title']!r}, expected {ch['title']!r}")
    for where in ("top", "bottom"):
        nav = next((n for n in d["navs"] if n["where"] == where), None)
        if c.check(nav is not None, f"{name}: no navigation bar at the {where}"):
            c.check(nav["index"] == "index.html", f"{name}: {where} bar has no link to index.html")
            c.check(nav["prev"] == (prev["html"] if prev else ""), f"{name}: {where} bar's previous link is {nav['prev']!r}")
            c.check(nav["next"] == (nxt["html"] if nxt else ""), f"{name}: {where} bar's next link is {nav['next']!r}")
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
    return f"{len(d['charts'])} charts, {len(d['solutions'])} solutions folded, {len(d['outputs'])} text outputs"


def check_index(b: cdp.Browser, c: Checker, chs: list[dict]) -> list[dict]:
    index = BUILD / "index.html"
    b.open(index.as_uri())
    d = json.loads(b.evaluate("JSON.stringify({title: document.title, links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))})"))
    c.check(d["title"] == pages.COURSE, f"index.html: title is {d['title']!r}")
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
      index: !!document.querySelector('a[href="index.html"]'),
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
            k = chs.index(ch)
            summary = check_chapter(b, c, page, ch, chs[k - 1] if k > 0 else None, chs[k + 1] if k + 1 < len(chs) else None)
            status = "ok" if len(c.failed) == before else "FAILED"
            print(f"[browser] {ch['html']:<32} {status}  ({summary})")
        check_teachers(b, c, built)
        decks = check_slides(b, c, built)
    for f in c.failed:
        print(f"          - {f}")
    print(f"[browser] {len(built)} chapter pages, index, teacher's page, {decks} slide decks "
          f"in {time.monotonic() - start:.1f}s")
    print(f"{c.passed} passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
