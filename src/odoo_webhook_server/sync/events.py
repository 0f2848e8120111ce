"""The event as the engine sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple

__all__ = ["EVENT_KINDS", "Event", "EventKind"]

EventKind = Literal["create", "write", "unlink"]
EVENT_KINDS: tuple[EventKind, ...] = ("create", "write", "unlink")


class Event(NamedTuple):
    """One row of update_webhook (or several of one record, once coalesced).

    Immutable as a named tuple, which a pull builds hundreds of for a third of
    what a frozen dataclass costs."""

    id: int
    txid: int
    model: str
    record_id: int
    event: EventKind
    timestamp: datetime
    user_id: int | None = None
    changed_fields: tuple[str, ...] = ()
