"""The addon's own Odoo tests (addons/custom_model_webhook/tests), run by a
real Odoo 18 as `odoo-bin --test-enable -i custom_model_webhook` on a fresh
database with only base installed."""

from __future__ import annotations

import re
import subprocess

from .conftest import OdooEnvironment, free_port


def test_addon_tests_pass_in_a_real_odoo(odoo: OdooEnvironment) -> None:
    command = odoo.command("addon_tests", free_port())
    command = [c for c in command if not c.startswith("--log-level")]
    run = subprocess.run(
        [
            *command,
            "-i",
            "custom_model_webhook",
            "--test-enable",
            "--test-tags=/custom_model_webhook",
            "--stop-after-init",
            "--log-level=test",
        ],
        env=odoo.env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    log = run.stdout + run.stderr
    summary = re.search(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests", log)
    assert summary, log[-5000:]
    failed, errors, total = (int(n) for n in summary.groups())
    assert (failed, errors) == (0, 0), log[-20000:]
    assert total >= 40, summary.group(0)
    assert run.returncode == 0, log[-5000:]
