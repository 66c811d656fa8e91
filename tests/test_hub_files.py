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
        runs = " ".join(re.findall(r"^RUN ((?:.*\\\n)*.*)", (K8S / "Dockerfile").read_text(), re.M))
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


NETWORK_LABEL = "hub.jupyter.org/network-access-singleuser"


def learner_isolation_problems(values: dict) -> list[str]:
    """What in chart values would let one learner's pod reach another's. Chart 4.4.0's singleuser
    NetworkPolicy (templates/singleuser/netpol.yaml) lets into a learner's server only pods labelled
    NETWORK_LABEL (the hub and the proxy), plus `ingress` rules and `allowedIngressPorts` (open to any
    source); out of it go the hub, DNS, `egress` rules and what `egressAllowRules` allows (`privateIPs`:
    every pod's address)."""
    single = values.get("singleuser", {})
    net = single.get("networkPolicy", {})
    problems = []
    if net.get("enabled") is not True:
        problems.append("singleuser.networkPolicy.enabled is not true: no network policy at all")
    if net.get("ingress") != []:
        problems.append("singleuser.networkPolicy.ingress adds ways in")
    if net.get("allowedIngressPorts") != []:
        problems.append("singleuser.networkPolicy.allowedIngressPorts opens ports to every pod")
    if net.get("egress") != []:
        problems.append("singleuser.networkPolicy.egress adds ways out")
    if net.get("egressAllowRules", {}).get("privateIPs") is not False:
        problems.append("singleuser.networkPolicy.egressAllowRules.privateIPs lets a learner reach other pods")
    if net.get("interNamespaceAccessLabels") != "ignore":
        problems.append("singleuser.networkPolicy.interNamespaceAccessLabels lets labelled namespaces in")
    if str((single.get("extraLabels") or {}).get(NETWORK_LABEL)).lower() == "true":
        problems.append(f"singleuser.extraLabels gives learners' pods {NETWORK_LABEL}: they may enter each other's")
    return problems


class KubernetesValues(unittest.TestCase):
    def chart_and_ours(self) -> tuple[dict, dict]:
        import yaml
        return (yaml.safe_load((K8S / "z2jh-4.4.0" / "values.yaml").read_text()),
                yaml.safe_load((K8S / "values.yaml").read_text()))

    def test_learners_pods_cannot_reach_each_other(self):
        chart, ours = self.chart_and_ours()
        # What the check builds on: the chart's own defaults keep learners apart (policy on, no extra rule,
        # no egress to private addresses), and the learners' pods carry only the label that lets them reach the hub.
        self.assertEqual(learner_isolation_problems(chart), [])
        self.assertEqual(chart["singleuser"]["extraLabels"], {"hub.jupyter.org/network-access-hub": "true"})
        # Ours state it themselves (another chart's defaults cannot open it), and so does what Helm installs.
        self.assertEqual(learner_isolation_problems(ours), [])
        self.assertEqual(learner_isolation_problems(merge(chart, ours)), [])

    def test_each_way_between_learners_is_caught(self):
        chart, ours = self.chart_and_ours()
        openings = [
            {"networkPolicy": {"enabled": False}},
            {"networkPolicy": {"ingress": [{"from": [{"podSelector": {}}]}]}},
            {"networkPolicy": {"allowedIngressPorts": [8888]}},
            {"networkPolicy": {"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}},
            {"networkPolicy": {"egressAllowRules": {"privateIPs": True}}},
            {"networkPolicy": {"interNamespaceAccessLabels": "accept"}},
            {"extraLabels": {NETWORK_LABEL: "true"}},
        ]
        for opening in openings:
            values = merge(merge(chart, ours), {"singleuser": opening})
            self.assertEqual(len(learner_isolation_problems(values)), 1, opening)

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
