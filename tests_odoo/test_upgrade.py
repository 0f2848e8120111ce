"""Upgrading a database from the previous addon release (ORM capture, 18.0.2)
to database capture (18.0.3) with `odoo-bin -u`: the events, positions and
settings stay, the triggers arrive, and every change after the upgrade is
captured exactly once (no ORM capture left beside the triggers)."""

from __future__ import annotations

import ast
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

import psycopg

from .conftest import REPO, OdooEnvironment, free_port

DB = "upgrade_capture"

# The last commit of the 18.0.2.0.0 addon (capture in the ORM).
PREVIOUS_RELEASE = "34d36ea711cf453d8a871fb6b1ea49527d65b3a3"


def previous_release(into: Path, odoo: OdooEnvironment) -> tuple[Path, dict[str, str]]:
    """The previous release's addon, from this repository's history, and the
    environment for Odoo to run it: that release's package (the addon then
    imported the whole server package) ahead of this checkout's core."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into / "checkout", filter="data")
    subprocess.run(
        [
            odoo.python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(into / "package"),
            str(into / "checkout"),
        ],
        check=True,
        timeout=600,
    )
    env = {**odoo.env, "PYTHONPATH": f"{into / 'package'}:{odoo.env['PYTHONPATH']}"}
    return into / "checkout" / "addons", env


def odoo_run(
    odoo: OdooEnvironment,
    addons: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> str:
    command = odoo.command(DB, free_port())
    command = [
        c if not c.startswith("--addons-path=") else c.replace(str(REPO / "addons"), str(addons))
        for c in command
    ]
    if args and args[0] == "shell":
        command.insert(2, "shell")
        args = args[1:]
    run = subprocess.run(
        [*command, *args],
        env=env or odoo.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    assert " ERROR " not in log and "Traceback" not in log, log[-5000:]
    return log


def rows(odoo: OdooEnvironment, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(odoo.database_url(DB), autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


# Every column the states had before the upgrade (it adds the positions).
STATES = (
    "SELECT to_jsonb(s) - 'ack_position' - 'issued_position' FROM user_sync_state s ORDER BY id"
)


def test_an_upgrade_from_orm_capture_keeps_everything_and_captures_once(
    odoo: OdooEnvironment, tmp_path: Path
) -> None:
    old_addons, old_env = previous_release(tmp_path, odoo)
    odoo_run(odoo, old_addons, "-i", "custom_model_webhook", "--stop-after-init", env=old_env)
    assert rows(
        odoo,
        "SELECT latest_version FROM ir_module_module WHERE name = %s",
        ["custom_model_webhook"],
    ) == [("18.0.2.0.0",)]
    assert rows(
        odoo, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'custom_model_webhook%%'"
    ) == [(0,)]

    odoo_run(
        odoo,
        old_addons,
        "shell",
        "--no-http",
        env=old_env,
        stdin=(
            "p = env['res.partner'].create({'name': 'Before the upgrade'})\n"
            "p.write({'comment': 'still ORM capture'})\n"
            "env.cr.commit()\n"
        ),
    )
    rows(
        odoo,
        "INSERT INTO user_sync_state (user_id, device_id, app_type, last_event_id, sync_count,"
        " is_active, ack_txid, issued_txid, issued_event_id)"
        " SELECT 2, 'phone-1', 'sales_app', max(id), 3, true, max(txid), max(txid), max(id)"
        " FROM update_webhook",
    )
    events_before = rows(odoo, "SELECT * FROM update_webhook ORDER BY id")
    states_before = rows(odoo, STATES)
    last_before = rows(odoo, "SELECT max(id) FROM update_webhook")[0][0]
    partner_id = rows(odoo, "SELECT id FROM res_partner WHERE name = 'Before the upgrade'")[0][0]
    captured = rows(odoo, "SELECT model, record_id, event FROM update_webhook ORDER BY id")
    assert captured[-2:] == [
        ("res.partner", partner_id, "create"),
        ("res.partner", partner_id, "write"),
    ]

    odoo_run(odoo, REPO / "addons", "-u", "custom_model_webhook", "--stop-after-init")
    manifest = ast.literal_eval((REPO / "addons/custom_model_webhook/__manifest__.py").read_text())
    assert rows(
        odoo,
        "SELECT latest_version FROM ir_module_module WHERE name = %s",
        ["custom_model_webhook"],
    ) == [(manifest["version"],)]
    assert rows(odoo, "SELECT * FROM update_webhook ORDER BY id") == events_before
    assert rows(odoo, STATES) == states_before
    # Their positions stay the linear cursors: the server reads them as the
    # same positions (sync/position.py, Position.of_cursor), no resync.
    assert rows(odoo, "SELECT ack_position, issued_position FROM user_sync_state") == [(None, None)]
    triggers = rows(
        odoo,
        "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE c.relname = 'res_partner' AND tgname LIKE 'custom_model_webhook%%' ORDER BY 1",
    )
    assert triggers == [
        ("custom_model_webhook_capture_delete",),
        ("custom_model_webhook_capture_insert",),
        ("custom_model_webhook_capture_update",),
    ]

    odoo_run(
        odoo,
        REPO / "addons",
        "shell",
        "--no-http",
        stdin=(
            f"env['res.partner'].browse({partner_id}).write({{'comment': 'database capture'}})\n"
            "env['res.partner'].create({'name': 'After the upgrade'})\n"
            "env.cr.commit()\n"
        ),
    )
    rows(odoo, "UPDATE res_partner SET street = 'by SQL' WHERE id = %s", [partner_id])
    after = rows(
        odoo,
        "SELECT model, record_id, event, changed_fields FROM update_webhook WHERE id > %s"
        " ORDER BY id",
        [last_before],
    )
    new_id = rows(odoo, "SELECT id FROM res_partner WHERE name = 'After the upgrade'")[0][0]
    assert sorted(after[:2]) == [
        ("res.partner", partner_id, "write", "comment"),
        ("res.partner", new_id, "create", None),
    ], "each change once: no ORM capture left beside the triggers"
    assert after[2:] == [("res.partner", partner_id, "write", "street")]
