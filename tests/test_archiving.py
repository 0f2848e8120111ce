"""The archiving rules with time moved forward (old timestamps, no sleeping),
and what devices see afterwards: archived events still served, resync
signalled after deletion."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from odoo_webhook_core.archiving import ArchivePolicy, archive_stats, run_archiving
from odoo_webhook_core.clock import utcnow

from .conftest import Stack, days, insert_event

NOW = utcnow()


def archive(database_url: str, **policy: int) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        return run_archiving(
            cur, ArchivePolicy(**policy), now=NOW, batch_size=3, commit=conn.commit
        )


def status(database_url: str) -> dict[int, tuple[bool, int] | None]:
    """record_id -> (is_archived, min_users_synced), None once deleted."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT record_id, is_archived, min_users_synced FROM update_webhook"
        ).fetchall()
    return {record_id: (archived, synced) for record_id, archived, synced in rows}


def test_rule_1_archives_after_7_days_once_every_device_acknowledged(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 6, NOW - days(6))
    insert_event(stack.database_url, "res.partner", 7, NOW - days(7))
    for device in ("phone", "tablet"):
        stack.pull("alice", device_id=device, app_type="sales_app")
    summary = archive(stack.database_url)
    assert status(stack.database_url) == {6: (False, 0), 7: (True, 2)}
    assert summary["archived_synced"] == 1 and summary["archived_forced"] == 0


def test_rule_1_waits_for_a_lagging_active_device(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 10, NOW - days(10))
    stack.pull("alice", device_id="phone", app_type="sales_app")
    stack.write(("res.partner", 99, "create"))
    stack.pull("bob", device_id="van", app_type="delivery_app", limit=1)  # gets event 10 only
    stack.pull("admin", device_id="old-laptop", app_type="manager_app", limit=1)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE user_sync_state SET ack_txid = 0, last_event_id = 0"
            " WHERE device_id = 'old-laptop'"
        )
    archive(stack.database_url)
    assert status(stack.database_url)[10] == (False, 0)


def test_devices_that_do_not_see_the_model_do_not_hold_it_back(stack: Stack) -> None:
    stack.pull("bob", device_id="van", app_type="delivery_app")  # at the beginning, empty
    insert_event(
        stack.database_url, "sale.order", 1, NOW - days(8)
    )  # delivery_app never sees orders
    stack.pull("alice", device_id="phone", app_type="sales_app")
    archive(stack.database_url)
    assert status(stack.database_url)[1] == (True, 1)


@pytest.mark.parametrize(
    "make_inactive",
    [
        "UPDATE user_sync_state SET is_active = false WHERE device_id = 'lost'",
        "UPDATE user_sync_state SET last_sync_time = %(old)s WHERE device_id = 'lost'",
    ],
)
def test_inactive_devices_are_exempt(stack: Stack, make_inactive: str) -> None:
    stack.pull("alice", device_id="lost", app_type="sales_app")  # at the beginning
    insert_event(stack.database_url, "res.partner", 1, NOW - days(8))
    stack.pull("alice", device_id="phone", app_type="sales_app")
    archive(stack.database_url)
    assert status(stack.database_url)[1] == (False, 0)  # "lost" is active and behind
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(make_inactive, {"old": NOW - days(31)})
    archive(stack.database_url)
    assert status(stack.database_url)[1] == (True, 1)


def test_inactivity_window_is_configurable(stack: Stack) -> None:
    stack.pull("alice", device_id="lost", app_type="sales_app")
    insert_event(stack.database_url, "res.partner", 1, NOW - days(8))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("UPDATE user_sync_state SET last_sync_time = %s", (NOW - days(3),))
    archive(stack.database_url)
    assert status(stack.database_url)[1] == (False, 0)
    archive(stack.database_url, inactive_device_days=2)
    assert status(stack.database_url)[1] == (True, 0)


def test_rule_2_forces_after_30_days(stack: Stack) -> None:
    stack.pull("alice", device_id="lagging", app_type="sales_app")  # at the beginning
    insert_event(stack.database_url, "res.partner", 29, NOW - days(29))
    insert_event(stack.database_url, "res.partner", 30, NOW - days(30))
    summary = archive(stack.database_url)
    assert status(stack.database_url) == {29: (False, 0), 30: (True, 0)}
    assert (summary["archived_forced"], summary["archived_synced"]) == (1, 0)


def test_rule_3_deletes_archived_events_after_90_days(stack: Stack) -> None:
    for age in (89, 90, 120):
        insert_event(stack.database_url, "res.partner", age, NOW - days(age))
    summary = archive(stack.database_url)
    assert status(stack.database_url) == {89: (True, 0)}
    assert summary["deleted"] == 2


