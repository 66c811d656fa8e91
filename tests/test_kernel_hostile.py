"""Unit tests of the live-kernel hostile-input check's judging (no kernel needed)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kernel_hostile as kh  # noqa: E402


def result(**kw):
    r = kh.CellResult()
    for k, v in kw.items():
        setattr(r, k, v)
    return r


class Judge(unittest.TestCase):
    def test_an_answer_must_show_its_words(self):
        case = kh.Case("c", "x", "ok", "39")
        self.assertEqual(kh.judge(case, result(display="39")), [])
        self.assertTrue(kh.judge(case, result(display="40")))
        self.assertTrue(kh.judge(case, result(status="error", error="boom")))

    def test_a_refusal_must_be_an_error_naming_the_limit(self):
        case = kh.Case("c", "x", "error", "limit of 1000000")
        self.assertEqual(kh.judge(case, result(status="error", error="... above the limit of 1000000")), [])
        panic = "thread '<unnamed>' panicked at src/x.rs:1:1:\nn is 10, above the limit of 1000000\n"
        self.assertEqual(kh.judge(case, result(status="ok", stderr=panic)), [])
        self.assertTrue(kh.judge(case, result(status="ok", display="fine")))
        self.assertTrue(kh.judge(case, result(status="ok", stderr="limit of 1000000 (a warning, no panic)")))
        self.assertTrue(kh.judge(case, result(status="error", error="attempt to multiply with overflow")))

    def test_a_marker_that_breaks_its_block_is_caught(self):
        case = kh.Case("c", "x", "ok", "after", not_in_stdout="after")
        self.assertEqual(kh.judge(case, result(display="<b>before</b>\nEVCXR&#95;END_CONTENT\nafter")), [])
        broken = kh.judge(case, result(display="<b>before</b>", stdout="after\nEVCXR_END_CONTENT\n"))
        self.assertTrue(any("leaked" in p for p in broken), broken)

    def test_messages_are_collected_by_kind(self):
        r = kh.CellResult()
        kh.collect(r, {"msg_type": "stream", "content": {"name": "stdout", "text": "hi"}})
        kh.collect(r, {"msg_type": "stream", "content": {"name": "stderr", "text": "oops"}})
        kh.collect(r, {"header": {"msg_type": "display_data"}, "content": {"data": {"text/html": "<p>"}}})
        kh.collect(r, {"msg_type": "error", "content": {"ename": "E", "evalue": "v", "traceback": ["t"]}})
        self.assertEqual((r.stdout, r.stderr, r.display), ("hi", "oops", "<p>"))
        self.assertEqual(r.error, "E\nv\nt")

    def test_every_case_has_words_to_look_for(self):
        for case in kh.CASES:
            self.assertIn(case.expect, ("ok", "error"), case.name)
            self.assertTrue(case.shows, case.name)


if __name__ == "__main__":
    unittest.main()
