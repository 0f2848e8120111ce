"""Pull, state and reset: the sync protocol over one database connection.

A pull is three indexed statements outside any transaction: read the
device's state (with its app type), read the events after its position,
write the new position if the state is still the one read. Concurrent
pulls of one device are thus serialised optimistically (the one that finds
its state changed reads again), and different devices never wait for each
other. After OPTIMISTIC_ATTEMPTS such retries a pull locks the state row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from cachetools import LRUCache
from odoo_webhook_core.app_types import AppType
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
    SyncError,
    UnknownAppType,
)
from .events import Event
from .position import START, Position
from .state import DeviceState
from .token import DatabaseIdentity, TokenClaims

__all__ = [
    "PullRequest",
    "PullResult",
    "QuietStates",
    "WaitingPull",
    "get_state",
    "pull",
    "pull_at_rest",
    "pull_many",
    "reset",
    "serve_waiting",
]

Conn = AsyncConnection[tuple[object, ...]]

# Reads of a pull whose state another pull of the device (or an
# administrator) wrote meanwhile, before it locks the state instead.
OPTIMISTIC_ATTEMPTS = 3
# A long poll waits without reading its state (pull_at_rest) only if its
# state, app type and access rights were read less than this ago (seconds):
# a change of them reaches a device within this, plus its wait window. The
# server uses SESSION_CACHE_SECONDS, how long it trusts access rights.
REST_SECONDS = 30.0


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
    waiting: WaitingPull | None = None  # nothing came: how to serve it later


async def _subscription(
    conn: Conn,
    request: PullRequest,
    app_type: AppType | None,
    access: odoo_users.UserAccess | None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """The models the device receives (None means every model), and those of
    its subscription that Odoo's access rights keep from the user.

    `access` None (a database without Odoo's tables) applies no groups and no
    access rights."""
    app_type_code, models_filter = request.app_type, request.models_filter
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
    position = claims.resolve(state.acknowledged, state.issued)
    if position is None or not (
        state.acknowledged.order_key <= position.order_key <= state.issued.order_key
    ):
        raise StaleSyncToken(
            "sync_token does not match this device's sync state (it was reset, "
            "superseded, or the database was restored); reset (position=head), then"
            " reload your data"
        )
    return position, True


async def pull(
    conn: Conn,
    identity: DatabaseIdentity,
    request: PullRequest,
    access: odoo_users.UserAccess | None = None,
) -> PullResult:
    """`access`: the device user's groups and readable models (None: apply
    none). Events of models they may not read are left out, as if not
    subscribed: the position moves past them, never past a readable one."""
    for _ in range(OPTIMISTIC_ATTEMPTS):
        result = await _pull_once(conn, identity, request, access, lock=False)
        if result is not None:
            return result
    while True:  # locked, only a state deleted meanwhile makes it read again
        async with conn.transaction():
            result = await _pull_once(conn, identity, request, access, lock=True)
        if result is not None:
            return result


async def _pull_once(
    conn: Conn,
    identity: DatabaseIdentity,
    request: PullRequest,
    access: odoo_users.UserAccess | None,
    *,
    lock: bool,
) -> PullResult | None:
    """The pull, or None when its state changed before it could record it."""
    read = await state_store.read_for_pull(
        conn, request.user_id, request.device_id, request.app_type, lock=lock
    )
    models, not_readable = await _subscription(conn, request, read.app_type, access)
    if read.state is not None and read.version is not None:
        state, version = read.state, read.version
    else:
        created = await state_store.create_state(
            conn,
            request.user_id,
            request.device_id,
            request.app_type,
            request.models_filter,
            lock=lock,
        )
        if created is None:
            return None
        state, version = created
    plan = _plan(identity, request, state, version, models, not_readable)
    page = await event_store.page_after(conn, plan.start, models, request.limit + 1)
    if page.lost is not None:
        return _resync(identity, plan, page.lost)
    now = utcnow()
    record, result = _finish(identity, plan, page, now)
    written = await state_store.record_pull(conn, record, now)
    return _recorded(identity, plan, record, result, written) if written is not None else None


@dataclass(frozen=True)
class _Plan:
    """A pull whose state was read and checked: where it starts, what it receives."""

    request: PullRequest
    state: DeviceState
    version: str  # of the state row, as read
    models: tuple[str, ...] | None
    not_readable: tuple[str, ...]
    start: Position
    by_token: bool  # False: the device acknowledges by receiving

    def group(self, identity: DatabaseIdentity) -> tuple[object, ...]:
        return _group(identity, self.models, self.request.limit, self.start)


def _group(
    identity: DatabaseIdentity, models: tuple[str, ...] | None, limit: int, start: Position
) -> tuple[object, ...]:
    """Pulls that one events query serves: a finished position's last event
    does not change what comes next."""
    where = start.base.text() if start.finished else start.text()
    return (identity.uuid, models, limit, where)


def _page_wanted(
    starts: list[Position], models: tuple[str, ...] | None, limit: int
) -> event_store.PageWanted:
    """The page of a group of pulls (one _group): read with limit + 1 (advance
    tells whether more follow), the purge checked after the lowest cursor of
    its members' positions."""
    return event_store.PageWanted(
        starts[0], models, limit + 1, min(start.low_water for start in starts)
    )


