"""GET /api/v2/sync/stats over real HTTP and PostgreSQL: who may read it,
the archive totals, devices active / inactive, and the oldest event each app
type's active devices have not acknowledged."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from odoo_webhook_core import archiving

from odoo_webhook_server.storage.stats import run_blocking

from .conftest import Stack, days, insert_event, sql
from .test_v1 import NOW, make_webhook_manager


def stats(stack: Stack, login: str = "admin") -> Any:
    with stack.client(login) as client:
        response = client.get("/api/v2/sync/stats")
    assert response.status_code == 200, response.text
    return response.json()


def lag(body: Any) -> dict[str, tuple[int, int | None]]:
    """app type -> (active devices, record_id of the oldest unacknowledged event)."""
    return {
        row["app_type"]: (
            row["active_devices"],
            row["oldest_unacknowledged"]["record_id"] if row["oldest_unacknowledged"] else None,
        )
        for row in body["app_types"]
    }


def test_stats_are_for_administrators_and_managers(stack: Stack) -> None:
    with stack.client(None) as client:
        assert client.get("/api/v2/sync/stats").status_code == 401
    with stack.client("alice") as client:
        response = client.get("/api/v2/sync/stats")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    make_webhook_manager(stack.database_url, 6)
    stats(stack, "alice")


def test_empty_database(stack: Stack) -> None:
    assert stats(stack) == {
        "total_events": 0,
        "active_events": 0,
        "archived_events": 0,
        "archive_percentage": 0.0,
        "active_devices": 0,
        "inactive_devices": 0,
        "inactive_device_days": 30,
        "app_types": [
            {"app_type": app_type, "active_devices": 0, "oldest_unacknowledged": None}
            for app_type in ("delivery_app", "manager_app", "sales_app")
        ],
    }


def test_archive_totals(stack: Stack) -> None:
    for record_id in (1, 2, 3):
        insert_event(stack.database_url, "res.partner", record_id, NOW - days(40))
    sql(stack.database_url, "UPDATE update_webhook SET is_archived = true WHERE record_id < 3")
    body = stats(stack)
    assert (body["total_events"], body["archived_events"], body["active_events"]) == (3, 2, 1)
    assert body["archive_percentage"] == pytest.approx(66.7)


def test_devices_active_and_inactive(stack: Stack) -> None:
    for device in ("phone", "tablet", "lost", "stale"):
        stack.pull("alice", device_id=device, app_type="sales_app")
    sql(stack.database_url, "UPDATE user_sync_state SET is_active = false WHERE device_id = 'lost'")
    sql(
        stack.database_url,
        "UPDATE user_sync_state SET last_sync_time = %s WHERE device_id = 'stale'",
        (NOW - days(31),),
    )
    body = stats(stack)
    assert (body["active_devices"], body["inactive_devices"]) == (2, 2)
    assert lag(body)["sales_app"] == (2, None)

    # The inactivity window set in Odoo applies to both.
    sql(
        stack.database_url,
        "INSERT INTO ir_config_parameter (key, value)"
        " VALUES ('custom_model_webhook.inactive_device_days', '60')",
    )
    body = stats(stack)
    assert body["inactive_device_days"] == 60
    assert (body["active_devices"], body["inactive_devices"]) == (3, 1)
    assert lag(body)["sales_app"] == (3, None)


def test_oldest_unacknowledged_event_per_app_type(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    stack.pull("alice", device_id="phone", app_type="sales_app")  # has event 1
    stack.pull("alice", device_id="tablet", app_type="sales_app")  # has event 1
    stack.pull("bob", device_id="van", app_type="delivery_app")  # has event 1
    stack.write(("sale.order", 2, "create"))
    stack.write(("res.partner", 3, "write"))
    stack.pull("alice", device_id="phone", app_type="sales_app")  # caught up
    stack.pull("bob", device_id="van", app_type="delivery_app")  # caught up

    body = stats(stack)
    # The least advanced sales device (tablet) has not acknowledged event 2.
    assert lag(body) == {"sales_app": (2, 2), "delivery_app": (1, None), "manager_app": (0, None)}
    oldest = next(r for r in body["app_types"] if r["app_type"] == "sales_app")
    oldest = oldest["oldest_unacknowledged"]
    assert (oldest["model"], oldest["event"]) == ("sale.order", "create")
    assert oldest["timestamp"].endswith("Z")

    stack.pull("alice", device_id="tablet", app_type="sales_app")
    assert lag(stats(stack))["sales_app"] == (2, None)


def test_only_the_models_a_device_sees_count(stack: Stack) -> None:
    stack.pull("bob", device_id="van", app_type="delivery_app", models_filter=["stock.picking"])
    stack.pull("admin", device_id="desk", app_type="manager_app")
    stack.write(("res.partner", 1, "write"))  # not for the van
    assert lag(stats(stack)) == {
        "delivery_app": (1, None),
        "manager_app": (1, 1),
        "sales_app": (0, None),
    }
    stack.write(("stock.picking", 2, "write"))
    assert lag(stats(stack))["delivery_app"] == (1, 2)


def test_a_models_filter_narrows_an_all_models_app_type(stack: Stack) -> None:
    stack.pull("admin", device_id="orders", app_type="manager_app", models_filter=["sale.order"])
    stack.write(("res.partner", 1, "write"))
    assert lag(stats(stack))["manager_app"] == (1, None)
    stack.write(("sale.order", 2, "write"))
    assert lag(stats(stack))["manager_app"] == (1, 2)


def test_oldest_is_by_stream_position_not_by_timestamp(stack: Stack) -> None:
    stack.pull("admin", device_id="desk", app_type="manager_app")
    insert_event(stack.database_url, "res.partner", 1, NOW)
    insert_event(stack.database_url, "res.partner", 2, NOW - days(5))  # committed later
    assert lag(stats(stack))["manager_app"] == (1, 1)


def test_inactive_devices_are_not_waited_for(stack: Stack) -> None:
    stack.pull("alice", device_id="lost", app_type="sales_app")
    stack.write(("res.partner", 1, "write"))
    assert lag(stats(stack))["sales_app"] == (1, 1)
    sql(stack.database_url, "UPDATE user_sync_state SET is_active = false")
    assert lag(stats(stack))["sales_app"] == (0, None)


# --- the storage functions on an async connection ----------------------------


def test_cleanup_batches_and_counts(stack: Stack) -> None:
    stack.pull("alice", device_id="phone", app_type="sales_app")  # at the beginning
    for record_id in range(1, 6):
        insert_event(stack.database_url, "stock.picking", record_id, NOW - days(60))
    insert_event(stack.database_url, "res.partner", 6, NOW - days(60))
    with psycopg.connect(stack.database_url) as conn, conn.cursor() as cur:
        policy = archiving.ArchivePolicy()
        result = archiving.cleanup_before(cur, NOW, policy, batch_size=2, commit=conn.commit)
        assert result == archiving.CleanupResult(deleted=5, kept=1, kept_unacknowledged=1)
        forced = archiving.cleanup_before(cur, NOW, policy, batch_size=2, force=True)
        assert forced == archiving.CleanupResult(deleted=1, kept=0, kept_unacknowledged=0)


async def test_run_blocking_runs_the_shared_code_from_async_code(stack: Stack) -> None:
    sql(
        stack.database_url,
        "INSERT INTO ir_config_parameter (key, value)"
        " VALUES ('custom_model_webhook.archive_after_days', '3')",
    )
    policy = await run_blocking(stack.database_url, lambda cur, _: archiving.read_policy(cur))
    assert (policy.archive_after_days, policy.force_archive_after_days) == (3, 30)
    with pytest.raises(psycopg.errors.UndefinedTable):
        await run_blocking(stack.database_url, lambda cur, _: cur.execute("SELECT * FROM nope"))
