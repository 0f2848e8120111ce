"""Dependencies shared by the routes, defined once as Annotated aliases."""

from __future__ import annotations

import email.message
import functools
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, HTTPException, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, APIKeyHeader
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ValidationError

from ..auth.odoo_session import InvalidSession, OdooSession, OdooSessionValidator
from ..observability.middleware import session_id_of
from ..storage.identity import read_identity
from ..storage.notify import ChangeNotifier
from ..storage.odoo_users import UserAccessCache, is_webhook_manager
from ..sync.engine import QuietStates
from ..sync.shared import PullBatches, SharedReads
from ..sync.token import DatabaseIdentity

__all__ = [
    "AdminSession",
    "CurrentSession",
    "Database",
    "Forbidden",
    "IdentityCache",
    "RequestEndpointRoute",
    "Services",
    "ensure_admin",
    "ensure_may_act_for",
    "get_identity",
    "json_body",
    "may_act_for_at_once",
    "readable_models",
    "session_of",
]

Conn = AsyncConnection[tuple[object, ...]]
Model = TypeVar("Model", bound=BaseModel)


class Forbidden(Exception):
    """The session's user may not act for another user (403)."""


class IdentityCache:
    """The database identity changes only when the database is copied or
    restored; re-read it once a minute instead of on every pull."""

    def __init__(self, ttl: float = 60.0) -> None:
        self._ttl = ttl
        self._value: DatabaseIdentity | None = None
        self._read_at = 0.0

    def cached(self) -> DatabaseIdentity | None:
        """The identity when read less than `ttl` ago."""
        if self._value is None or time.monotonic() - self._read_at > self._ttl:
            return None
        return self._value

    async def get(self, conn: Conn) -> DatabaseIdentity:
        identity = self.cached()
        if identity is None:
            identity = self._value = await read_identity(conn)
            self._read_at = time.monotonic()
        return identity


@dataclass
class Services:
    """What the app holds for its lifetime (set up in main.lifespan)."""

    pool: AsyncConnectionPool[Conn]
    sessions: OdooSessionValidator
    identity: IdentityCache
    notifier: ChangeNotifier
    shared_reads: SharedReads
    pull_batches: PullBatches
    # What this process knows of the states it left (engine.QuietStates).
    quiet: QuietStates | None = None
    # Users' groups and readable models, re-read after SESSION_CACHE_SECONDS.
    access: UserAccessCache = field(default_factory=UserAccessCache)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# Security schemes of the OpenAPI (the Authorize button of /docs); the
# dependency below reads them and answers 401 itself.
_session_header = APIKeyHeader(
    name="X-Session-Id",
    scheme_name="SessionHeader",
    description="The caller's Odoo session id.",
    auto_error=False,
)
_session_cookie = APIKeyCookie(
    name="session_id",
    scheme_name="SessionCookie",
    description="Odoo's session cookie, if no header.",
    auto_error=False,
)
# Cookie octets (RFC 6265): what can be passed on to Odoo in a Cookie header.
_SESSION_ID = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,256}")


async def _current_session(
    request: Request,
    x_session_id: Annotated[str | None, Security(_session_header)] = None,
    session_id: Annotated[str | None, Security(_session_cookie)] = None,
) -> OdooSession:
    return await _validate_session(request, (x_session_id or session_id or "").strip())


async def session_of(request: Request) -> OdooSession:
    """The caller's Odoo session, as CurrentSession finds it, for a route
    that reads it itself (the pull: no dependency solving per request)."""
    return await _validate_session(request, session_id_of(request.scope) or "")


async def _validate_session(request: Request, sid: str) -> OdooSession:
    if not sid:
        raise InvalidSession("Missing Odoo session: send X-Session-Id or the session_id cookie")
    if not _SESSION_ID.fullmatch(sid):
        raise InvalidSession("Odoo session is invalid or expired")
    return await _services(request).sessions.validate(sid)


async def json_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON body as `model`, read and refused as FastAPI reads
    a body parameter (422 naming the field, 400 for bytes that are not
    text), for a route that reads it itself."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    content_type = request.headers.get("content-type")
    data: Any = raw  # FastAPI's strict content type: only JSON is parsed
    if content_type and _is_json(content_type):
        try:  # the common case in one call; any refusal is made below, as FastAPI's
            return model.model_validate_json(raw)
        except ValidationError:
            pass
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", exc.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": exc.msg},
                    }
                ]
            ) from None
        except ValueError:  # not UTF-8 (nor UTF-16/32) text
            raise HTTPException(400, "There was an error parsing the body") from None
    try:
        # As FastAPI validates a body: from_attributes gives its error type
        # (model_attributes_type) for a body that is not an object.
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


class RequestEndpointRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a Response
    itself (with session_of and json_body): FastAPI documents it from its
    declaration (response_model, responses, openapi_extra) but, per request,
    neither solves dependencies, reads a body nor serializes the answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


@functools.lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _connection(request: Request) -> AsyncIterator[Conn]:
    async with _services(request).pool.connection() as conn:
        yield conn


CurrentSession = Annotated[OdooSession, Depends(_current_session)]
Database = Annotated[Conn, Depends(_connection)]


async def get_identity(request: Request, conn: Conn) -> DatabaseIdentity:
    return await _services(request).identity.get(conn)


async def readable_models(request: Request, conn: Conn, uid: int) -> frozenset[str] | None:
    """The models `uid` may read in Odoo (cached); None: no Odoo tables, all."""
    access = await _services(request).access.get(conn, uid)
    return None if access is None else access.readable_models


async def ensure_admin(session: OdooSession, conn: Conn) -> None:
    """Odoo administrators and webhook managers pass; anyone else gets 403."""
    if session.is_admin or await is_webhook_manager(conn, session.uid):
        return
    raise Forbidden(f"user {session.uid} is not an administrator or webhook manager")


def may_act_for_at_once(session: OdooSession, user_id: int) -> bool:
    """Whether the session may act for `user_id` without asking the database:
    the user themself or an administrator (a webhook manager is looked up)."""
    return session.uid == user_id or session.is_admin


async def ensure_may_act_for(session: OdooSession, user_id: int, conn: Conn) -> None:
    """A user acts for themself; administrators and webhook managers for anyone."""
    if may_act_for_at_once(session, user_id):
        return
    try:
        await ensure_admin(session, conn)
    except Forbidden:
        raise Forbidden(
            f"user {session.uid} may not access the sync state of user {user_id}"
        ) from None


async def _admin_session(session: CurrentSession, conn: Database) -> OdooSession:
    await ensure_admin(session, conn)
    return session


AdminSession = Annotated[OdooSession, Depends(_admin_session)]
