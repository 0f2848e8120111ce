"""Coalescing: the rules as a pure function, and as a device sees them."""

from __future__ import annotations

from datetime import datetime

import pytest
from odoo_webhook_core.capture import CapturedChange

from odoo_webhook_server.storage.events import event_of
from odoo_webhook_server.sync.coalesce import coalesce
from odoo_webhook_server.sync.events import Event, EventKind

from .conftest import Stack

T0 = datetime(2026, 11, 1, 12, 0)


@pytest.mark.parametrize(
    ("column", "fields"),
    [
        ("name,email", ("name", "email")),
        (",name,,email,", ("name", "email")),
        ("name", ("name",)),
        ("", ()),
        (None, ()),
    ],
)
def test_an_event_row_names_its_changed_fields_without_empty_names(
    column: str | None, fields: tuple[str, ...]
) -> None:
    row = (7, 100, "res.partner", 3, "write", T0, 2, column)
    assert event_of(row) == Event(7, 100, "res.partner", 3, "write", T0, 2, fields)
    assert event_of(row).changed_fields == fields


def _events(*kinds: EventKind, fields: tuple[tuple[str, ...], ...] = ()) -> list[Event]:
    return [
        Event(
            id=i + 1,
            txid=100 + i,
            model="res.partner",
            record_id=7,
            event=kind,
            timestamp=T0,
            changed_fields=fields[i] if i < len(fields) else (),
        )
        for i, kind in enumerate(kinds)
    ]


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (("create",), "create"),
        (("create", "write"), "create"),
        (("create", "write", "write"), "create"),
        (("write", "write"), "write"),
        (("write", "unlink"), "unlink"),
        (("write", "write", "unlink"), "unlink"),
        (("unlink",), "unlink"),
        (("create", "unlink"), None),
        (("create", "write", "unlink"), None),
    ],
)
def test_rules(kinds: tuple[EventKind, ...], expected: str | None) -> None:
    result = coalesce(_events(*kinds))
    assert [e.event for e in result] == ([expected] if expected else [])
    if result:
        assert result[0].id == len(kinds)  # carries the last event's id


def test_writes_merge_changed_fields_in_order() -> None:
    (merged,) = coalesce(
        _events("write", "write", "write", fields=(("name",), ("phone", "name"), ("email",)))
    )
    assert merged.changed_fields == ("name", "phone", "email")


def test_records_keep_the_order_of_their_last_event() -> None:
    a = Event(1, 1, "res.partner", 1, "write", T0, None, ("name",))
    b = Event(2, 1, "sale.order", 1, "create", T0)
    c = Event(3, 2, "res.partner", 1, "write", T0, None, ("phone",))
    assert [(e.model, e.id) for e in coalesce([a, b, c])] == [("sale.order", 2), ("res.partner", 3)]


def test_device_receives_one_event_per_record(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    stack.write(CapturedChange("res.partner", 1, "write", ("name",)))
    stack.write(CapturedChange("res.partner", 2, "write", ("phone",)))
    stack.write(CapturedChange("res.partner", 2, "write", ("email",)))
    stack.write(("sale.order", 5, "create"), ("sale.order", 5, "unlink"))
    stack.write(CapturedChange("res.partner", 3, "write", ("name",)), ("res.partner", 3, "unlink"))
    body = stack.pull().json()
    assert [
        (e["model"], e["record_id"], e["event"], e["changed_fields"]) for e in body["events"]
    ] == [
        ("res.partner", 1, "create", None),
        ("res.partner", 2, "write", ["phone", "email"]),
        ("res.partner", 3, "unlink", None),
    ]
    assert body["new_events_count"] == 3


def test_coalescing_is_per_batch(stack: Stack) -> None:
    """A record created in one batch and deleted in the next reaches the
    device as create, then unlink."""
    stack.write(("res.partner", 1, "create"))
    assert [e["event"] for e in stack.pull(limit=1).json()["events"]] == ["create"]
    stack.write(("res.partner", 1, "unlink"))
    assert [e["event"] for e in stack.pull(limit=1).json()["events"]] == ["unlink"]
