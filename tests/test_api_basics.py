"""GET /, the guide's three "Testing" calls, and the OpenAPI docs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from odoo_webhook_core.capture import CapturedChange

from odoo_webhook_server.schemas.v2 import EventOut, PullOut, pull_out_json
from odoo_webhook_server.sync.events import Event

from .conftest import Stack


def test_root_reports_smart_sync_active(stack: Stack) -> None:
    with stack.client(None) as client:
        body = client.get("/").json()
    assert body["status"] == "running"
    assert body["services"]["smart_sync"] == "active"
    assert body["version"] == "2.0.0"


def test_docs_are_served(stack: Stack) -> None:
    with stack.client(None) as client:
        assert client.get("/docs").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v2/sync/pull", "/api/v2/sync/state", "/api/v2/sync/reset"} <= set(paths)


def test_guide_testing_sequence(stack: Stack) -> None:
    stack.write(("sale.order", 1, "create"), CapturedChange("res.partner", 9, "write", ("phone",)))
    stack.write(("stock.picking", 3, "create"))
    body = {"user_id": 2, "device_id": "test-device-123", "app_type": "sales_app", "limit": 10}
    with stack.client("admin") as client:
        first = client.post("/api/v2/sync/pull", json=body)
        assert first.status_code == 200
        pulled = first.json()
        assert pulled["status"] == "success"
        assert pulled["has_updates"] is True
        assert pulled["new_events_count"] == 2
        assert [(e["model"], e["record_id"], e["event"]) for e in pulled["events"]] == [
            ("sale.order", 1, "create"),
            ("res.partner", 9, "write"),
        ]
        assert pulled["events"][1]["changed_fields"] == ["phone"]
        assert pulled["has_more"] is False
        assert isinstance(pulled["next_sync_token"], str) and pulled["next_sync_token"]

        state = client.get(
            "/api/v2/sync/state", params={"user_id": 2, "device_id": "test-device-123"}
        )
        assert state.status_code == 200
        assert state.json() == {
            "user_id": 2,
            "device_id": "test-device-123",
            "app_type": "sales_app",
            "models_filter": None,
            "last_event_id": pulled["events"][-1]["id"],
            "last_sync_time": pulled["last_sync_time"],
            "sync_count": 1,
            "is_active": True,
        }

        again = client.post("/api/v2/sync/pull", json=body).json()
        assert again["has_updates"] is False and again["events"] == []

        reset = client.post(
            "/api/v2/sync/reset", params={"user_id": 2, "device_id": "test-device-123"}
        )
        assert reset.status_code == 200
        assert reset.json()["last_event_id"] == 0

        replay = client.post("/api/v2/sync/pull", json=body).json()
        assert [e["id"] for e in replay["events"]] == [e["id"] for e in pulled["events"]]


def test_pull_answers_are_written_as_pull_out_would_write_them() -> None:
    """The pull's JSON is written directly (the hot path); it must be what the
    documented schema, PullOut, would give."""
    naive = datetime(2026, 11, 30, 12, 0, 0, 123456)
    events = [
        Event(1, 10, "res.partner", 7, "create", naive, 2, ()),
        Event(2, 10, "sale.order", 8, "write", naive, None, ("name", "état")),
        Event(3, 11, "res.partner", 9, "unlink", naive.replace(tzinfo=UTC), 5, ()),
        Event(4, 12, "res.partner", 10, "create", naive.replace(microsecond=0), 5, ()),
    ]
    for resync_reason in (None, "events of sale.order … were deleted"):
        fields = {
            "next_sync_token": "v2.abc.def",
            "last_sync_time": naive,
            "has_more": True,
            "models_not_readable": ["stock.picking"],
        }
        direct = pull_out_json(events, resync_reason=resync_reason, **fields)  # type: ignore[arg-type]
        documented = PullOut(
            has_updates=True,
            new_events_count=4,
            events=[EventOut.of(event) for event in events],
            resync_required=resync_reason is not None,
            resync_reason=resync_reason,
            **fields,
        ).model_dump_json()
        assert json.loads(direct) == json.loads(documented)
        assert PullOut.model_validate_json(direct)
