"""/api/v2/sync: pull, state, reset."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from ...schemas.v2 import DeviceId, EventOut, PullIn, PullOut, ResetOut, StateOut
from ...sync import engine
from ..deps import CurrentSession, Database, ensure_may_act_for, get_identity

router = APIRouter(prefix="/api/v2/sync", tags=["sync v2"])

UserIdQuery = Annotated[int, Query(gt=0, le=2**31 - 1)]
DeviceIdQuery = Annotated[DeviceId, Query()]


@router.post("/pull", response_model=PullOut)
async def pull(body: PullIn, session: CurrentSession, conn: Database, request: Request) -> PullOut:
    """Events after the device's position, coalesced per record.

    Send back `next_sync_token` as `sync_token` to acknowledge a response: a
    lost response is then served again. Without it, the state advances on
    every pull.
    """
    await ensure_may_act_for(session, body.user_id, conn)
    result = await engine.pull(
        conn,
        await get_identity(request, conn),
        engine.PullRequest(
            user_id=body.user_id,
            device_id=body.device_id,
            app_type=body.app_type,
            limit=body.limit,
            models_filter=tuple(body.models_filter) if body.models_filter else None,
            sync_token=body.sync_token,
        ),
    )
    return PullOut(
        has_updates=bool(result.events),
        new_events_count=len(result.events),
        events=[EventOut.of(event) for event in result.events],
        next_sync_token=result.next_sync_token,
        last_sync_time=result.last_sync_time,
        has_more=result.has_more,
        resync_required=result.resync_reason is not None,
        resync_reason=result.resync_reason,
    )


@router.get("/state", response_model=StateOut)
async def state(
    user_id: UserIdQuery, device_id: DeviceIdQuery, session: CurrentSession, conn: Database
) -> StateOut:
    await ensure_may_act_for(session, user_id, conn)
    return StateOut.of(await engine.get_state(conn, user_id, device_id))


@router.post("/reset", response_model=ResetOut)
async def reset(
    user_id: UserIdQuery,
    device_id: DeviceIdQuery,
    session: CurrentSession,
    conn: Database,
    position: Annotated[
        Literal["start", "head"],
        Query(description="start: replay every stored event; head: only later changes."),
    ] = "start",
) -> ResetOut:
    """Move the device to the beginning of the stream (default) or to its
    head; drop the stored sync_token and pull without one.

    After `resync_required`: reset with position=head first, then reload the
    data from Odoo, then pull; changes made during the reload come again."""
    await ensure_may_act_for(session, user_id, conn)
    state = await engine.reset(conn, user_id, device_id, to_head=position == "head")
    where = "its head" if position == "head" else "the beginning"
    return ResetOut(
        **StateOut.of(state).model_dump(),
        message=f"Sync state reset: the device continues from {where} of the event stream",
    )
