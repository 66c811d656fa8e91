"""The course's Python environment as set-up leaves it (scripts/pip_install.sh).

rfc3987-syntax, an optional format checker of jsonschema's that jupyter-events pulls in, builds an Earley
parser whenever jsonschema is imported: about 1.9 CPU-seconds at every Jupyter server's start (every
learner's on the classroom server). Set-up removes it; jsonschema must still validate without it.
"""

import importlib.util
import subprocess
import sys
import unittest


class PythonEnv(unittest.TestCase):
    def test_no_rfc3987_syntax_and_jsonschema_still_validates(self):
        if not sys.prefix.endswith(".venv"):
            self.skipTest("not the course's .venv (run through make test)")
        self.assertIsNone(importlib.util.find_spec("rfc3987_syntax"), "set-up leaves rfc3987-syntax installed")
        r = subprocess.run([sys.executable, "-c", (
            "import jsonschema, sys\n"
            "v = jsonschema.Draft7Validator({'type': 'object', 'properties': {'u': {'type': 'string', 'format': 'iri'}}},"
            " format_checker=jsonschema.FormatChecker())\n"
            "v.validate({'u': 'https://example.org/a'})\n"
            "print(sorted(e.message for e in v.iter_errors({'u': 3})))\n"
            "print('rfc3987_syntax' in sys.modules)")], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split("\n")[:2], ["[\"3 is not of type 'string'\"]", "False"])


if __name__ == "__main__":
    unittest.main()
