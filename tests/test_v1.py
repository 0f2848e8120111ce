"""/api/v1 over real HTTP and PostgreSQL: the shapes v1 clients expect, the
filters and pages, clear 422s, and a cleanup that never takes from an active
v2 device what it has not acknowledged (unless an administrator forces it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from odoo_webhook_core.clock import utcnow

from .conftest import Stack, days, insert_event, sql

NOW = utcnow().replace(microsecond=0)
MANAGER_GROUP_ID = 42


def iso(moment: datetime) -> str:
    """How the API writes a naive UTC datetime."""
    return moment.isoformat() + "Z"


def stored(database_url: str) -> list[int]:
    return [row[0] for row in sql(database_url, "SELECT record_id FROM update_webhook ORDER BY id")]


def make_webhook_manager(database_url: str, uid: int) -> None:
    """Give `uid` the addon's Webhook Manager group, in the tables Odoo keeps it in."""
    sql(
        database_url,
        """
        CREATE TABLE IF NOT EXISTS ir_model_data (
            id serial PRIMARY KEY, module varchar, name varchar, model varchar, res_id int4);
        CREATE TABLE IF NOT EXISTS res_groups_users_rel (gid int4, uid int4);
        """,
    )
    sql(
        database_url,
        "INSERT INTO ir_model_data (module, name, model, res_id)"
        " VALUES ('custom_model_webhook', 'group_webhook_manager', 'res.groups', %s)",
        (MANAGER_GROUP_ID,),
    )
    sql(
        database_url,
        "INSERT INTO res_groups_users_rel (gid, uid) VALUES (%s, %s)",
        (MANAGER_GROUP_ID, uid),
    )


def get(stack: Stack, path: str, login: str | None = "admin", **params: Any) -> Any:
    with stack.client(login) as client:
        return client.get(path, params=params)


def cleanup(stack: Stack, login: str = "admin", **params: Any) -> Any:
    with stack.client(login) as client:
        return client.delete("/api/v1/cleanup", params=params)


def error_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text
    return [error["loc"][1] for error in response.json()["detail"]]


# --- authentication and health ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/check-updates?since=2025-11-15T10:00:00"),
        ("GET", "/api/v1/webhook/events"),
        ("DELETE", "/api/v1/cleanup?before=2025-11-15"),
    ],
)
def test_every_v1_endpoint_needs_a_session(stack: Stack, method: str, path: str) -> None:
    with stack.client(None) as client:
        assert client.request(method, path).status_code == 401
        bad = client.request(method, path, headers={"X-Session-Id": "not-a-session"})
        assert bad.status_code == 401
    with stack.client("alice") as client:
        assert client.request(method, path).status_code in (200, 403)


def test_health_needs_no_session(stack: Stack) -> None:
    for login in ("alice", None):  # monitoring has no session
        response = get(stack, "/api/v1/health", login)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}


def test_v1_endpoints_are_documented(stack: Stack) -> None:
    paths = get(stack, "/openapi.json", None).json()["paths"]
    assert {
        "/api/v1/check-updates",
        "/api/v1/webhook/events",
        "/api/v1/cleanup",
        "/api/v1/health",
    } <= set(paths)


# --- check-updates ------------------------------------------------------------


def test_check_updates_summarises_events_after_since(stack: Stack) -> None:
    t1, t2 = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    insert_event(stack.database_url, "res.partner", 1, t1 - timedelta(hours=1))
    insert_event(stack.database_url, "res.partner", 2, t1)
    insert_event(stack.database_url, "res.partner", 3, t2, "create")
    insert_event(stack.database_url, "sale.order", 4, t2, "unlink")

    body = get(stack, "/api/v1/check-updates", "alice", since=t1.isoformat()).json()
    assert body == {
        "has_update": True,
        "last_update_at": iso(t2),
        "summary": [{"model": "res.partner", "count": 1}, {"model": "sale.order", "count": 1}],
        "has_more": False,
    }

    caught_up = get(stack, "/api/v1/check-updates", "alice", since=t2.isoformat()).json()
    assert caught_up == {
        "has_update": False,
        "last_update_at": None,
        "summary": [],
        "has_more": False,
    }


def test_check_updates_without_since_counts_from_the_first_event(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 1, NOW - days(400))
    insert_event(stack.database_url, "sale.order", 2, NOW)
    for params in ({}, {"since": ""}):
        body = get(stack, "/api/v1/check-updates", **params).json()
        assert body["has_update"] is True
        assert body["summary"] == [
            {"model": "res.partner", "count": 1},
            {"model": "sale.order", "count": 1},
        ]
        assert body["last_update_at"] == iso(NOW)