def _plan(
    identity: DatabaseIdentity,
    request: PullRequest,
    state: DeviceState,
    version: str,
    models: tuple[str, ...] | None,
    not_readable: tuple[str, ...],
) -> _Plan:
    subscription = (request.app_type, request.models_filter)
    if (state.app_type, state.models_filter) != subscription and not state.at_start:
        raise SubscriptionChanged(
            f"device {request.device_id!r} syncs app_type {state.app_type!r}"
            f" with models_filter {list(state.models_filter or []) or None};"
            " reset its sync state before changing them"
        )
    start, by_token = _start_position(identity, state, request.sync_token)
    return _Plan(request, state, version, models, not_readable, start, by_token)


def _resync(identity: DatabaseIdentity, plan: _Plan, lost_model: str) -> PullResult:
    """Events after the position were deleted: nothing is served or moved;
    the device must reload, then reset."""
    state = plan.state
    return PullResult(
        events=[],
        next_sync_token=sync_token.mint(identity, TokenClaims(state.id, state.user_id, plan.start)),
        last_sync_time=state.last_sync_time or utcnow(),
        has_more=False,
        models_not_readable=plan.not_readable,
        models=plan.models,
        resync_reason=(
            f"events of {lost_model} after this device's position were deleted"
            " (archived more than the retention period ago, or cleaned up)"
            " before it acknowledged them; reset (position=head), then reload your data"
        ),
    )


def _finish(
    identity: DatabaseIdentity, plan: _Plan, page: event_store.Page, now: datetime
) -> tuple[state_store.PullRecord, PullResult]:
    """What the pull writes to its state, and its answer once written
    (_recorded)."""
    state, request, start = plan.state, plan.request, plan.start
    # Nothing new: the device stays where it is, and devices served
    # together stay at one position, which a later commit serves at once.
    resting = max(start, state.issued, key=lambda position: position.order_key)
    batch, end, has_more = advance(start, page, request.limit, resting)
    ack = start if plan.by_token else end
    record = state_store.PullRecord(
        state.id, plan.version, request.app_type, request.models_filter, ack, end
    )
    return record, PullResult(
        events=coalesce(batch),
        next_sync_token=sync_token.mint(identity, TokenClaims(state.id, state.user_id, end)),
        last_sync_time=now,
        has_more=has_more,
        models_not_readable=plan.not_readable,
        models=plan.models,
    )


def _recorded(
    identity: DatabaseIdentity,
    plan: _Plan,
    record: state_store.PullRecord,
    result: PullResult,
    version: str,
) -> PullResult:
    """The answer of a pull whose state was written, now at `version`: one
    that found nothing may wait there, and be served with others."""
    if result.events:
        return result
    return replace(result, waiting=_waiting(identity, plan, record, version, record.acknowledged))


