"""Positions in commit order (sync/position.py): pure rules."""

from __future__ import annotations

import pytest

from odoo_webhook_server.sync.cursor import Cursor
from odoo_webhook_server.sync.position import START, Position, Snapshot


def test_a_snapshot_shows_its_own_transaction_as_running_to_others() -> None:
    """PostgreSQL leaves the taker's own id out of the in-progress list:
    without putting it back, a later snapshot taken by another transaction
    could look older (same xmax, more running)."""
    taken_by_a = Snapshot.parse("100:105:102").as_others_see_it(101)  # a is 101
    taken_by_b_later = Snapshot.parse("100:105:101,102").as_others_see_it(None)
    assert taken_by_a == Snapshot(100, 105, (101, 102))
    assert taken_by_a.order_key <= taken_by_b_later.order_key
    # Not running from its own point of view, for the rest: unchanged.
    assert Snapshot.parse("100:105:").as_others_see_it(107) == Snapshot(100, 105)


def test_delivered_and_low_water() -> None:
    base = Snapshot(100, 110, (103,))
    top = Snapshot(103, 120, (115,))
    position = Position(base, top, Cursor(112, 7))
    assert position.delivered(105, 1)  # visible in base
    assert position.delivered(103, 50)  # running at base, served before `after`
    assert position.delivered(113, 1) is False  # committed by top, not served yet
    assert position.delivered(112, 7) and not position.delivered(112, 8)
    assert position.delivered(115, 1) is False  # still running at top
    # A transaction older than `after` was still running at top: the floor.
    assert position.low_water == Cursor(100, 0)
    assert Position(base, Snapshot(113, 120), Cursor(112, 7)).low_water == Cursor(112, 7)


def test_linear_cursors_convert_exactly() -> None:
    position = Position.of_cursor(Cursor(500, 42))
    assert position.delivered(499, 10**6) and position.delivered(500, 42)
    assert not position.delivered(500, 43) and not position.delivered(501, 1)
    assert position.low_water == Cursor(500, 42)
    assert Position.of_cursor(Cursor(0, 0)) == START


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1:2:3",
        "5:4:;5:4:;0:0",
        "1:9:a;1:9:;0:0",
        "1:9:5,3;1:9:;0:0",
        "1:9:;1:9:;0",
        "1:9:;1:9:;-1:0",
    ],
)
def test_malformed_positions_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Position.parse(text)


def test_positions_round_trip() -> None:
    position = Position(Snapshot(100, 110, (103, 107)), Snapshot(103, 120, (115,)), Cursor(112, 7))
    assert Position.parse(position.text()) == position