@pytest.mark.parametrize(
    "since",
    [
        "2025-11-15",  # the guide's date-only form: midnight UTC
        "2025-11-15T00:00:00",  # the guide's form: naive = UTC, as Odoo stores
        "2025-11-15 00:00:00",
        "2025-11-15T00:00:00Z",
        "2025-11-15T00:00:00+00:00",
        "2025-11-15T02:00:00+02:00",
        "2025-11-15T02:00:00 02:00",  # "+" sent unencoded arrives as a space
        "2025-11-14T19:00:00-05:00",
        "2025-11-15T00:00:00.000000",
    ],
)
def test_since_accepts_iso_dates_and_datetimes(stack: Stack, since: str) -> None:
    midnight = datetime(2025, 11, 15)
    insert_event(stack.database_url, "res.partner", 1, midnight)  # not after since
    insert_event(stack.database_url, "res.partner", 2, midnight + timedelta(seconds=1))
    body = get(stack, "/api/v1/check-updates", since=since).json()
    assert body["summary"] == [{"model": "res.partner", "count": 1}], since
    assert body["last_update_at"] == "2025-11-15T00:00:01Z"


def test_check_updates_limit_pages_without_skipping_ties(stack: Stack) -> None:
    start = NOW - timedelta(hours=1)
    moments = [start + timedelta(minutes=m) for m in (1, 2, 2, 2, 3)]
    for record_id, moment in enumerate(moments, 1):
        insert_event(stack.database_url, "res.partner", record_id, moment)

    first = get(stack, "/api/v1/check-updates", since=start.isoformat(), limit=2).json()
    # The 2nd event's timestamp is shared by two more: all three are counted.
    assert first["summary"] == [{"model": "res.partner", "count": 4}]
    assert first["last_update_at"] == iso(moments[1])
    assert first["has_more"] is True

    second = get(stack, "/api/v1/check-updates", since=first["last_update_at"], limit=2).json()
    assert second["summary"] == [{"model": "res.partner", "count": 1}]
    assert second["last_update_at"] == iso(moments[-1])
    assert second["has_more"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2025-13-01"}, "since"),
        ({"since": "2025-11-15T25:00:00"}, "since"),
        ({"since": "1700000000"}, "since"),
        ({"since": "2025-11-15T10:00:00+25:00"}, "since"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),
        ({"since": "2025-11-15\x00"}, "since"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_check_updates_bad_input_is_422_naming_the_field(
    stack: Stack, params: dict[str, Any], field: str
) -> None:
    response = get(stack, "/api/v1/check-updates", **params)
    assert error_fields(response) == [field]


# --- webhook/events -----------------------------------------------------------


def test_events_shape(stack: Stack) -> None:
    at = NOW - timedelta(minutes=5)
    event_id = insert_event(stack.database_url, "sale.order", 12, at, "create")
    body = get(stack, "/api/v1/webhook/events", "bob").json()
    assert body == {
        "status": "success",
        "count": 1,
        "data": [
            {
                "id": event_id,
                "model": "sale.order",
                "record_id": 12,
                "event": "create",
                "occurred_at": iso(at),
            }
        ],
        "has_more": False,
    }


def test_events_filters(stack: Stack) -> None:
    old = NOW - days(2)
    insert_event(stack.database_url, "res.partner", 1, old, "create")
    insert_event(stack.database_url, "res.partner", 1, NOW, "write")
    insert_event(stack.database_url, "res.partner", 2, NOW, "write")
    insert_event(stack.database_url, "sale.order", 1, NOW, "unlink")

    def records(**params: Any) -> list[tuple[str, int, str]]:
        body = get(stack, "/api/v1/webhook/events", **params).json()
        assert body["count"] == len(body["data"])
        return [(e["model"], e["record_id"], e["event"]) for e in body["data"]]

    assert records() == [
        ("res.partner", 1, "create"),
        ("res.partner", 1, "write"),
        ("res.partner", 2, "write"),
        ("sale.order", 1, "unlink"),
    ]
    assert records(model_name="sale.order") == [("sale.order", 1, "unlink")]
    assert records(record_id=1) == [
        ("res.partner", 1, "create"),
        ("res.partner", 1, "write"),
        ("sale.order", 1, "unlink"),
    ]
    assert records(event="write") == [("res.partner", 1, "write"), ("res.partner", 2, "write")]
    assert records(since=(old + timedelta(hours=1)).isoformat() + "Z", record_id=1) == [
        ("res.partner", 1, "write"),
        ("sale.order", 1, "unlink"),
    ]
    assert records(model_name="res.partner", record_id=1, event="create") == [
        ("res.partner", 1, "create")
    ]
    assert records(model_name="stock.picking") == []


def test_events_pages(stack: Stack) -> None:
    ids = [insert_event(stack.database_url, "res.partner", n, NOW) for n in range(1, 6)]
    seen: list[int] = []
    offset = 0
    while True:
        body = get(stack, "/api/v1/webhook/events", limit=2, offset=offset).json()
        seen += [e["id"] for e in body["data"]]
        offset += body["count"]
        if not body["has_more"]:
            break
    assert seen == ids
    assert offset == 5
    past_the_end = get(stack, "/api/v1/webhook/events", offset=5).json()
    assert (past_the_end["count"], past_the_end["data"]) == (0, [])


def test_events_limit_bounds_are_accepted(stack: Stack) -> None:
    for limit in (1, 500):
        assert get(stack, "/api/v1/webhook/events", limit=limit).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"event": "delete"}, "event"),
        ({"event": ""}, "event"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**31}, "offset"),
        ({"record_id": 0}, "record_id"),
        ({"record_id": 2**31}, "record_id"),
        ({"record_id": "x"}, "record_id"),
        ({"model_name": "Res Partner; DROP"}, "model_name"),
        ({"since": "last tuesday"}, "since"),
    ],
)
def test_events_bad_input_is_422_naming_the_field(
    stack: Stack, params: dict[str, Any], field: str
) -> None:
    assert error_fields(get(stack, "/api/v1/webhook/events", **params)) == [field]