def _waiting(
    identity: DatabaseIdentity,
    plan: _Plan,
    record: state_store.PullRecord,
    version: str,
    acknowledged: Position,
) -> WaitingPull:
    """The pull of `plan`, written as `record` (now at `version`), waiting
    at the position it issued."""
    return WaitingPull(
        record.state_id,
        plan.state.user_id,
        identity,
        plan.models,
        plan.request.limit,
        record.issued,
        acknowledged,
        plan.by_token,
        record.app_type,
        record.models_filter,
        version,
        plan.not_readable,
        plan.request.device_id,
        time.monotonic(),
    )


class QuietStates:
    """States this process wrote after reading every event up to its
    snapshot, with the change mark taken before that read (`mark`, of a
    ChangeNotifier). A later pull of such a state, unwritten since (same
    row version), from the position it was left at, for the same models,
    has nothing to read while no change of those models was announced since
    (`quiet_since`): a transaction committed after the read's snapshot, or
    in progress then, announces itself at its commit (its NOTIFY, or the
    probe when it sent none), later than the mark. Such a pull skips the
    events query; its state is still read and written (row version, app
    type, access). A device that re-polls while nothing happens, after each
    wait window, costs two statements instead of three. The purge check
    rides on the events query: events deleted meanwhile (archiving) are
    reported, resync_required, at the device's next read of events, the
    first change of its models.

    Each state is remembered as the pull that would wait there (its row
    version, models and position), which its next long poll may be
    (`at_rest`)."""

    def __init__(
        self,
        mark: Callable[[], int],
        quiet_since: Callable[[int, tuple[str, ...] | None], bool],
        maxsize: int = 100_000,
        rest_seconds: float = REST_SECONDS,
    ) -> None:
        self.mark = mark
        self._quiet_since = quiet_since
        self.rest_seconds = rest_seconds
        self.skipped = 0  # pulls served without reading events, all told
        # state id -> (mark, the pull waiting where the state was left)
        self._states: LRUCache[int, tuple[int, WaitingPull]] = LRUCache(maxsize)

    def remember(self, mark: int, resting: WaitingPull) -> None:
        """`resting`: the pull waiting where this process left its state, at
        the row version it wrote; `mark`: taken before its events were read."""
        self._states[resting.state_id] = (mark, resting)

    def has_nothing_new(self, plan: _Plan) -> bool:
        known = self._states.get(plan.state.id)
        if known is None:
            return False
        mark, resting = known
        return (
            resting.version == plan.version
            and resting.models == plan.models
            and plan.start == plan.state.issued
            and self._quiet_since(mark, resting.models)
        )

    def at_rest(
        self, identity: DatabaseIdentity, request: PullRequest, claims: TokenClaims
    ) -> WaitingPull | None:
        """The pull `request` is, waiting where this process left its state,
        if it acknowledges exactly that position, with the subscription it
        was read with less than `rest_seconds` ago, and nothing of its models
        was announced since."""
        known = self._states.get(claims.state_id)
        if known is None:
            return None
        mark, resting = known
        if not (
            resting.identity == identity
            and resting.user_id == claims.user_id == request.user_id
            and resting.device_id == request.device_id
            and resting.app_type == request.app_type
            and resting.models_filter == request.models_filter
            and resting.limit == request.limit
            and claims.resolve(resting.position) == resting.position
            and time.monotonic() - resting.read_at < self.rest_seconds
            and self._quiet_since(mark, resting.models)
        ):
            return None
        # Sent with the token of `position`, it acknowledges that.
        return replace(resting, acknowledged=resting.position, by_token=True, unwritten=True)


def pull_at_rest(
    identity: DatabaseIdentity, request: PullRequest, quiet: QuietStates
) -> PullResult | None:
    """A long poll that may wait without a statement: its device sends back
    the token of the position this process left its state at, nothing of its
    models was announced since, and its subscription was read less than
    `quiet.rest_seconds` ago (QuietStates.at_rest). Its acknowledgment is
    written when it answers: with the events a commit brings
    (serve_waiting, which writes only if nothing else wrote the state
    meanwhile, else the pull reads on its own), or by a pull at the end of
    its window. Until then the state holds the previous acknowledgment, which
    only keeps events longer (archiving); a lost answer is still served
    again, since the token names the position. None: the pull reads."""
    if request.sync_token is None:
        return None
    try:
        claims = sync_token.read(identity, request.sync_token)
    except SyncError:
        return None  # the pull that reads says why
    waiting = quiet.at_rest(identity, request, claims)
    if waiting is None:
        return None
    return PullResult(
        events=[],
        next_sync_token=request.sync_token,
        last_sync_time=utcnow(),
        has_more=False,
        models_not_readable=waiting.models_not_readable,
        models=waiting.models,
        waiting=waiting,
    )


