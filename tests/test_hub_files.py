"""The hub's files checked without a hub: the class list refuses bad names, the learners' image runs
the same install scripts the tested hub does, and the Kubernetes values pass the chart's own schema."""
from __future__ import annotations

import copy
import json
import re
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hub"))
import course_hub  # noqa: E402

K8S = ROOT / "hub" / "k8s"


def merge(base: dict, over: dict) -> dict:
    """Helm's merge of user values over the chart's defaults (maps merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


class ClassList(unittest.TestCase):
    def read(self, text: str) -> list[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(text)
        return course_hub.read_class_list(Path(f.name))

    def test_names_comments_and_blank_lines(self):
        self.assertEqual(self.read("# room 2\nann\n\n  bob  # back row\nc_3\n"), ["ann", "bob", "c_3"])

    def test_bad_names_are_refused_with_their_line(self):
        for bad in ["Ann", "root;rm -rf /", "../etc", "1ann", "a" * 32, "ann bob", "-x", "é"]:
            with self.assertRaises(course_hub.ClassListError, msg=bad) as e:
                self.read(f"ok\n{bad}\n")
            self.assertIn(":2:", str(e.exception))

    def test_duplicates_and_empty_lists_are_refused(self):
        with self.assertRaisesRegex(course_hub.ClassListError, "listed twice"):
            self.read("ann\nann\n")
        with self.assertRaisesRegex(course_hub.ClassListError, "no learner names"):
            self.read("# nobody yet\n")


class LearnersImage(unittest.TestCase):
    def test_the_image_runs_the_scripts_the_hub_test_runs(self):
        runs = " ".join(re.findall(r"^RUN (.*(?:\\\n.*)*)", (K8S / "Dockerfile").read_text(), re.M))
        self.assertIn("scripts/setup.sh", runs)
        self.assertIn("scripts/setup_shared.sh", runs)
        makefile = (ROOT / "Makefile").read_text()
        self.assertIn("scripts/setup_shared.sh", makefile)

    def test_the_image_environment_is_the_spawners(self):
        env = dict(re.findall(r"(\w+)=(\S+)", (K8S / "Dockerfile").read_text().split("USER 1000")[0].split("useradd")[1]))
        keys = set(course_hub.learner_env("root")) - {"PATH"}
        self.assertGreaterEqual(len(keys), 6)
        for key in keys:
            self.assertIn(key, env, f"{key} is set for hub learners but not in the image")


class KubernetesValues(unittest.TestCase):
    def test_values_pass_the_charts_schema(self):
        import jsonschema
        import yaml
        chart = K8S / "z2jh-4.4.0"
        values = merge(yaml.safe_load((chart / "values.yaml").read_text()), yaml.safe_load((K8S / "values.yaml").read_text()))
        schema = json.loads((chart / "values.schema.json").read_text())
        jsonschema.validate(values, schema)

    def test_a_misspelt_key_is_caught(self):
        import jsonschema
        import yaml
        chart = K8S / "z2jh-4.4.0"
        ours = yaml.safe_load((K8S / "values.yaml").read_text())
        ours["singleuser"]["memroy"] = {"limit": "3G"}
        values = merge(yaml.safe_load((chart / "values.yaml").read_text()), ours)
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(values, json.loads((chart / "values.schema.json").read_text()))


if __name__ == "__main__":
    unittest.main()
