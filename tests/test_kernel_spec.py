"""The installed `rust` kernel spec survives a kernel start (issue 12, item 1); the lab settings are valid.

evcxr_jupyter 0.22.0 reinstalls its kernel spec at start-up when the spec folder's version.txt differs
from the one compiled into the binary (src/install.rs, `update_if_necessary`); that rewrite drops the
course's display name and EVCXR_CONFIG_DIR. scripts/setup.sh copies evcxr's own version.txt beside the
course's kernel.json. This test starts a real kernel the way `make lab` does (JUPYTER_PATH is exactly
the venv's share/jupyter, the one case in which evcxr looks there) and checks that every file of the
spec folder is byte-for-byte unchanged afterwards. It needs `make setup` (skipped, saying so, without).
"""

import os
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARE = Path(sys.prefix) / "share" / "jupyter"
SPEC_DIR = SHARE / "kernels" / "rust"


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@unittest.skipUnless((SPEC_DIR / "kernel.json").exists(), f"no kernel spec at {SPEC_DIR}: run `make setup`")
@unittest.skipUnless(shutil.which("evcxr_jupyter"), "evcxr_jupyter is not on PATH: run `make setup`")
class KernelSpecIsStable(unittest.TestCase):
    def test_a_kernel_start_leaves_the_spec_unchanged(self):
        from jupyter_client.manager import start_new_kernel

        before = snapshot(SPEC_DIR)
        self.assertIn("version.txt", sorted(before), "setup must install evcxr's version.txt beside kernel.json")
        saved_env = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = str(SHARE)  # exactly what the Makefile exports for `make lab`
        log = tempfile.TemporaryFile()
        km = kc = None
        try:
            km, kc = start_new_kernel(kernel_name="rust", cwd=str(ROOT / "notebooks"),
                                      startup_timeout=120, stdout=log, stderr=log)
            reply = kc.execute_interactive("1 + 1", timeout=120)
            self.assertEqual(reply["content"]["status"], "ok")
        finally:
            if kc is not None:
                kc.stop_channels()
            if km is not None:
                km.shutdown_kernel(now=True)
            if saved_env is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = saved_env
        after = snapshot(SPEC_DIR)
        log.seek(0)
        said = log.read().decode(errors="replace")
        if after != before:
            # Put the course's spec back before failing, so one failed run does not break the next.
            for name in set(after) - set(before):
                (SPEC_DIR / name).unlink()
            for name, data in before.items():
                (SPEC_DIR / name).write_bytes(data)
        changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
        self.assertEqual(changed, [], f"the kernel rewrote {changed}; it said: {said[-600:]}")
        self.assertNotIn("Updated Evcxr Jupyter installation", said)


@unittest.skipUnless((SPEC_DIR / "kernel.json").exists(), f"no kernel spec at {SPEC_DIR}: run `make setup`")
class WarmKernelProvisioner(unittest.TestCase):
    def test_the_spec_names_an_installed_provisioner(self):
        """jupyter_client hides a kernel spec whose provisioner is not installed: the course's kernel would
        vanish from JupyterLab's launcher. The warm-up lines start with the chapters' own first cell."""
        import json

        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.provisioning.factory import KernelProvisionerFactory

        spec = json.loads((SPEC_DIR / "kernel.json").read_text())
        prov = spec["metadata"]["kernel_provisioner"]
        self.assertTrue(KernelProvisionerFactory.instance()._get_provisioner(prov["provisioner_name"]))
        self.assertIn("rust", KernelSpecManager(kernel_dirs=[str(SPEC_DIR.parent)]).get_all_specs())
        self.assertEqual(prov["config"]["warm_up"][0], ':dep support = { path = "../support" }')
        self.assertEqual(prov["config"]["pool_size"], 1)


OVERRIDES = SHARE / "lab" / "settings" / "overrides.json"
SCHEMAS = SHARE / "lab" / "schemas"


@unittest.skipUnless(OVERRIDES.exists(), f"no {OVERRIDES}: run `make setup`")
class LabSettings(unittest.TestCase):
    def test_overrides_are_valid_settings_that_turn_the_news_question_off(self):
        """Each plugin's override validates against the schema of the installed JupyterLab (a renamed or
        retyped setting after an upgrade would be silently ignored), and news fetching is "Never"
        (the default, "none", makes JupyterLab ask on first open)."""
        import json

        import jsonschema

        overrides = json.loads(OVERRIDES.read_text())
        for plugin, values in overrides.items():
            package, name = plugin.rsplit(":", 1)
            schema = json.loads((SCHEMAS / package / f"{name}.json").read_text())
            for key in values:
                self.assertIn(key, schema["properties"], f"{plugin} has no setting {key}")
            jsonschema.validate(values, schema)
        self.assertEqual(overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"], "false")


if __name__ == "__main__":
    unittest.main()
