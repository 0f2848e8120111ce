"""The demo's simulated Odoo changes business rows; the real capture triggers
turn them into events that a device pulls over real HTTP."""

from __future__ import annotations

from odoo_webhook_server.demo.simulator import TRACKED_TABLES, OdooSimulator

from .conftest import Stack, sql


def test_the_demo_changes_rows_and_the_triggers_capture_them(stack: Stack) -> None:
    simulator = OdooSimulator(stack.database_url, user_ids=(2, 6))
    simulator.install()
    simulator.install()  # idempotent
    written = simulator.run_actions(60)
    assert written > 0
    events = sql(
        stack.database_url, "SELECT model, event, changed_fields, user_id FROM update_webhook"
    )
    assert len(events) == written
    assert {model for model, *_ in events} <= {t.model for t in TRACKED_TABLES}
    assert {kind for _, kind, *_ in events} == {"create", "write", "unlink"}
    assert all(fields for _, kind, fields, _ in events if kind == "write")
    assert {user for *_, user in events} <= {2, 6}

    pulled = 0
    token = None
    while True:
        body = stack.pull(
            device_id="demo-phone", app_type="manager_app", limit=500, sync_token=token
        ).json()
        pulled += len(body["events"])
        token = body["next_sync_token"]
        if not body["has_more"]:
            break
    assert 0 < pulled <= written  # several events of one record come as one
