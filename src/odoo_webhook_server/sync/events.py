"""The event as the engine sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["EVENT_KINDS", "Event", "EventKind"]

EventKind = Literal["create", "write", "unlink"]
EVENT_KINDS: tuple[EventKind, ...] = ("create", "write", "unlink")


@dataclass(frozen=True)
class Event:
    """One row of update_webhook (or several of one record, once coalesced)."""

    id: int
    txid: int
    model: str
    record_id: int
    event: EventKind
    timestamp: datetime
    user_id: int | None = None
    changed_fields: tuple[str, ...] = field(default=())
