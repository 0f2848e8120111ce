"""Pull, state and reset: the sync protocol over one database connection.

Each call is one short transaction of a few indexed statements. The device's
state row is locked for the duration of a pull, so concurrent pulls of one
device are serialised while different devices never wait for each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from odoo_webhook_core.clock import utcnow
from psycopg import AsyncConnection

from ..storage import app_types as app_type_store
from ..storage import events as event_store
from ..storage import odoo_users
from ..storage import sync_state as state_store
from . import token as sync_token
from .coalesce import coalesce
from .cursor import Cursor
from .errors import (
    AppTypeForbidden,
    InvalidSyncToken,
    ModelsOutsideAppType,
    StaleSyncToken,
    StateNotFound,
    SubscriptionChanged,
    UnknownAppType,
)
from .events import Event
from .position import START, Position
from .state import DeviceState
from .token import DatabaseIdentity, TokenClaims

__all__ = ["PullRequest", "PullResult", "get_state", "pull", "reset"]

Conn = AsyncConnection[tuple[object, ...]]


@dataclass(frozen=True)
class PullRequest:
    user_id: int
    device_id: str
    app_type: str
    limit: int = 100
    models_filter: tuple[str, ...] | None = None
    sync_token: str | None = None


@dataclass(frozen=True)
class PullResult:
    events: list[Event]
    next_sync_token: str
    last_sync_time: datetime
    has_more: bool
    resync_reason: str | None = None
    models_not_readable: tuple[str, ...] = ()
    models: tuple[str, ...] | None = None  # what the device receives (None: every model)


async def _subscription(
    conn: Conn,
    request: PullRequest,
    access: odoo_users.UserAccess | None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """The models the device receives (None means every model), and those of
    its subscription that Odoo's access rights keep from the user.

    `access` None (a database without Odoo's tables) applies no groups and no
    access rights."""
    app_type_code, models_filter = request.app_type, request.models_filter
    app_type = await app_type_store.find_app_type(conn, app_type_code)
    if app_type is None:
        raise UnknownAppType(app_type_code, await app_type_store.active_app_type_codes(conn))
    if (
        access is not None
        and app_type.group_ids
        and access.group_ids.isdisjoint(app_type.group_ids)
    ):
        raise AppTypeForbidden(app_type_code, request.user_id)
    models: tuple[str, ...] | None
    if models_filter is None:
        models = None if app_type.all_models else app_type.models
    else:
        if not app_type.all_models:
            outside = [m for m in models_filter if m not in app_type.models]
            if outside:
                raise ModelsOutsideAppType(app_type_code, outside)
        models = models_filter
    if access is None:
        return models, ()
    readable = access.readable_models
    if models is None:
        # Every model the user may read; the captured ones they may not are named.
        tracked = await odoo_users.tracked_model_names(conn)
        return tuple(sorted(readable)), access.not_readable(tracked)
    return tuple(m for m in models if m in readable), access.not_readable(models)


def _start_position(
    identity: DatabaseIdentity, state: DeviceState, token: str | None
) -> tuple[Position, bool]:
    """Where this pull starts, and whether the device acknowledged it."""
    if token is None:
        # A client that never sends tokens (guide v2.0) advances on every pull.
        return state.issued, False
    claims: TokenClaims = sync_token.read(identity, token)
    if claims.state_id != state.id or claims.user_id != state.user_id:
        raise InvalidSyncToken("sync_token belongs to another device")
    # A token between the acknowledged and the issued position is an answer
    # that arrived after all, though the device pulled again meanwhile.
    if not (state.acknowledged.order_key <= claims.position.order_key <= state.issued.order_key):
        raise StaleSyncToken(
            "sync_token does not match this device's sync state (it was reset, "
            "superseded, or the database was restored); reset (position=head), then"
            " reload your data"
        )
    return claims.position, True


async def pull(
    conn: Conn,
    identity: DatabaseIdentity,
    request: PullRequest,
    access: odoo_users.UserAccess | None = None,
) -> PullResult:
    """`access`: the device user's groups and readable models (None: apply
    none). Events of models they may not read are left out, as if not
    subscribed: the position moves past them, never past a readable one."""
    async with conn.transaction():
        models, not_readable = await _subscription(conn, request, access)
        state = await state_store.lock_or_create_state(
            conn, request.user_id, request.device_id, request.app_type, request.models_filter
        )
        subscription = (request.app_type, request.models_filter)
        if (state.app_type, state.models_filter) != subscription and not state.at_start:
            raise SubscriptionChanged(
                f"device {request.device_id!r} syncs app_type {state.app_type!r}"
                f" with models_filter {list(state.models_filter or []) or None};"
                " reset its sync state before changing them"
            )
        start, acknowledged = _start_position(identity, state, request.sync_token)
        if start != START:
            lost_model = await event_store.purged_after(conn, start.low_water, models)
            if lost_model is not None:
                # Nothing is served or moved: the device must reload, then reset.
                return PullResult(
                    events=[],
                    next_sync_token=sync_token.mint(
                        identity, TokenClaims(state.id, state.user_id, start)
                    ),
                    last_sync_time=state.last_sync_time or utcnow(),
                    has_more=False,
                    models_not_readable=not_readable,
                    models=models,
                    resync_reason=(
                        f"events of {lost_model} after this device's position were deleted"
                        " (archived more than the retention period ago, or cleaned up)"
                        " before it acknowledged them; reset (position=head), then reload your data"
                    ),
                )
        page = await event_store.page_after(conn, start, models, request.limit + 1)
        batch, end, has_more = advance(start, page, request.limit)
        now = utcnow()
        await state_store.record_pull(
            conn,
            state,
            app_type=request.app_type,
            models_filter=request.models_filter,
            acknowledged=start if acknowledged else end,
            issued=end,
            now=now,
        )
    return PullResult(
        events=coalesce(batch),
        next_sync_token=sync_token.mint(identity, TokenClaims(state.id, state.user_id, end)),
        last_sync_time=now,
        has_more=has_more,
        models_not_readable=not_readable,
        models=models,
    )


def advance(
    start: Position, page: event_store.Page, limit: int
) -> tuple[list[Event], Position, bool]:
    """The events to serve from a page read with limit + 1, where they end,
    and whether more follow."""
    has_more = len(page.events) > limit
    events = page.events[:limit]
    if not has_more:
        # Everything committed at `now` is delivered: the batch is finished.
        after = Cursor(events[-1].txid, events[-1].id) if events else start.after
        return events, Position(page.now, page.now, after), False
    last = Cursor(events[-1].txid, events[-1].id)
    if page.in_top[limit - 1]:
        return events, Position(start.base, start.top, last), True
    return events, Position(start.top, page.now, last), True


async def get_state(conn: Conn, user_id: int, device_id: str) -> DeviceState:
    state = await state_store.find_state(conn, user_id, device_id)
    if state is None:
        raise StateNotFound()
    return state


async def reset(conn: Conn, user_id: int, device_id: str, *, to_head: bool = False) -> DeviceState:
    """Back to the beginning of the stream, or to its head: for a device that
    (re)loads its data from Odoo after the reset and needs only later changes."""
    async with conn.transaction():
        position = await event_store.head(conn) if to_head else START
        state = await state_store.reset_state(conn, user_id, device_id, position)
    if state is None:
        raise StateNotFound()
    return state
