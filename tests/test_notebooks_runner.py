"""Unit tests of the notebook runner's checks (no kernel needed): python -m unittest discover tests"""

import base64
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "course"))

import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

import book  # noqa: E402
import runner  # noqa: E402
import pages  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def notebook(*cells, kernel="rust"):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Rust", "language": "rust"}
    return nb


def code(src, tags=(), outputs=()):
    c = new_code_cell(src)
    if tags:
        c.metadata["tags"] = list(tags)
    c.outputs = list(outputs)
    return c


def write(tmp, nb):
    path = Path(tmp) / "nb.ipynb"
    nbformat.write(nb, path)
    return path


class Hygiene(unittest.TestCase):
    def setUp(self):
        import tempfile

        self.tmp = tempfile.mkdtemp()

    def test_clean_notebook_passes(self):
        nb = notebook(new_markdown_cell("# Title"), code(runner.SUPPORT_DEP), code("1 + 1"))
        self.assertEqual(runner.hygiene_problems(write(self.tmp, nb)), [])

    def test_outputs_counts_kernel_and_dep_line_are_reported(self):
        c = code("1 + 1", outputs=[new_output("stream", name="stdout", text="2")])
        c.execution_count = 3
        nb = notebook(new_markdown_cell("no title"), code(":dep plotters = \"0.3\""), c, kernel="python3")
        probs = "\n".join(runner.hygiene_problems(write(self.tmp, nb)))
        for words in ["kernelspec name is 'python3'", "with outputs", "execution count",
                      "must start with", "markdown title"]:
            self.assertIn(words, probs)

    def test_first_code_cell_holds_only_dep_lines(self):
        nb = notebook(new_markdown_cell("# T"), code(runner.SUPPORT_DEP + "\nlet x = 1;"))
        self.assertIn("only :dep lines", "\n".join(runner.hygiene_problems(write(self.tmp, nb))))


class UnsafeNeedsSafety(unittest.TestCase):
    def test_every_unsafe_block_and_impl_needs_a_safety_comment(self):
        nb = notebook(
            code("// SAFETY: fine\nunsafe { a() };\nlet x = unsafe { b() }; // SAFETY: also fine"),
            code("// SAFETY: the block is ours\n// (a second comment line)\nunsafe impl Send for X {}"),
            code("let s = \"unsafe { not code }\"; // unsafe { in a comment }\nunsafe fn declared() {}"),
            code("let a = 1;\nunsafe { c() };"),
            code("// SAFETY: too far away\nlet b = 2;\nlet y = unsafe { d() };"),
        )
        probs = runner.unsafe_problems(nb)
        self.assertEqual(len(probs), 2, probs)  # not cell 2: a string, a comment, an unsafe fn
        self.assertIn("cell 3 line 2", probs[0])
        self.assertIn("cell 4 line 3", probs[1])


class Excerpts(unittest.TestCase):
    def nb(self):
        return notebook(
            code('support::infra::std_source::show("alloc/src/boxed.rs", "pub unsafe extern \\"C\\" fn x")'),
            code('std_source::show_after("a.rs", "impl A", "fn b")\nstd_source::show("alloc/src/no_such_file.rs", "fn y")'),
            code("prose-like show(path, item) is not a request"),
        )

    def test_requests_are_read_from_code_cells_and_unescaped(self):
        reqs = runner.excerpt_requests(self.nb())
        self.assertEqual(reqs, [
            (0, ("alloc/src/boxed.rs", 'pub unsafe extern "C" fn x')),
            (1, ("alloc/src/no_such_file.rs", "fn y")),
            (1, ("a.rs", "impl A", "fn b")),
        ])

    def test_missing_items_are_problems_and_the_deliberate_error_must_fail(self):
        def check(requests):
            return ["ok x:1-2", "error: not found", "error: `fn b` was not found"]
        probs = runner.excerpt_problems({"nb": self.nb()}, check)["nb"]
        self.assertEqual(len(probs), 1, probs)
        self.assertIn("cell 1: excerpt a.rs / impl A / fn b: error: `fn b` was not found", probs[0])
        found = runner.excerpt_problems({"nb": self.nb()}, lambda r: ["ok"] * len(r))["nb"]
        self.assertEqual(len(found), 1, found)
        self.assertIn("no_such_file.rs / fn y: it was found", found[0])