async def pull_many(
    conn: Conn,
    identity: DatabaseIdentity,
    pulls: list[tuple[PullRequest, odoo_users.UserAccess | None]],
    quiet: QuietStates | None = None,
) -> list[PullResult | None]:
    """Pulls of different devices that arrived together, served as one: one
    statement reads their states, one reads the events of every group of
    them at one position with one subscription (at one snapshot), and one
    writes their states. None for a pull that must be made
    on its own (`pull`): a device's first pull, one whose state another
    pull wrote meanwhile, one that is refused or must resync (`pull` says
    why), a device twice. With `quiet`, a group of pulls that all have
    nothing new (QuietStates) reads no events."""
    mark = quiet.mark() if quiet is not None else 0  # before any events are read
    reads = await state_store.read_for_pulls(
        conn, [(request.user_id, request.device_id, request.app_type) for request, _ in pulls]
    )
    plans: list[_Plan | None] = []
    states: set[int] = set()
    for (request, access), read in zip(pulls, reads, strict=True):
        plan = None
        if read.state is not None and read.version is not None and read.state.id not in states:
            try:
                models, not_readable = await _subscription(conn, request, read.app_type, access)
                plan = _plan(identity, request, read.state, read.version, models, not_readable)
            except SyncError:
                plan = None
            states.add(read.state.id)
        plans.append(plan)
    groups: dict[tuple[object, ...], list[_Plan]] = {}
    for plan in plans:
        if plan is not None:
            groups.setdefault(plan.group(identity), []).append(plan)
    if not groups:
        return [None] * len(pulls)
    to_read = []
    for members in groups.values():
        if quiet is not None and all(quiet.has_nothing_new(m) for m in members):
            quiet.skipped += len(members)
        else:
            to_read.append(members)
    found = (
        await event_store.pages_after(
            conn,
            [
                _page_wanted(
                    [m.start for m in members], members[0].models, members[0].request.limit
                )
                for members in to_read
            ],
        )
        if to_read
        else []
    )
    pages = {id(members): page for members, page in zip(to_read, found, strict=True)}
    now = utcnow()
    finished: dict[int, tuple[state_store.PullRecord, PullResult]] = {}
    for members in groups.values():
        page = pages.get(id(members))
        if page is None:  # nothing new: the empty page (advance leaves it at rest)
            page = event_store.Page(members[0].start.top, [], [])
        if page.lost is None:
            finished.update((id(m), _finish(identity, m, page, now)) for m in members)
    recorded = await state_store.record_pulls(
        conn, [record for record, _ in finished.values()], now
    )
    outcomes: list[PullResult | None] = []
    for plan in plans:
        done = finished.get(id(plan)) if plan is not None else None
        version = recorded.get(done[0].state_id) if done else None
        if plan is None or done is None or version is None:
            outcomes.append(None)
            continue
        if quiet is not None and not done[1].has_more:
            # Its next long poll, when the device acknowledges this answer.
            quiet.remember(mark, _waiting(identity, plan, done[0], version, done[0].issued))
        outcomes.append(_recorded(identity, plan, *done, version))
    return outcomes


@dataclass(frozen=True, eq=False)
class WaitingPull:
    """A pull that found nothing and waits at `position` (its state's issued
    position) for `models`; it may be served with others (serve_waiting)."""

    state_id: int
    user_id: int
    identity: DatabaseIdentity
    models: tuple[str, ...] | None
    limit: int
    position: Position
    acknowledged: Position  # what its state holds as acknowledged
    by_token: bool  # False: the device acknowledges by receiving (no token)
    app_type: str
    models_filter: tuple[str, ...] | None
    version: str  # of its state row, as its pull wrote it
    models_not_readable: tuple[str, ...] = ()
    device_id: str = ""
    # When its state and subscription were last read (time.monotonic()).
    read_at: float = 0.0
    # Waiting from memory (pull_at_rest): its acknowledgment, `acknowledged`,
    # is not written yet; its answer writes it.
    unwritten: bool = False

    @property
    def group(self) -> tuple[object, ...]:
        return _group(self.identity, self.models, self.limit, self.position)


