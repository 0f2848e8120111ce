"""Installing the addon's Python dependency, as the README says, into a clean
virtualenv adds exactly one small distribution, odoo-webhook-core, which needs
nothing but the standard library; the addon imports nothing else of ours."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "addons" / "custom_model_webhook"


def installed(python: Path) -> set[str]:
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return {item["name"].lower() for item in json.loads(listing)}


def test_the_addon_brings_only_the_core_into_odoos_python(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    before = installed(python)
    # from a copy: building in place would leave core/build/ in the checkout
    core = shutil.copytree(REPO / "core", tmp_path / "core")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(core)],
        check=True,
        timeout=600,
    )
    assert installed(python) - before == {"odoo-webhook-core"}
    # Every module of the core imports in that venv: standard library only.
    modules = sorted(p.stem for p in (REPO / "core" / "odoo_webhook_core").glob("*.py"))
    imports = "; ".join(f"import odoo_webhook_core.{m}" for m in modules if m != "__init__")
    subprocess.run([str(python), "-c", imports], check=True, timeout=60)
    # and its SQL files came with it
    subprocess.run(
        [
            str(python),
            "-c",
            "from odoo_webhook_core.capture import capture_functions_sql as f;"
            " assert 'custom_model_webhook_capture' in f()",
        ],
        check=True,
        timeout=60,
    )


def test_the_addon_imports_the_core_and_nothing_else_of_ours() -> None:
    ours = set()
    for path in ADDON.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                ours.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                ours.update(alias.name.split(".")[0] for alias in node.names)
    assert {name for name in ours if name.startswith("odoo_webhook")} == {"odoo_webhook_core"}
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text(encoding="utf-8"))
    assert manifest["external_dependencies"] == {"python": ["odoo-webhook-core"]}