class CellFailures(unittest.TestCase):
    def test_errors_panics_and_expected_failures(self):
        err = new_output("error", ename="Error", evalue="bad", traceback=["bad"])
        panic = new_output("stream", name="stderr", text="thread '<unnamed>' panicked at src/lib.rs:1:1:\nboom\n")
        nb = notebook(
            code("a", outputs=[err]),
            code("b", outputs=[panic]),
            code("c", tags=["raises-exception"]),
            code("d", tags=["raises-exception"], outputs=[err]),
        )
        f = runner.cell_failures(nb)
        self.assertEqual(len(f), 3, f)
        self.assertIn("cell 0", f[0])
        self.assertIn("panic", f[1])
        self.assertIn("tagged raises-exception but did not fail", f[2])

    def test_exercises_must_fail_unsolved_and_pass_solved(self):
        said = lambda text: new_output("execute_result", data={"text/html": text})  # noqa: E731
        nb = notebook(
            code("check", tags=["exercise-check"], outputs=[said("PASS [1.1]: ok")]),
            code("solution", tags=["solution"], outputs=[said("NOT YET [1.1]: no")]),
            code("check", tags=["exercise-check"], outputs=[said("NOT YET [1.2]: no")]),
            code("solution", tags=["solution"], outputs=[said("PASS [1.2]: ok")]),
        )
        f = runner.cell_failures(nb)
        self.assertEqual(len(f), 2, f)
        self.assertIn("did not say NOT YET", f[0])
        self.assertIn("did not say PASS", f[1])

    def test_a_check_this_machine_cannot_make_is_a_note_not_a_failure(self):
        said = lambda text: new_output("execute_result", data={"text/html": text})  # noqa: E731
        nb = notebook(
            code("check", tags=["exercise-check"], outputs=[said("<b>CANNOT CHECK HERE [9.1]: no strace</b>")]),
            code("solution", tags=["solution"], outputs=[said("CANNOT CHECK HERE [9.1]: no strace")]),
        )
        self.assertEqual(runner.cell_failures(nb), [])
        notes = runner.unchecked_notes(nb)
        self.assertEqual(len(notes), 2, notes)
        self.assertIn("cell 0: CANNOT CHECK HERE [9.1]: no strace", notes[0])

    def test_a_bare_unit_value_is_flagged(self):
        value = lambda text: new_output("execute_result", data={"text/plain": text})  # noqa: E731
        nb = notebook(code("for i in 0..3 { }", outputs=[value("()")]), code("1 + 1", outputs=[value("2")]))
        f = runner.cell_failures(nb)
        self.assertEqual(len(f), 1, f)
        self.assertIn("cell 0 shows a bare `()`", f[0])


