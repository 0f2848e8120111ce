"""Query parameters and responses of /api/v1 (the shapes v1 clients expect).

Datetimes in queries are ISO 8601, with or without a timezone: naive means
UTC, as Odoo stores them; the guide's date-only ``2025-11-15`` means its
midnight UTC. Responses carry UTC with a ``Z``, like /api/v2.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from odoo_webhook_core.archiving import CleanupResult
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from ..sync.events import Event, EventKind
from .v2 import UtcDatetime

__all__ = [
    "CheckUpdatesOut",
    "CleanupOut",
    "EventsOut",
    "HealthOut",
    "ModelCount",
    "OptionalQueryDatetime",
    "QueryDatetime",
    "V1Event",
]

# An unencoded "+02:00" in a URL arrives as " 02:00": put the plus back.
_SPACED_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def _parse_iso(value: object) -> object:
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    text = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 date or datetime, e.g. 2025-11-15, 2025-11-15T10:00:00"
            " or 2025-11-15T10:00:00Z"
        ) from None


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("is out of range") from None


QueryDatetime = Annotated[datetime, BeforeValidator(_parse_iso), AfterValidator(_naive_utc)]
"""A datetime query parameter, as naive UTC (the "timestamp" column's type)."""
OptionalQueryDatetime = Annotated[
    datetime | None, BeforeValidator(_parse_iso), AfterValidator(_naive_utc)
]
"""The same, where an empty value means none (`since=` from a client that never synced)."""


class ModelCount(BaseModel):
    model: str
    count: int


class CheckUpdatesOut(BaseModel):
    has_update: bool
    last_update_at: UtcDatetime | None = Field(
        description="Timestamp of the newest event counted; send it as the next `since`. "
        "Null when there is no update."
    )
    summary: list[ModelCount] = Field(description="Events counted, per model.")
    has_more: bool = Field(
        description="More events follow the ones counted: ask again with since=last_update_at."
    )


class V1Event(BaseModel):
    id: int
    model: str
    record_id: int
    event: EventKind
    occurred_at: UtcDatetime

    @classmethod
    def of(cls, event: Event) -> V1Event:
        return cls(
            id=event.id,
            model=event.model,
            record_id=event.record_id,
            event=event.event,
            occurred_at=event.timestamp,
        )


class EventsOut(BaseModel):
    status: Literal["success"] = "success"
    count: int = Field(description="Events in `data` (this page).")
    data: list[V1Event]
    has_more: bool = Field(description="More events match: ask again with offset + count.")


class CleanupOut(BaseModel):
    ok: bool = True
    deleted: int = Field(description="Events deleted.")
    kept: int = Field(description="Events older than `before` that are still stored.")
    kept_unacknowledged: int = Field(
        description="Of those, events that an active v2 device has not acknowledged yet."
    )
    kept_reason: str | None = Field(description="Why events were kept; null when none were.")
    before: UtcDatetime
    forced: bool

    @classmethod
    def of(cls, result: CleanupResult, *, before: datetime, forced: bool) -> CleanupOut:
        if result.kept_unacknowledged:
            reason: str | None = (
                f"{result.kept_unacknowledged} of them are not yet acknowledged by an active "
                "v2 device (see GET /api/v2/sync/stats); an administrator may pass "
                "force=true to delete them anyway, and those devices will then be told "
                "to resync"
            )
        elif result.kept:
            reason = "they were being changed by another transaction; run the cleanup again"
        else:
            reason = None
        return cls(
            deleted=result.deleted,
            kept=result.kept,
            kept_unacknowledged=result.kept_unacknowledged,
            kept_reason=reason,
            before=before,
            forced=forced,
        )


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"