async def serve_waiting(
    conn: Conn, pulls: list[WaitingPull], quiet: QuietStates | None = None
) -> list[PullResult | None]:
    """Serve pulls woken by a commit together: one statement reads the
    events of every group of pulls at one position with one subscription
    (at one snapshot), and one writes all their states. None for a pull that must read on
    its own (its state was written since its pull wrote it, or events were
    purged); a result without events when nothing came for it (it waits on).
    With `quiet`, the states it leaves after reading every event are
    remembered there."""
    mark = quiet.mark() if quiet is not None else 0  # before any events are read
    outcomes: dict[int, PullResult | None] = {}
    groups: dict[tuple[object, ...], list[WaitingPull]] = {}
    seen_states: set[int] = set()
    for waiting in pulls:
        if waiting.state_id in seen_states:  # one device twice: on its own
            outcomes[id(waiting)] = None
            continue
        seen_states.add(waiting.state_id)
        groups.setdefault(waiting.group, []).append(waiting)
    pages = await event_store.pages_after(
        conn,
        [
            _page_wanted([m.position for m in members], members[0].models, members[0].limit)
            for members in groups.values()
        ],
    )
    now = utcnow()
    # pull, acknowledged, events, end, has_more
    served: list[tuple[WaitingPull, Position, list[Event], Position, bool]] = []
    for members, page in zip(groups.values(), pages, strict=True):
        first = members[0]
        if page.lost is not None:
            outcomes.update((id(m), None) for m in members)
            continue
        if not page.events:
            outcomes.update((id(m), _nothing(m, now)) for m in members)
            if quiet is not None:  # their states are as their pulls wrote them
                for member in members:
                    quiet.remember(mark, member)
            continue
        batch, end, has_more = advance(first.position, page, first.limit, first.position)
        events = coalesce(batch)  # once for the group: every member gets the same
        served += [
            (member, member.acknowledged if member.by_token else end, events, end, has_more)
            for member in members
        ]
    recorded = await state_store.record_pulls(
        conn,
        [
            state_store.PullRecord(m.state_id, m.version, m.app_type, m.models_filter, ack, end)
            for m, ack, _, end, _ in served
        ],
        now,
    )
    for member, _, events, end, has_more in served:
        if member.state_id not in recorded:
            outcomes[id(member)] = None
            continue
        if quiet is not None and not has_more:
            # Its next long poll, when the device acknowledges this answer.
            version = recorded[member.state_id]
            quiet.remember(
                mark,
                replace(member, position=end, acknowledged=end, version=version, unwritten=False),
            )
        outcomes[id(member)] = PullResult(
            events=events,
            next_sync_token=sync_token.mint(
                member.identity, TokenClaims(member.state_id, member.user_id, end)
            ),
            last_sync_time=now,
            has_more=has_more,
            models_not_readable=member.models_not_readable,
            models=member.models,
        )
    return [outcomes[id(waiting)] for waiting in pulls]


def _nothing(waiting: WaitingPull, now: datetime) -> PullResult:
    return PullResult(
        events=[],
        next_sync_token=sync_token.mint(
            waiting.identity, TokenClaims(waiting.state_id, waiting.user_id, waiting.position)
        ),
        last_sync_time=now,
        has_more=False,
        models_not_readable=waiting.models_not_readable,
        models=waiting.models,
        waiting=waiting,
    )


def advance(
    start: Position, page: event_store.Page, limit: int, resting: Position
) -> tuple[list[Event], Position, bool]:
    """The events to serve from a page read with limit + 1, where they end,
    and whether more follow; `resting` when there are none (`start` or, when
    the state was issued further, that: nothing lies between them)."""
    has_more = len(page.events) > limit
    events = page.events[:limit]
    if not events:
        return events, resting, False
    if not has_more:
        # Everything committed at `now` is delivered: the batch is finished.
        return events, Position(page.now, page.now, Cursor(events[-1].txid, events[-1].id)), False
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