class ChapterPages(unittest.TestCase):
    CHS = [{"stem": f"0{i}-c{i}", "name": f"0{i}-c{i}.ipynb", "html": f"0{i}-c{i}.html", "title": f"Chapter {i}"}
           for i in range(3)]

    def chapter(self):
        sol = code("let x = 1;\n\nx + 1", tags=["solution"],
                   outputs=[new_output("execute_result", data={"text/html": "<b>PASS</b>"})])
        svg = '<?xml version="1.0"?><svg width="10" height="10"><text x="1" y="1">Capacity vs length</text></svg>'
        return notebook(
            new_markdown_cell("# Chapter 1\n\nIntro, see [two](02-c2.ipynb#x)."),
            code("println!(\"a\\n\\nb\");", outputs=[new_output("stream", name="stdout", text="a\n\nb <&>\n")]),
            new_markdown_cell("## Measure `x` first\n\n```\n## not a heading\n```\n\n### Exercise 1.1 — do it (10 minutes)"),
            code("chart()", outputs=[new_output("execute_result", data={"image/svg+xml": svg})]),
            new_markdown_cell("## Measure `x` first\n\n| chapter | q |\n|---|---|\n| 1 Chapter one | why |\n| 9 None | - |"),
            sol,
            code("bad", outputs=[new_output("error", ename="E", evalue="v", traceback=["\x1b[31merror\x1b[0m: boom"])]),
        )

    def test_a_chapter_becomes_one_markdown_page(self):
        page = book.chapter_markdown(self.chapter(), self.CHS)
        # Headings get unique ids; a heading inside a code fence is not one; the contents list links them.
        self.assertIn("## Measure `x` first {#measure-x-first}", page)
        self.assertIn("## Measure `x` first {#measure-x-first-1}", page)
        self.assertIn("### Exercise 1.1 — do it (10 minutes) {#exercise-1-1-do-it-10-minutes}", page)
        self.assertIn("\n## not a heading\n", page)
        contents = page[page.index('<nav class="page-contents"'):]
        self.assertLess(page.index("Intro"), page.index('<nav class="page-contents"'))
        for ident in ("measure-x-first", "measure-x-first-1", "exercise-1-1-do-it-10-minutes"):
            self.assertIn(f'href="#{ident}"', contents)
        # Links and chapter tables point at the pages.
        self.assertIn("[two](02-c2.md#x)", page)
        self.assertIn("| [1 Chapter one](01-c1.md) |", page)
        self.assertIn("| 9 None |", page)
        # Output as printed, escaped, and no blank line inside raw HTML (markdown would end the block there).
        self.assertIn("a\n&#32;\nb &lt;&amp;&gt;", page)
        for block in re.findall(r'<div class="course-cell.*?</div>\n', page + "\n", re.S):
            self.assertNotRegex(block, r"\n\s*\n")
        # Charts inline with a title; errors without terminal colours; solutions folded.
        self.assertIn('<div class="course-svg"><svg width="10" height="10"><title>Capacity vs length</title>', page)
        self.assertNotIn("<?xml", page)
        self.assertIn("error: boom", page)
        self.assertNotIn("\x1b", page)
        sol = page[page.index("celltag_solution"):]
        self.assertLess(sol.index('<details class="solution">'), sol.index("let x = 1;"))
        self.assertLess(sol.index("let x = 1;"), sol.index("</details>"))
        self.assertLess(sol.index("</details>"), sol.index("<b>PASS</b>"))
        self.assertNotIn("Slides of this chapter", page)
        with_deck = book.chapter_markdown(self.chapter(), self.CHS, "slides/01-c1.slides.html")
        self.assertIn('<a href="slides/01-c1.slides.html">Slides of this chapter</a>', with_deck)

    def test_summary_lists_index_chapters_teachers_page_and_docs(self):
        s = book.summary(self.CHS[:2], [("classroom.md", "A room of learners")])
        lines = [ln for ln in s.splitlines() if "](" in ln]
        self.assertEqual(lines, [f"[{pages.COURSE}](index.md)", "- [Chapter 0](00-c0.md)", "- [Chapter 1](01-c1.md)",
                                 "- [Teacher's page](teachers.md)", "- [A room of learners](docs/classroom.md)"])

    def test_docs_links_stay_inside_the_book(self):
        out = book.doc_markdown("See [the README](../README.md#x), [the cache](cache.md) and [lib](../support/src/lib.rs).")
        self.assertEqual(out, "See [the README](../index.md), [the cache](cache.md) and lib (`support/src/lib.rs`).")

    def test_installing_the_book_replaces_only_the_previous_books_files(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        build, out = tmp / "build", tmp / "out"
        build.mkdir()
        (build / "01-c1.ipynb").write_text("executed")
        (build / "slides").mkdir()
        (build / "old-book.js").write_text("stale")
        (build / ".book-files").write_text("old-book.js\n")
        (out / "css").mkdir(parents=True)
        (out / "index.html").write_text("new")
        (out / "css" / "a.css").write_text("css")
        with mock.patch.object(book, "BUILD", build), mock.patch.object(book, "MANIFEST", build / ".book-files"):
            self.assertEqual(book.install_output(out), ["css", "index.html"])
        self.assertEqual(sorted(p.name for p in build.iterdir()), [".book-files", "01-c1.ipynb", "css", "index.html", "slides"])
        self.assertEqual((build / ".book-files").read_text(), "css\nindex.html\n")

    def test_notebook_links_become_page_links(self):
        page = ('<a href="01-layout.ipynb">1</a> <a href="./04-vec.ipynb#exercises">4</a> '
                '<a href="https://example.org/x.ipynb">ext</a> <a href="notes.ipynb">other</a>')
        out = pages.rewrite_notebook_links(page)
        self.assertIn('href="01-layout.html"', out)
        self.assertIn('href="./04-vec.html#exercises"', out)
        self.assertIn('href="https://example.org/x.ipynb"', out)
        self.assertIn('href="notes.ipynb"', out)
        self.assertIn('href="01-layout.slides.html"', pages.rewrite_notebook_links(page, ".slides.html"))

    def test_svg_images_are_inlined_and_titled(self):
        svg = '<svg width="10" height="10"><text x="1" y="1">Capacity vs length</text></svg>'
        data = base64.b64encode(svg.encode()).decode()
        page = f'<div class="jp-RenderedSVG"><img alt="x" src="data:image/svg+xml;base64,{data}"></div>'
        out = pages.inline_svgs(page)
        self.assertNotIn("<img", out)
        self.assertIn('<svg width="10" height="10"><title>Capacity vs length</title><text', out)
        # An SVG in an HTML output, and one that already has a title.
        self.assertIn("<title>Map</title>", pages.inline_svgs("<svg><text>Map</text></svg>"))
        kept = "<svg><title>T</title><text>Other</text></svg>"
        self.assertEqual(pages.inline_svgs(kept), kept)

    def test_slide_metadata_one_slide_per_section(self):
        nb = notebook(
            new_markdown_cell("# Title\n\nIntro"),
            code(":dep x"),
            new_markdown_cell("Text before.\n\n## Section A\n\nMore.\n\n```\n## not a heading\n```"),
            new_markdown_cell("### Exercise 1.1 — do it (10 minutes)"),
            code("solution", tags=["solution"]),
        )
        kinds = [(c.cell_type, c.metadata["slideshow"]["slide_type"], c.source.split("\n")[0])
                 for c in pages.slide_notebook(nb).cells]
        self.assertEqual([k[1] for k in kinds], ["slide", "-", "-", "slide", "subslide", "skip"], kinds)
        self.assertEqual(kinds[3][2], "## Section A")
        self.assertNotIn("slideshow", nb.cells[0].metadata, "the original notebook is not changed")

    def test_chapter_facts_for_the_teachers_page(self):
        c = code("x")
        c.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00.000Z",
                                   "shell.execute_reply": "2026-01-01T00:00:21.500Z"}
        nb = notebook(new_markdown_cell("# T\n\n**What you need**: chapter 1 (`Layout`)."), c,
                      new_markdown_cell("### Exercise 2.1 — a `GlobalAlloc` with a limit (15 minutes)\n\nText"))
        f = pages.chapter_facts(nb)
        self.assertEqual(f["exercises"], [{"id": "2.1", "what": "a `GlobalAlloc` with a limit", "minutes": 15}])
        self.assertEqual(f["needs"], "chapter 1 (`Layout`).")
        self.assertAlmostEqual(f["first_cell_seconds"], 21.5)


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@unittest.skipUnless(shutil.which("git"), "git is not installed")
class GitSide(unittest.TestCase):
    """The nbstripout filter as setup configures it, the hygiene check through it, and `make reset`."""

    def setUp(self):
        self.repo = Path(tempfile.mkdtemp())
        git(self.repo, "init", "-q")
        git(self.repo, "config", "user.email", "t@example.org")
        git(self.repo, "config", "user.name", "t")
        (self.repo / "notebooks").mkdir()
        self.nb_path = self.repo / "notebooks" / "01-a.ipynb"
        nb = notebook(new_markdown_cell("# T"), code(runner.SUPPORT_DEP), code("1 + 1"))
        self.nb_path.write_text(runner.canonical(nbformat.writes(nb)))
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", "course")

    def tearDown(self):
        shutil.rmtree(self.repo, ignore_errors=True)

    def with_outputs(self):
        nb = nbformat.read(self.nb_path, as_version=4)
        nb.cells[2].outputs = [new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
        nb.cells[2].execution_count = 1
        nbformat.write(nb, self.nb_path)

    def test_outputs_count_as_a_problem_only_without_the_filter(self):
        self.with_outputs()
        self.assertIn("with outputs", "\n".join(runner.hygiene_problems(self.nb_path)))
        (self.repo / ".gitattributes").write_text("*.ipynb filter=nbstripout\n")
        git(self.repo, "config", "filter.nbstripout.clean", f"'{sys.executable}' -m nbstripout --keep-id")
        git(self.repo, "config", "filter.nbstripout.smudge", "cat")
        self.assertEqual(runner.hygiene_problems(self.nb_path), [])
        self.assertEqual(git(self.repo, "diff", "--name-only"), "", "git diff sees no change")
        # git status compares sizes before it runs the filter: it lists the file until it is re-added.
        git(self.repo, "add", "notebooks")
        self.assertEqual(git(self.repo, "status", "--porcelain", "notebooks"), "")
        self.assertIn('"outputs": [\n', self.nb_path.read_text().replace('"outputs": []', ""),
                      "the working copy keeps its outputs")

    def test_a_notebook_stored_in_another_json_form_is_reported(self):
        text = self.nb_path.read_text().replace("\n ", "\n  ")  # indent 2 instead of nbformat's 1
        self.nb_path.write_text(text)
        git(self.repo, "commit", "-qam", "reindent")
        self.assertIn("make normalize", "\n".join(runner.hygiene_problems(self.nb_path)))

    def use_scripts_and_filter(self, repo: Path) -> None:
        (repo / "scripts").mkdir(exist_ok=True)
        for name in ("reset.sh", "update.sh"):
            shutil.copy(ROOT / "scripts" / name, repo / "scripts" / name)
        (repo / ".gitattributes").write_text("*.ipynb filter=nbstripout\n")
        git(repo, "config", "filter.nbstripout.clean", f"'{sys.executable}' -m nbstripout --keep-id")
        git(repo, "config", "filter.nbstripout.smudge", "cat")

    def edit_title(self, path: Path, title: str) -> None:
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].source = title
        path.write_text(runner.canonical(nbformat.writes(nb)))

    def test_update_pulls_over_outputs_and_saves_edited_chapters(self):
        self.use_scripts_and_filter(self.repo)
        second = self.repo / "notebooks" / "02-b.ipynb"
        shutil.copy(self.nb_path, second)
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", "two chapters")
        learner = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, learner, True)
        git(learner, "clone", "-q", str(self.repo), ".")
        git(learner, "config", "filter.nbstripout.clean", f"'{sys.executable}' -m nbstripout --keep-id")
        git(learner, "config", "filter.nbstripout.smudge", "cat")
        # The course changes both chapters; the learner ran chapter 1 (outputs) and edited chapter 2.
        self.edit_title(self.nb_path, "# T, updated")
        self.edit_title(second, "# B, updated")
        git(self.repo, "commit", "-qam", "update")
        mine1, mine2 = learner / "notebooks" / "01-a.ipynb", learner / "notebooks" / "02-b.ipynb"
        nb = nbformat.read(mine1, as_version=4)
        nb.cells[2].outputs = [new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
        nbformat.write(nb, mine1)
        self.edit_title(mine2, "# B, my answer")
        refused = subprocess.run(["git", "pull", "-q"], cwd=learner, capture_output=True, text=True)
        self.assertNotEqual(refused.returncode, 0, "a plain git pull refuses: the reason for make update")
        r = subprocess.run(["bash", "scripts/update.sh"], cwd=learner, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("# T, updated", mine1.read_text())
        self.assertIn("# B, updated", mine2.read_text())
        saved = list((learner / "notebooks" / ".backup").glob("02-b.*.ipynb"))
        self.assertEqual(len(saved), 1, r.stdout)
        self.assertIn("# B, my answer", saved[0].read_text())

    def test_reset_restores_the_chapter_and_keeps_the_learners_copy(self):
        self.use_scripts_and_filter(self.repo)
        committed = self.nb_path.read_text()
        self.with_outputs()
        mine = self.nb_path.read_text()
        other = self.repo / "notebooks" / "my-notes.ipynb"
        other.write_text("mine")
        r = subprocess.run(["bash", "scripts/reset.sh", "01"], cwd=self.repo, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.nb_path.read_text(), committed)
        backups = list((self.repo / "notebooks" / ".backup").glob("01-a.*.ipynb"))
        self.assertEqual(len(backups), 1, r.stdout)
        self.assertEqual(backups[0].read_text(), mine)
        self.assertEqual(other.read_text(), "mine", "other files are left alone")
        bad = subprocess.run(["bash", "scripts/reset.sh", "x1"], cwd=self.repo, capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("CHAPTER must be a chapter number", bad.stderr)


if __name__ == "__main__":
    unittest.main()