def test_thresholds_come_from_the_policy(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 3, NOW - days(3))
    insert_event(stack.database_url, "res.partner", 12, NOW - days(12))
    archive(
        stack.database_url, archive_after_days=2, force_archive_after_days=5, delete_after_days=10
    )
    assert status(stack.database_url) == {3: (True, 0)}


def test_archiving_is_idempotent(stack: Stack) -> None:
    for age in (1, 8, 31, 95):
        insert_event(stack.database_url, "res.partner", age, NOW - days(age))
    first = archive(stack.database_url)
    after_first = status(stack.database_url)
    second = archive(stack.database_url)
    assert status(stack.database_url) == after_first
    assert (second["archived_synced"], second["archived_forced"], second["deleted"]) == (0, 0, 0)
    assert first["deleted"] == 1


def test_an_archived_event_still_reaches_a_lagging_device(stack: Stack) -> None:
    stack.pull("alice", device_id="lagging", app_type="sales_app")
    insert_event(stack.database_url, "res.partner", 40, NOW - days(40))
    archive(stack.database_url)
    assert status(stack.database_url)[40] == (True, 0)
    body = stack.pull("alice", device_id="lagging", app_type="sales_app").json()
    assert [e["record_id"] for e in body["events"]] == [40]
    assert body["resync_required"] is False


def test_deletion_before_acknowledgement_asks_for_resync(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    stack.pull("alice", device_id="lagging", app_type="sales_app")  # acknowledges event 1
    insert_event(stack.database_url, "res.partner", 95, NOW - days(95))
    stack.pull("alice", device_id="current", app_type="sales_app")  # up to date
    stack.pull("bob", device_id="van", app_type="delivery_app", models_filter=["stock.picking"])
    archive(stack.database_url)
    assert 95 not in status(stack.database_url)

    lagging = stack.pull("alice", device_id="lagging", app_type="sales_app").json()
    assert lagging["resync_required"] is True
    assert "res.partner" in lagging["resync_reason"]
    assert lagging["events"] == []
    # Asking again does not clear the signal: nothing moved.
    assert stack.pull("alice", device_id="lagging", app_type="sales_app").json()["resync_required"]

    # An up-to-date device, and one that never sees the model, are never told.
    assert (
        stack.pull("alice", device_id="current", app_type="sales_app").json()["resync_required"]
        is False
    )
    van = stack.pull(
        "bob", device_id="van", app_type="delivery_app", models_filter=["stock.picking"]
    )
    assert van.json()["resync_required"] is False

    # The documented way out: reset to the head, reload, pull.
    with stack.client("alice") as client:
        reset = client.post(
            "/api/v2/sync/reset",
            params={"user_id": 6, "device_id": "lagging", "position": "head"},
        )
        assert reset.status_code == 200
    stack.write(("res.partner", 2, "write"))
    after = stack.pull("alice", device_id="lagging", app_type="sales_app").json()
    assert after["resync_required"] is False
    assert [e["record_id"] for e in after["events"]] == [2]


def test_stats(stack: Stack) -> None:
    for age in (1, 40, 50):
        insert_event(stack.database_url, "res.partner", age, NOW - days(age))
    archive(stack.database_url)
    with psycopg.connect(stack.database_url) as conn, conn.cursor() as cur:
        stats = archive_stats(cur)
    assert stats["total_events"] == 3
    assert stats["archived_events"] == 2
    assert stats["active_events"] == 1
    assert stats["archive_percentage"] == pytest.approx(66.7)


def test_archive_command_uses_the_thresholds_set_in_odoo(stack: Stack) -> None:
    stack.pull("alice", device_id="lagging", app_type="sales_app")  # holds rule 1 back
    insert_event(stack.database_url, "res.partner", 4, NOW - days(4))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        for key, value in (("force_archive_after_days", "3"), ("archive_after_days", "2")):
            conn.execute(
                "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)",
                (f"custom_model_webhook.{key}", value),
            )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo_webhook_server",
            "archive",
            "--database-url",
            stack.database_url,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["archived_forced"] == 1
    assert summary["policy"]["force_archive_after_days"] == 3
    assert status(stack.database_url)[4] == (True, 0)


def test_policy_refuses_inconsistent_thresholds() -> None:
    with pytest.raises(ValueError):
        ArchivePolicy(archive_after_days=40, force_archive_after_days=30)
    with pytest.raises(ValueError):
        ArchivePolicy(delete_after_days=10)
