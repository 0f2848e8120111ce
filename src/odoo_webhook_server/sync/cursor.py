"""A device's position in the event stream.

Events are ordered by (writing transaction id, event id). Readers only serve
events of transactions older than their snapshot's xmin, so every event
before a cursor has committed (or rolled back) for good and nothing can ever
appear behind it: this is what makes the stream gap-free even when
transactions commit out of id order.
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
