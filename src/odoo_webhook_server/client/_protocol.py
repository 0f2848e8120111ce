"""The sync protocol, written once for both clients and doing no I/O itself.

Requests are built, answers interpreted and backoff computed here; so are the
loops (`sync_once`, `live`, the resync and reset sequences), as generators
that yield what to do next: `Send` a request, `Invoke` the app's code,
`Sleep`. `SyncClient` (httpx.Client) and `AsyncSyncClient`
(httpx.AsyncClient) only perform those steps and send back the result, or
throw in the exception.

What the store holds for a device (keys `odoo-sync:<user_id>:<device_id>:...`):

- `next_sync_token`: the token of the last batch the app applied. Written only
  after `apply` returned, and sent back as `sync_token`, so the server serves
  a batch again until the app has applied it (at-least-once).
- `recovery`, only while there is no token: the server moves a device that
  pulls without a token on every pull, so before such a pull the client notes
  how to go back if its batch is lost (apply fails, the process dies, the
  answer never comes): `reset-start` (reset to the start and pull again) or
  `reload` (reset to the head, let the app reload its data, pull again).
  `ready-start` / `ready-head` mean that reset has just been made (and, for
  the head, the data reloaded): the next pull may go without a token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias, TypeVar

import httpx

from ._errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ResyncRequired,
    ServerUnavailable,
    SessionExpired,
    SubscriptionChanged,
    SyncError,
    Unavailable,
    UnexpectedResponse,
)
from ._store import Store

__all__ = [
    "Apply",
    "Backoff",
    "Effect",
    "Event",
    "Invoke",
    "Position",
    "Protocol",
    "PullAnswer",
    "Request",
    "Send",
    "Session",
    "Sleep",
    "Steps",
    "Stopped",
    "SyncState",
    "interpret",
    "parse_pull",
    "parse_state",
]

log = logging.getLogger("odoo_webhook_server.client")

T = TypeVar("T")
Position: TypeAlias = Literal["start", "head"]
Session: TypeAlias = str | Callable[[], str]

PULL_PATH = "/api/v2/sync/pull"
STATE_PATH = "/api/v2/sync/state"
RESET_PATH = "/api/v2/sync/reset"

RESET_START = "reset-start"
RELOAD = "reload"
READY_START = "ready-start"
READY_HEAD = "ready-head"


# -- values ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One change of one record (several changes of a record in a batch come
    coalesced into one). `timestamp` is UTC; `changed_fields` only for writes."""

    id: int
    model: str
    record_id: int
    event: Literal["create", "write", "unlink"]
    timestamp: datetime
    user_id: int | None
    changed_fields: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class PullAnswer:
    events: list[Event]
    next_sync_token: str
    has_more: bool
    resync_required: bool
    resync_reason: str | None
    # Models of the subscription the user may not read in Odoo: left out.
    models_not_readable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SyncState:
    """The device's state on the server (GET /api/v2/sync/state)."""

    user_id: int
    device_id: str
    app_type: str
    models_filter: tuple[str, ...] | None
    last_event_id: int
    last_sync_time: datetime | None
    sync_count: int
    is_active: bool


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the n-th retry in a row (n = 0,
    1, ...) waits `random() * min(cap, base * factor ** n)` seconds, so many
    devices coming back after an outage spread over the window."""

    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not (self.base > 0 and self.cap >= self.base and self.factor >= 1):
            raise ValueError("need base > 0, cap >= base, factor >= 1")

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * self.factor ** min(attempt, 64))

    def delay(self, attempt: int, random: float) -> float:
        return random * self.ceiling(attempt)


# -- effects: what a driver performs --------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    method: Literal["GET", "POST"]
    path: str
    headers: dict[str, str]
    params: dict[str, str | int] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    read_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Send:
    """Send `request`; resume with the httpx.Response, or throw NetworkError."""

    request: Request


@dataclass(frozen=True, slots=True)
class Invoke:
    """Call the app's `function(*args)` (awaiting it if it is a coroutine)."""

    function: Callable[..., object]
    args: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait `seconds` before retrying; cut short (Stopped) when stopping."""

    seconds: float


Effect: TypeAlias = Send | Invoke | Sleep
Steps: TypeAlias = Generator[Effect, Any, T]


class Stopped(Exception):
    """Thrown in by a driver when `live` was asked to stop; never escapes."""


# -- answers ---------------------------------------------------------------


def _message(status: int, body: Any, response: httpx.Response) -> tuple[str, str | None, Any]:
    detail = body.get("detail") if isinstance(body, dict) else None
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(detail, str):
        message = detail
    elif isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(part) for part in item.get("loc", [])[1:]) or "request"
                parts.append(f"{where}: {item.get('msg', 'invalid')}")
        message = "; ".join(parts) or "invalid request"
    else:
        message = response.text[:200] or response.reason_phrase
    return f"{status} {message}", code if isinstance(code, str) else None, detail


def interpret(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful answer, or the typed error it stands for."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if isinstance(body, dict):
            return body
        raise UnexpectedResponse(
            f"{status} answer is not a JSON object: {response.text[:200]!r}", status_code=status
        )
    message, code, detail = _message(status, body, response)
    kwargs: dict[str, Any] = {"status_code": status, "code": code, "detail": detail}
    if status == 401:
        raise SessionExpired(message, **kwargs)
    if status == 403:
        raise Forbidden(message, **kwargs)
    if status == 404:
        raise NotFound(message, **kwargs)
    if status == 409:
        if code == "subscription_changed":
            raise SubscriptionChanged(message, **kwargs)
        if code == "resync_required" or (isinstance(body, dict) and body.get("resync_required")):
            raise ResyncRequired(message, **kwargs)
        raise Conflict(message, **kwargs)
    if status == 422:
        raise InvalidRequest(message, **kwargs)
    if status in (502, 503, 504):
        raise ServerUnavailable(message, **kwargs)
    raise UnexpectedResponse(message, **kwargs)


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"not a date-time: {value!r}")
    return datetime.fromisoformat(value)


def _event(item: dict[str, Any]) -> Event:
    fields = item.get("changed_fields")
    return Event(
        id=int(item["id"]),
        model=str(item["model"]),
        record_id=int(item["record_id"]),
        event=item["event"],
        timestamp=_datetime(item["timestamp"]),
        user_id=None if item.get("user_id") is None else int(item["user_id"]),
        changed_fields=None if fields is None else tuple(str(f) for f in fields),
    )


def parse_pull(body: dict[str, Any]) -> PullAnswer:
    try:
        return PullAnswer(
            events=[_event(item) for item in body["events"]],
            next_sync_token=str(body["next_sync_token"]),
            has_more=bool(body["has_more"]),
            resync_required=bool(body.get("resync_required", False)),
            resync_reason=body.get("resync_reason"),
            models_not_readable=tuple(str(m) for m in body.get("models_not_readable") or ()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnexpectedResponse(f"not a pull answer ({exc!r}): {str(body)[:200]}") from exc


def parse_state(body: dict[str, Any]) -> SyncState:
    try:
        models = body.get("models_filter")
        synced = body.get("last_sync_time")
        return SyncState(
            user_id=int(body["user_id"]),
            device_id=str(body["device_id"]),
            app_type=str(body["app_type"]),
            models_filter=None if models is None else tuple(str(m) for m in models),
            last_event_id=int(body["last_event_id"]),
            last_sync_time=None if synced is None else _datetime(synced),
            sync_count=int(body["sync_count"]),
            is_active=bool(body["is_active"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnexpectedResponse(f"not a sync state ({exc!r}): {str(body)[:200]}") from exc


# -- the protocol ----------------------------------------------------------

# Refusals that come before the pull's transaction commits: the device did not
# move. (A 502/504 from a proxy may come after the server committed.)
REFUSED_BEFORE_COMMIT = frozenset({400, 401, 403, 404, 409, 422})


def _names_field(error: InvalidRequest, name: str) -> bool:
    items = error.detail if isinstance(error.detail, list) else []
    return any(isinstance(item, dict) and item.get("loc", [])[-1:] == [name] for item in items)


Apply: TypeAlias = Callable[[list[Event]], object]


class Protocol:
    """One device's sync, as steps for a driver. Not for concurrent use."""

    def __init__(
        self,
        *,
        session: Session,
        user_id: int,
        device_id: str,
        app_type: str,
        models_filter: list[str] | tuple[str, ...] | None,
        store: Store,
        limit: int,
        wait: float,
        timeout: float,
        backoff: Backoff,
        random: Callable[[], float],
        on_session_expired: Callable[[], object] | None,
        on_resync: Callable[[str], object] | None,
        on_subscription_changed: Callable[[str], object] | None,
        initial_position: Position,
    ) -> None:
        if user_id <= 0:
            raise ValueError("user_id must be a positive Odoo user id")
        if not device_id.strip() or len(device_id) > 255:
            raise ValueError("device_id must be 1-255 characters, not blank")
        if not 1 <= limit <= 500:
            raise ValueError("limit must be 1-500")
        if not 0 <= wait <= 300:
            raise ValueError("wait must be 0-300 seconds")
        if models_filter is not None and not models_filter:
            raise ValueError("models_filter must be None or name at least one model")
        if initial_position not in ("start", "head"):
            raise ValueError("initial_position must be 'start' or 'head'")
        self._session = session
        self.user_id = user_id
        self.device_id = device_id
        self.app_type = app_type
        self.models_filter = list(models_filter) if models_filter is not None else None
        self.store = store
        self.limit = limit
        self.wait = wait
        self.timeout = timeout
        self.backoff = backoff
        self.random = random
        self.on_session_expired = on_session_expired
        self.on_resync = on_resync
        self.on_subscription_changed = on_subscription_changed
        self.initial_position = initial_position
        prefix = f"odoo-sync:{user_id}:{device_id}:"
        self.token_key = prefix + "next_sync_token"
        self.recovery_key = prefix + "recovery"

    # requests

    def _headers(self) -> dict[str, str]:
        session = self._session() if callable(self._session) else self._session
        return {"X-Session-Id": session, "Accept": "application/json"}

    def _device(self) -> dict[str, str | int]:
        return {"user_id": self.user_id, "device_id": self.device_id}

    def pull_request(self, token: str | None, wait: float) -> Request:
        body: dict[str, Any] = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "app_type": self.app_type,
            "limit": self.limit,
        }
        if self.models_filter is not None:
            body["models_filter"] = self.models_filter
        if wait:
            body["wait"] = wait
        if token is not None:
            body["sync_token"] = token
        return Request(
            "POST", PULL_PATH, self._headers(), json=body, read_timeout=self.timeout + wait
        )

    def state_request(self) -> Request:
        return Request(
            "GET", STATE_PATH, self._headers(), params=self._device(), read_timeout=self.timeout
        )

    def reset_request(self, position: Position) -> Request:
        params = self._device()
        if position == "head":
            params["position"] = "head"
        return Request(
            "POST", RESET_PATH, self._headers(), params=params, read_timeout=self.timeout
        )

    # steps

    def call(self, build: Callable[[], Request]) -> Steps[dict[str, Any]]:
        """One request; on 401, asks `on_session_expired` once and retries."""
        refreshed = False
        while True:
            response = yield Send(build())
            try:
                return interpret(response)
            except SessionExpired:
                if refreshed or self.on_session_expired is None:
                    raise
            refreshed = True
            try:
                fresh = yield Invoke(self.on_session_expired, ())
            except Exception as exc:
                raise SessionExpired(
                    f"on_session_expired failed: {exc!r}", status_code=401, code="invalid_session"
                ) from exc
            if isinstance(fresh, str) and fresh:
                self._session = fresh

    def state(self) -> Steps[SyncState]:
        return parse_state((yield from self.call(self.state_request)))

    def reset(self, position: Position | None = None) -> Steps[SyncState]:
        """Move the device on the server and drop its token; the recovery note
        says how to go back should this be interrupted."""
        to_head = position == "head"
        self.store.set(self.recovery_key, RELOAD if to_head else RESET_START)
        self.store.delete(self.token_key)
        body = yield from self.call(lambda: self.reset_request("head" if to_head else "start"))
        self.store.set(self.recovery_key, READY_HEAD if to_head else READY_START)
        return parse_state(body)

    def resync(self, reason: str, cause: SyncError | None = None) -> Steps[None]:
        """Reset to the head first, then let the app reload: a change made
        during the reload comes again afterwards instead of being missed.
        Without `on_resync`, nothing is touched and ResyncRequired raised."""
        if self.on_resync is None:
            if isinstance(cause, ResyncRequired):
                raise cause
            raise ResyncRequired(
                reason,
                status_code=cause.status_code if cause else 200,
                code=cause.code if cause else "resync_required",
                detail=cause.detail if cause else None,
            ) from cause
        log.warning("device %s must resync: %s", self.device_id, reason)
        self.store.set(self.recovery_key, RELOAD)
        self.store.delete(self.token_key)
        try:
            yield from self.call(lambda: self.reset_request("head"))
        except NotFound:  # a new device: a first pull makes its state, then to the head
            yield from self.call(lambda: self.pull_request(None, 0))
            yield from self.call(lambda: self.reset_request("head"))
        yield Invoke(self.on_resync, (reason,))
        self.store.set(self.recovery_key, READY_HEAD)

    def _prepare(self) -> Steps[tuple[str | None, str | None]]:
        """The token to pull with; without one, first bring the device to
        where a pull without token is safe. Also returns the recovery note
        to put back if the pull is refused (a refused pull moves nothing)."""
        token = self.store.get(self.token_key)
        if token is not None:
            return token, None
        recovery = self.store.get(self.recovery_key)
        if recovery is None:  # nothing stored: a new device, or a lost store
            recovery = RELOAD if self.initial_position == "head" else RESET_START
            reason = "new device: nothing stored yet"
        else:
            reason = "an earlier resync, or the first pull after it, did not finish"
        if recovery == RELOAD:
            yield from self.resync(reason)
        elif recovery != READY_HEAD and recovery != READY_START:
            try:
                yield from self.reset("start")
            except NotFound:  # the server has never seen this device
                self.store.set(self.recovery_key, READY_START)
        ready = self.store.get(self.recovery_key)
        self.store.set(self.recovery_key, RELOAD if ready == READY_HEAD else RESET_START)
        return None, ready

    def step(self, apply: Apply, wait: float) -> Steps[tuple[int, bool]]:
        """One pull; apply, then store the token. (events applied, pull again now?)"""
        token, ready = yield from self._prepare()
        try:
            body = yield from self.call(lambda: self.pull_request(token, wait))
        except ResyncRequired as exc:
            yield from self.resync(exc.message, exc)
            return 0, True
        except SubscriptionChanged as exc:
            yield from self.reset("start")
            if self.on_subscription_changed is not None:
                yield Invoke(self.on_subscription_changed, (exc.message,))
            return 0, True
        except InvalidRequest as exc:
            if token is not None and _names_field(exc, "sync_token"):
                # A token this server cannot read (another database, a new
                # secret): the device's position is unknown.
                yield from self.resync(exc.message, exc)
                return 0, True
            if ready is not None:
                self.store.set(self.recovery_key, ready)  # refused: nothing moved
            raise
        except SyncError as exc:
            if ready is not None and exc.status_code in REFUSED_BEFORE_COMMIT:
                self.store.set(self.recovery_key, ready)  # refused: nothing moved
            raise
        answer = parse_pull(body)
        if answer.resync_required:
            yield from self.resync(answer.resync_reason or "resync required")
            return 0, True
        if answer.events:
            yield Invoke(apply, (answer.events,))
        self.store.set(self.token_key, answer.next_sync_token)
        self.store.delete(self.recovery_key)
        return len(answer.events), answer.has_more

    def sync_once(self, apply: Apply) -> Steps[int]:
        """Pull until `has_more` is false; then, if that batch brought
        events, once more, so the server knows the last batch was applied."""
        total = 0
        acknowledging = False
        while True:
            count, more = yield from self.step(apply, 0)
            total += count
            if not more:
                if not count or acknowledging:
                    return total
                acknowledging = True

    def live(self, apply: Apply, stopping: Callable[[], bool]) -> Steps[None]:
        """Long polls until `stopping()`; Unavailable errors back off (the
        attempt count starts again after a pull that worked), others raise."""
        attempt = 0
        while not stopping():
            try:
                yield from self.step(apply, self.wait)
            except Stopped:
                return
            except Unavailable as exc:
                if stopping():
                    return
                delay = self.backoff.delay(attempt, self.random())
                attempt += 1
                log.warning("sync of %s: %s; retrying in %.2f s", self.device_id, exc, delay)
                try:
                    yield Sleep(delay)
                except Stopped:
                    return
            else:
                attempt = 0
