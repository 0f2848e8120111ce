"""/api/v2/sync: pull, state, reset."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Query, Request, Response

from ...auth.odoo_session import OdooSession
from ...observability import context, metrics
from ...schemas.v2 import DeviceId, PullIn, PullOut, ResetOut, StateOut, pull_out_json
from ...sync import engine
from ..deps import (
    CurrentSession,
    Database,
    RequestEndpointRoute,
    Services,
    ensure_may_act_for,
    get_identity,
    json_body,
    may_act_for_at_once,
    session_of,
)
from ..docs import json_body_openapi
from ..responses import AUTHENTICATED, errors

router = APIRouter(prefix="/api/v2/sync", tags=["sync v2"])

UserIdQuery = Annotated[int, Query(gt=0, le=2**31 - 1)]
DeviceIdQuery = Annotated[DeviceId, Query()]


# The pull reads its session and body itself (deps.session_of, deps.json_body),
# with the checks and answers of FastAPI's dependencies and body parameter, and
# its route calls it as a plain endpoint (deps.RequestEndpointRoute): the
# hottest route pays for none of FastAPI's per-request machinery
# (docs/BENCHMARKS.md). Its OpenAPI says what the parameters would have said.
_PULL_OPENAPI = {
    **json_body_openapi(PullIn),
    "security": [{"SessionHeader": []}, {"SessionCookie": []}],
}


async def pull(request: Request) -> Response:
    """Events after the device's position, coalesced per record.

    Send back `next_sync_token` as `sync_token` to acknowledge a response: a
    lost response is then served again. Without it, the state advances on
    every pull. With `wait`, an empty answer is held until something changes
    (long poll), holding no database connection meanwhile.

    Only models the device's user may read in Odoo (model access rights) are
    served; the others are listed in `models_not_readable`. An app type
    limited to Odoo groups answers 403 `app_type_forbidden` to other users.
    """
    session = await session_of(request)
    body = await json_body(request, PullIn)
    services = request.app.state.services
    pull_request = engine.PullRequest(
        user_id=body.user_id,
        device_id=body.device_id,
        app_type=body.app_type,
        limit=body.limit,
        models_filter=tuple(body.models_filter) if body.models_filter else None,
        sync_token=body.sync_token,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + body.wait
    notifier = services.notifier
    # Registered before the first read: a commit between a read and the wait
    # wakes it. Narrowed to the device's models once the first read knows them.
    waiter = notifier.subscribe() if body.wait > 0 else None
    try:
        result = await _read(
            request, session, body.user_id, pull_request, may_rest=waiter is not None
        )
        while not (result.events or result.has_more or result.resync_reason):
            remaining = deadline - loop.time()
            if remaining <= 0 or waiter is None or result.waiting is None:
                break
            notifier.narrow(waiter, result.models)
            with metrics.LONG_POLLS_WAITING.track_inprogress():
                if not await notifier.wait(waiter, remaining):
                    break  # the whole window passed without a change
            # Woken: served with every pull this commit woke, or on its own.
            shared = await services.shared_reads.read(result.waiting)
            result = shared or await _read(request, session, body.user_id, pull_request)
        if result.waiting is not None and result.waiting.unwritten:
            # Waited without reading its state (engine.pull_at_rest) and
            # nothing came: the pull that answers writes the acknowledgment.
            # Without the database, it answers what a wait that ends has
            # always answered: nothing new, and the token it came with.
            with contextlib.suppress(psycopg.Error):
                result = await _read(request, session, body.user_id, pull_request)
    finally:
        if waiter is not None:
            notifier.unsubscribe(waiter)
    metrics.labelled(metrics.PULLS, body.app_type).inc()
    metrics.labelled(metrics.EVENTS_DELIVERED, body.app_type).inc(len(result.events))
    context.note(device=body.device_id, app_type=body.app_type, events=len(result.events))
    return Response(
        pull_out_json(
            result.events,
            next_sync_token=result.next_sync_token,
            last_sync_time=result.last_sync_time,
            has_more=result.has_more,
            resync_reason=result.resync_reason,
            models_not_readable=result.models_not_readable,
        ),
        media_type="application/json",
    )


router.add_api_route(
    "/pull",
    pull,
    methods=["POST"],
    response_model=PullOut,
    responses=errors(*AUTHENTICATED, 400, 403, 409, 422),
    openapi_extra=_PULL_OPENAPI,
    route_class_override=RequestEndpointRoute,
)


async def _read(
    request: Request,
    session: OdooSession,
    user_id: int,
    pull_request: engine.PullRequest,
    *,
    may_rest: bool = False,
) -> engine.PullResult:
    services: Services = request.app.state.services
    # A long poll from where this process left its state waits without a
    # statement (`may_rest`: engine.pull_at_rest); other pulls are read with
    # the pulls arriving meanwhile when nothing needs the database first
    # (rights known, identity cached); on their own otherwise, or when the
    # batch could not serve them (engine.pull_many says when).
    identity = services.identity.cached()
    known, access = services.access.cached(user_id)
    if identity is not None and known and may_act_for_at_once(session, user_id):
        if may_rest and services.quiet is not None:
            rested = engine.pull_at_rest(identity, pull_request, services.quiet)
            if rested is not None:
                metrics.labelled(metrics.PULL_BATCHES, "at_rest").inc()
                return rested
        result = await services.pull_batches.pull(identity, pull_request, access)
        if result is not None:
            return result
    async with services.pool.connection() as conn:
        await ensure_may_act_for(session, user_id, conn)
        access = await services.access.get(conn, user_id)
        return await engine.pull(conn, await get_identity(request, conn), pull_request, access)


@router.get("/state", response_model=StateOut, responses=errors(*AUTHENTICATED, 403, 404, 422))
async def state(
    user_id: UserIdQuery, device_id: DeviceIdQuery, session: CurrentSession, conn: Database
) -> StateOut:
    await ensure_may_act_for(session, user_id, conn)
    return StateOut.of(await engine.get_state(conn, user_id, device_id))


@router.post("/reset", response_model=ResetOut, responses=errors(*AUTHENTICATED, 403, 404, 422))
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
