"""A linear point of the event stream: (writing transaction id, event id).

Positions are snapshots (position.py); a cursor is what linear comparisons
need: the order of events inside a batch, a position's low-water mark (every
event up to it delivered), which archiving and statistics compare, and the
positions of servers before commit-order delivery, which convert exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["START", "Cursor"]


@dataclass(frozen=True, order=True)
class Cursor:
    """Position just after the event (txid, event_id); (0, 0) is the beginning."""

    txid: int
    event_id: int


START = Cursor(0, 0)
