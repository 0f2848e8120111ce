"""One plain ASGI middleware per request: its id (X-Request-Id, accepted
from the caller when sane, else made here, and returned), the time spent
in the server until the answer starts (`Server-Timing: app;dur=<ms>`, for
clients and benchmarks to read), its record for the logs
(observability.context), the request metrics and, in JSON log mode, its
log line. Outermost of the app's own middlewares, so that the answers of
the limits (413, 429) and CORS are counted too. Plain ASGI: no task group
per request, unlike Starlette's BaseHTTPMiddleware."""

from __future__ import annotations

import logging
import os
import re
import time
import weakref
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import context, metrics
from .logging import REQUEST_LOGGER

__all__ = ["RequestObservabilityMiddleware", "route_template", "session_id_of"]

log = logging.getLogger(REQUEST_LOGGER)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# The pool gauges are copied after a request at most this often (seconds):
# with several worker processes a scrape reaches one of them, so each keeps
# its own up to date, without paying for it on every request. /metrics
# copies them too, at every scrape.
POOL_GAUGES_EVERY = 1.0


def session_id_of(scope: Scope) -> str | None:
    """The caller's Odoo session id: X-Session-Id, else the session_id cookie
    (read as the app reads them)."""
    cookie = None
    for name, value in scope["headers"]:
        if name == b"x-session-id":
            sid = bytes(value).decode("latin-1").strip()
            if sid:
                return sid
        elif name == b"cookie":
            cookie = bytes(value).decode("latin-1")
    if cookie:
        sid = cookie_parser(cookie).get("session_id", "").strip()
        return sid or None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values); for a
    request answered before routing (413, 429), its path if that is one of
    the app's (documented) routes; "unmatched" otherwise."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    if app is not None and scope["path"] in _known_paths(app):
        return str(scope["path"])
    return "unmatched"


_paths_of: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def _known_paths(app: Any) -> frozenset[str]:
    known = _paths_of.get(app)
    if known is None:
        try:
            known = frozenset(app.openapi().get("paths", {}))
        except Exception:  # no schema: every such request is "unmatched"
            known = frozenset()
        _paths_of[app] = known
    return known


class RequestObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests
        self._pool_read_at = -POOL_GAUGES_EVERY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.fullmatch(candidate):
                    request_id = candidate
                break
        request_id = request_id or os.urandom(16).hex()
        sid = session_id_of(scope)
        token = context.begin(
            request_id=request_id, session=context.mask_session(sid) if sid else None, _sid=sid
        )
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"server-timing", b"app;dur=%.3f" % elapsed_ms))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            try:
                self._finish(scope, status, time.perf_counter() - started)
            finally:
                context.end(token)

    def _finish(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        route = route_template(scope)
        metrics.labelled(metrics.REQUESTS, method, route, str(status)).inc()
        metrics.labelled(metrics.REQUEST_SECONDS, method, route).observe(seconds)
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        now = time.monotonic()
        if services is not None and now - self._pool_read_at >= POOL_GAUGES_EVERY:
            self._pool_read_at = now
            metrics.update_pool(services.pool.get_stats())
        if self.log_requests:
            info = context.current() or {}
            fields: dict[str, Any] = {
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            }
            query = _query(scope)
            info.setdefault("user_id", query.get("user_id"))
            info.setdefault("device", query.get("device_id"))
            log.info(
                "%s %s %s %.1fms",
                method,
                scope["path"],
                status,
                seconds * 1000,
                extra={"fields": fields},
            )


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