# --- cleanup ------------------------------------------------------------------


def test_cleanup_is_for_administrators(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 1, NOW - days(60))
    for params in ({"before": "2099-01-01"}, {"before": "2099-01-01", "force": "true"}):
        response = cleanup(stack, "alice", **params)
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    assert stored(stack.database_url) == [1]


def test_a_webhook_manager_may_clean_up(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 1, NOW - days(60))
    assert cleanup(stack, "bob", before=NOW.isoformat()).status_code == 403
    make_webhook_manager(stack.database_url, 7)
    response = cleanup(stack, "bob", before=NOW.isoformat())
    assert response.status_code == 200
    assert response.json()["deleted"] == 1


def test_cleanup_deletes_old_events_nobody_needs(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 40, NOW - days(40))
    insert_event(stack.database_url, "res.partner", 20, NOW - days(20))
    insert_event(stack.database_url, "res.partner", 1, NOW - days(1))
    cutoff = (NOW - days(10)).date().isoformat()  # the guide's date-only form
    response = cleanup(stack, before=cutoff)
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "deleted": 2,
        "kept": 0,
        "kept_unacknowledged": 0,
        "kept_reason": None,
        "before": cutoff + "T00:00:00Z",
        "forced": False,
    }
    assert stored(stack.database_url) == [1]


def test_cleanup_keeps_what_an_active_device_has_not_acknowledged(stack: Stack) -> None:
    stack.pull("alice", device_id="phone", app_type="sales_app")  # at the beginning
    insert_event(stack.database_url, "res.partner", 1, NOW - days(60))  # sales_app sees it
    insert_event(stack.database_url, "stock.picking", 2, NOW - days(60))  # it does not

    body = cleanup(stack, before=(NOW - days(10)).isoformat()).json()
    assert (body["deleted"], body["kept"], body["kept_unacknowledged"]) == (1, 1, 1)
    assert "not yet acknowledged by an active v2 device" in body["kept_reason"]
    assert "force=true" in body["kept_reason"]
    assert stored(stack.database_url) == [1]

    # Once the device has acknowledged it, the event goes.
    pulled = stack.pull("alice", device_id="phone", app_type="sales_app").json()
    assert [e["record_id"] for e in pulled["events"]] == [1]
    body = cleanup(stack, before=(NOW - days(10)).isoformat()).json()
    assert (body["deleted"], body["kept"], body["kept_reason"]) == (1, 0, None)
    assert stored(stack.database_url) == []


def test_cleanup_protects_only_what_a_token_acknowledged(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 1, NOW - days(60))
    first = stack.pull("alice", device_id="phone", app_type="sales_app", sync_token=None).json()
    insert_event(stack.database_url, "res.partner", 2, NOW - days(60))
    # Served event 2 but the response was never acknowledged by sending its token back.
    stack.pull(
        "alice", device_id="phone", app_type="sales_app", sync_token=first["next_sync_token"]
    )
    body = cleanup(stack, before=(NOW - days(10)).isoformat()).json()
    assert (body["deleted"], body["kept_unacknowledged"]) == (1, 1)
    assert stored(stack.database_url) == [2]


