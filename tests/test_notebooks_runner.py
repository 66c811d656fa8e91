"""Unit tests of the notebook runner's checks (no kernel needed): python -m unittest discover tests"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

import notebooks  # noqa: E402


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
        nb = notebook(new_markdown_cell("# Title"), code(notebooks.SUPPORT_DEP), code("1 + 1"))
        self.assertEqual(notebooks.hygiene_problems(write(self.tmp, nb)), [])

    def test_outputs_counts_kernel_and_dep_line_are_reported(self):
        c = code("1 + 1", outputs=[new_output("stream", name="stdout", text="2")])
        c.execution_count = 3
        nb = notebook(new_markdown_cell("no title"), code(":dep plotters = \"0.3\""), c, kernel="python3")
        probs = "\n".join(notebooks.hygiene_problems(write(self.tmp, nb)))
        for words in ["kernelspec name is 'python3'", "with outputs", "execution count",
                      "must start with", "markdown title"]:
            self.assertIn(words, probs)

    def test_first_code_cell_holds_only_dep_lines(self):
        nb = notebook(new_markdown_cell("# T"), code(notebooks.SUPPORT_DEP + "\nlet x = 1;"))
        self.assertIn("only :dep lines", "\n".join(notebooks.hygiene_problems(write(self.tmp, nb))))


class UnsafeNeedsSafety(unittest.TestCase):
    def test_every_unsafe_block_and_impl_needs_a_safety_comment(self):
        nb = notebook(
            code("// SAFETY: fine\nunsafe { a() };\nlet x = unsafe { b() }; // SAFETY: also fine"),
            code("// SAFETY: the block is ours\n// (a second comment line)\nunsafe impl Send for X {}"),
            code("let s = \"unsafe { not code }\"; // unsafe { in a comment }\nunsafe fn declared() {}"),
            code("let a = 1;\nunsafe { c() };"),
            code("// SAFETY: too far away\nlet b = 2;\nlet y = unsafe { d() };"),
        )
        probs = notebooks.unsafe_problems(nb)
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
        reqs = notebooks.excerpt_requests(self.nb())
        self.assertEqual(reqs, [
            (0, ("alloc/src/boxed.rs", 'pub unsafe extern "C" fn x')),
            (1, ("alloc/src/no_such_file.rs", "fn y")),
            (1, ("a.rs", "impl A", "fn b")),
        ])

    def test_missing_items_are_problems_and_the_deliberate_error_must_fail(self):
        def check(requests):
            return ["ok x:1-2", "error: not found", "error: `fn b` was not found"]
        probs = notebooks.excerpt_problems({"nb": self.nb()}, check)["nb"]
        self.assertEqual(len(probs), 1, probs)
        self.assertIn("cell 1: excerpt a.rs / impl A / fn b: error: `fn b` was not found", probs[0])
        found = notebooks.excerpt_problems({"nb": self.nb()}, lambda r: ["ok"] * len(r))["nb"]
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
        f = notebooks.cell_failures(nb)
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
        f = notebooks.cell_failures(nb)
        self.assertEqual(len(f), 2, f)
        self.assertIn("did not say NOT YET", f[0])
        self.assertIn("did not say PASS", f[1])


class Pages(unittest.TestCase):
    def test_solutions_are_folded(self):
        page = ('<div class="jp-Cell celltag_solution"><div class="jp-Cell-inputWrapper">SRC</div>'
                '<div class="jp-Cell-outputWrapper">OUT</div></div>'
                '<div class="jp-Cell"><div class="jp-Cell-inputWrapper">OTHER</div>'
                '<div class="jp-Cell-outputWrapper">X</div></div>')
        out = notebooks.hide_solutions(page)
        self.assertEqual(out.count("<details"), 1)
        self.assertLess(out.index("<details"), out.index("SRC"))
        self.assertLess(out.index("SRC"), out.index("</details>"))
        self.assertLess(out.index("</details>"), out.index("OUT"))
        self.assertGreater(out.index("OTHER"), out.index("</details>"))


if __name__ == "__main__":
    unittest.main()
