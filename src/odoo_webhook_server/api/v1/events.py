"""GET /api/v1/check-updates and GET /api/v1/webhook/events: the event log by time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ...schemas.v1 import CheckUpdatesOut, EventsOut, ModelCount, OptionalQueryDatetime, V1Event
from ...schemas.v2 import ModelName
from ...storage import v1_queries
from ...sync.events import EventKind
from ..deps import CurrentSession, Database, readable_models
from ..responses import AUTHENTICATED, errors

router = APIRouter()

SinceQuery = Annotated[
    OptionalQueryDatetime,
    Query(
        description="Only events stamped after this ISO 8601 date or datetime "
        "(naive = UTC, as Odoo stores it). Omitted or empty: from the first event.",
        examples=["2025-11-15T10:00:00"],
    ),
]


@router.get("/check-updates", response_model=CheckUpdatesOut, responses=errors(*AUTHENTICATED, 422))
async def check_updates(
    request: Request,
    session: CurrentSession,
    conn: Database,
    since: SinceQuery = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=10_000,
            description="Count at most this many events (the oldest after `since`, and "
            "any sharing the last one's timestamp); `has_more` says whether more follow.",
        ),
    ] = 1000,
) -> CheckUpdatesOut:
    """Whether events were recorded after `since`, and how many per model.

    Send `last_update_at` as the next `since`. Timestamps are not a gap-free
    cursor (a transaction may commit after a later-stamped one): apps that
    must never miss a change use `POST /api/v2/sync/pull`."""
    readable = await readable_models(request, conn, session.uid)
    updates = await v1_queries.check_updates(conn, since, limit, readable)
    return CheckUpdatesOut(
        has_update=updates.last_update_at is not None,
        last_update_at=updates.last_update_at,
        summary=[ModelCount(model=model, count=count) for model, count in updates.per_model],
        has_more=updates.has_more,
    )


@router.get("/webhook/events", response_model=EventsOut, responses=errors(*AUTHENTICATED, 422))
async def webhook_events(
    request: Request,
    session: CurrentSession,
    conn: Database,
    model_name: Annotated[ModelName | None, Query(description="e.g. res.partner")] = None,
    record_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
    event: Annotated[EventKind | None, Query()] = None,
    since: SinceQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> EventsOut:
    """Stored events (archived ones included), oldest first, filtered and paged;
    only of models the caller may read in Odoo."""
    found = await v1_queries.list_events(
        conn,
        model=model_name,
        record_id=record_id,
        event=event,
        since=since,
        limit=limit + 1,
        offset=offset,
        readable=await readable_models(request, conn, session.uid),
    )
    page = found[:limit]
    return EventsOut(
        count=len(page),
        data=[V1Event.of(item) for item in page],
        has_more=len(found) > limit,
    )