def test_devices_of_other_models_do_not_protect_events(stack: Stack) -> None:
    stack.pull("bob", device_id="van", app_type="delivery_app")  # never sees sale.order
    stack.pull("bob", device_id="van-2", app_type="delivery_app", models_filter=["stock.picking"])
    insert_event(stack.database_url, "sale.order", 1, NOW - days(60))
    insert_event(stack.database_url, "res.partner", 2, NOW - days(60))  # "van" needs it
    body = cleanup(stack, before=NOW.isoformat()).json()
    assert (body["deleted"], body["kept_unacknowledged"]) == (1, 1)
    assert stored(stack.database_url) == [2]


@pytest.mark.parametrize(
    "make_inactive",
    [
        "UPDATE user_sync_state SET is_active = false WHERE device_id = 'lost'",
        "UPDATE user_sync_state SET last_sync_time = %(old)s WHERE device_id = 'lost'",
    ],
)
def test_inactive_devices_do_not_protect_events(stack: Stack, make_inactive: str) -> None:
    stack.pull("alice", device_id="lost", app_type="sales_app")  # at the beginning
    insert_event(stack.database_url, "res.partner", 1, NOW - days(60))
    sql(stack.database_url, make_inactive, {"old": NOW - days(31)})
    body = cleanup(stack, before=NOW.isoformat()).json()
    assert (body["deleted"], body["kept"]) == (1, 0)


def test_the_inactivity_window_is_the_one_set_in_odoo(stack: Stack) -> None:
    stack.pull("alice", device_id="lost", app_type="sales_app")
    insert_event(stack.database_url, "res.partner", 1, NOW - days(60))
    sql(stack.database_url, "UPDATE user_sync_state SET last_sync_time = %s", (NOW - days(3),))
    assert cleanup(stack, before=NOW.isoformat()).json()["kept_unacknowledged"] == 1
    sql(
        stack.database_url,
        "INSERT INTO ir_config_parameter (key, value)"
        " VALUES ('custom_model_webhook.inactive_device_days', '2')",
    )
    assert cleanup(stack, before=NOW.isoformat()).json()["deleted"] == 1


def test_force_deletes_unacknowledged_events_and_marks_the_purge(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    stack.pull("alice", device_id="lagging", app_type="sales_app")  # acknowledges event 1
    old = insert_event(stack.database_url, "res.partner", 2, NOW - days(60))
    stack.pull("bob", device_id="van", app_type="delivery_app", models_filter=["stock.picking"])

    body = cleanup(stack, before=(NOW - days(10)).isoformat(), force="true").json()
    assert body["forced"] is True
    assert (body["deleted"], body["kept"], body["kept_reason"]) == (1, 0, None)
    assert stored(stack.database_url) == [1]

    marks = sql(stack.database_url, "SELECT model, event_id FROM update_webhook_purge")
    assert marks == [("res.partner", old)]
    lagging = stack.pull("alice", device_id="lagging", app_type="sales_app").json()
    assert lagging["resync_required"] is True
    # A device that never sees the model is not disturbed.
    van = stack.pull(
        "bob", device_id="van", app_type="delivery_app", models_filter=["stock.picking"]
    )
    assert van.json()["resync_required"] is False


def test_cleanup_works_in_batches(stack: Stack) -> None:
    sql(
        stack.database_url,
        """INSERT INTO update_webhook (model, record_id, event, "timestamp", is_archived)
           SELECT 'res.partner', n, 'write', %s, false FROM generate_series(1, 12001) AS n""",
        (NOW - days(60),),
    )
    body = cleanup(stack, before=NOW.isoformat()).json()
    assert body["deleted"] == 12001
    assert stored(stack.database_url) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "before"),
        ({"before": ""}, "before"),
        ({"before": "soon"}, "before"),
        ({"before": "2025-02-30"}, "before"),
        ({"before": "2025-11-15", "force": "maybe"}, "force"),
    ],
)
def test_cleanup_bad_input_is_422_naming_the_field(
    stack: Stack, params: dict[str, Any], field: str
) -> None:
    insert_event(stack.database_url, "res.partner", 1, NOW - days(60))
    assert error_fields(cleanup(stack, **params)) == [field]
    assert stored(stack.database_url) == [1]
