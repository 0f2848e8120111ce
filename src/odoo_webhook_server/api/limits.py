"""Abuse resistance: a request body size limit, per-session and per-device
rate limits per route, and CORS for web apps, as plain ASGI middlewares.

Rate limits are token buckets held in the process: a bucket holds a
minute's worth of requests (`RATE_LIMIT_<ROUTE>_PER_MINUTE`) and refills
continuously, so a catching-up app may fire a burst, and a long-polling app
(about two requests a minute) never comes near. A request must find a
token in its session's bucket and in its device's bucket (`user_id` +
`device_id`, from the query or the pull's JSON body); otherwise it gets 429
`{"detail", "code": "rate_limited"}` with `Retry-After` (seconds). With N
worker processes or N instances the effective limit is N times the setting
(each process counts on its own).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from cachetools import LRUCache
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..observability.middleware import session_id_of

__all__ = ["LimitsMiddleware", "TokenBuckets", "install_limits", "route_key"]

# Routes with their own limit; every other /api/ route shares "other".
_ROUTE_KEYS = {
    "/api/v2/sync/pull": "pull",
    "/api/v2/sync/state": "state",
    "/api/v2/sync/reset": "reset",
}
_UNLIMITED = {"/api/v1/health"}


def route_key(path: str) -> str | None:
    """Which limit applies to `path` (None: not rate limited)."""
    if path in _ROUTE_KEYS:
        return _ROUTE_KEYS[path]
    if path.startswith("/api/") and path not in _UNLIMITED:
        return "other"
    return None


class TokenBuckets:
    """Buckets of `per_minute` tokens refilled at `per_minute`/60 per second.
    The least recently used buckets are forgotten beyond `maxsize` (a
    forgotten bucket is a full one)."""

    def __init__(self, maxsize: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: LRUCache[tuple[str, ...], tuple[float, float]] = LRUCache(maxsize)
        self._clock = clock

    def take(self, keys: Sequence[tuple[str, ...]], per_minute: int) -> float:
        """Take one token from each bucket of `keys` if all have one and
        return 0; else take none and return the seconds until they will."""
        now = self._clock()
        rate = per_minute / 60.0
        levels = []
        wait = 0.0
        for key in keys:
            tokens, at = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - at) * rate)
            levels.append(tokens)
            if tokens < 1:
                wait = max(wait, (1 - tokens) / rate)
        for key, tokens in zip(keys, levels, strict=True):
            self._buckets[key] = (tokens if wait else tokens - 1, now)
        return wait


async def _send_json(send: Send, status: int, body: dict[str, Any], **headers: str) -> None:
    raw = json.dumps(body).encode()
    header_list = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(raw))]
    header_list += [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": header_list})
    await send({"type": "http.response.body", "body": raw})


class LimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        per_minute: dict[str, int],
        buckets: TokenBuckets | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.per_minute = per_minute
        self.buckets = buckets or TokenBuckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = route_key(scope["path"])
        limit = self.per_minute.get(key or "", 0)
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
        if self.max_body_bytes and length is not None and length > self.max_body_bytes:
            await self._too_large(send)
            return
        body: bytes | None = None
        needs_body = key == "pull" and limit > 0 and scope["method"] == "POST"
        if needs_body or (self.max_body_bytes and length is None and scope["method"] != "GET"):
            body = await self._read_body(receive)
            if body is None:
                await self._too_large(send)
                return
            receive = _replay(body, receive)
        if limit > 0:
            wait = self.buckets.take(_bucket_keys(key or "", scope, body), limit)
            if wait:
                retry = max(1, math.ceil(wait))
                await _send_json(
                    send,
                    429,
                    {
                        "detail": f"Too many requests: at most {limit} a minute per session "
                        f"and per device on {scope['path']}; retry in {retry} s",
                        "code": "rate_limited",
                    },
                    retry_after=str(retry),
                )
                return
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None when it exceeds the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if self.max_body_bytes and size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await _send_json(
            send,
            413,
            {
                "detail": f"Request body too large: at most {self.max_body_bytes} bytes",
                "code": "body_too_large",
                "max_bytes": self.max_body_bytes,
            },
            connection="close",
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _bucket_keys(route: str, scope: Scope, body: bytes | None) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    sid = session_id_of(scope)
    if sid:
        keys.append((route, "session", sid))
    where: dict[str, Any] = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            where = parsed
    device = where.get("device_id")
    if isinstance(device, str) and device:
        keys.append((route, "device", str(where.get("user_id")), device[:255]))
    return keys


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Add the limits, then CORS outside them (so refusals carry CORS headers)."""
    app.add_middleware(
        LimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        per_minute={
            "pull": settings.rate_limit_pull_per_minute,
            "state": settings.rate_limit_state_per_minute,
            "reset": settings.rate_limit_reset_per_minute,
            "other": settings.rate_limit_other_per_minute,
        },
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-Session-Id", "X-Request-Id", "Content-Type"],
            expose_headers=["X-Request-Id", "Retry-After", "Server-Timing"],
            max_age=600,
        )
