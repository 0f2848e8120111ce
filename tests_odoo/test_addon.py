"""The addon's own Odoo tests (addons/custom_model_webhook/tests), run by a
real Odoo 18 as `odoo-bin --test-enable -i ...`: on a fresh database with only
base installed (the addon depends on base only), and on one with Sales and
Inventory, where the business-flow capture tests (test_capture_flows) run
instead of skipping."""

from __future__ import annotations

import re
import subprocess

from .conftest import OdooEnvironment, free_port


def run_addon_tests(odoo: OdooEnvironment, database: str, modules: str) -> str:
    command = odoo.command(database, free_port())
    command = [c for c in command if not c.startswith("--log-level")]
    run = subprocess.run(
        [
            *command,
            "-i",
            modules,
            "--test-enable",
            "--test-tags=/custom_model_webhook",
            "--stop-after-init",
            "--log-level=test",
        ],
        env=odoo.env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    log = run.stdout + run.stderr
    summary = re.search(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests", log)
    assert summary, log[-5000:]
    failed, errors, total = (int(n) for n in summary.groups())
    assert (failed, errors) == (0, 0), log[-20000:]
    assert total >= 40, summary.group(0)
    assert run.returncode == 0, log[-5000:]
    return log


def test_addon_tests_pass_in_a_real_odoo(odoo: OdooEnvironment) -> None:
    log = run_addon_tests(odoo, "addon_tests", "custom_model_webhook")
    assert "skipped TestCaptureFlows" in log, "no Sales here: the flows say why they skip"


def test_addon_tests_pass_with_sales_and_inventory(odoo: OdooEnvironment) -> None:
    log = run_addon_tests(odoo, "addon_tests_sale", "sale_management,stock,custom_model_webhook")
    flows = re.findall(r"Starting TestCaptureFlows\.(\w+)", log)
    assert len(flows) >= 10, flows
    assert "skipped TestCaptureFlows" not in log, "the business flows must run here"
