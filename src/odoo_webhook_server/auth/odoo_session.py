"""Validating a caller's Odoo session against Odoo itself.

Odoo 18 answers ``POST /web/session/get_session_info`` (JSON-RPC, session in
the ``session_id`` cookie) with the session's ``uid``, ``is_admin``,
``is_system`` and ``db``. An expired or unknown session gets a JSON-RPC
error ``SessionExpiredException`` (HTTP 200), and an Odoo that serves
several databases without a dbfilter answers an unknown session with an
HTTP 404 page: both mean "invalid session", not "Odoo is down".

Answers are cached for `ttl` seconds, so a device syncing every few seconds
costs Odoo one request per `ttl`, and concurrent requests with one session
share one round trip. The HTTP client is injected: tests pass one whose
transport plays Odoo.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import cast

import httpx
from cachetools import TTLCache

from ..observability import context, metrics

__all__ = ["InvalidSession", "OdooSession", "OdooSessionValidator", "OdooUnavailable"]


class InvalidSession(Exception):
    """No session, or Odoo does not know it (401)."""


class OdooUnavailable(Exception):
    """Odoo could not be asked (503)."""


@dataclass(frozen=True)
class OdooSession:
    uid: int
    db: str | None
    is_admin: bool
    name: str = ""


_MISSING = object()


class OdooSessionValidator:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        odoo_url: str,
        odoo_db: str | None = None,
        ttl: float = 30.0,
        maxsize: int = 10_000,
    ) -> None:
        self._client = client
        self._url = odoo_url.rstrip("/") + "/web/session/get_session_info"
        self._db = odoo_db
        self._cache: TTLCache[str, OdooSession | None] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl) if ttl > 0 else None
        )
        self._inflight: dict[str, asyncio.Future[OdooSession | None]] = {}

    async def validate(self, session_id: str) -> OdooSession:
        key = hashlib.sha256(session_id.encode()).hexdigest()
        # One lookup: between `key in cache` and `cache[key]` the entry may expire.
        cached = self._cache.get(key, _MISSING) if self._cache is not None else _MISSING
        if cached is not _MISSING:
            session = cast("OdooSession | None", cached)
            metrics.labelled(metrics.SESSION_CACHE, "hit").inc()
        elif key in self._inflight:
            metrics.labelled(metrics.SESSION_CACHE, "hit").inc()  # shares a running check
            session = await asyncio.shield(self._inflight[key])
        else:
            metrics.labelled(metrics.SESSION_CACHE, "miss").inc()
            future: asyncio.Future[OdooSession | None] = asyncio.get_running_loop().create_future()
            self._inflight[key] = future
            try:
                session = await self._ask_odoo(session_id)
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # mark retrieved: waiters (if any) re-raise it
                raise
            else:
                future.set_result(session)
                if self._cache is not None:
                    self._cache[key] = session
            finally:
                del self._inflight[key]
        if session is None:
            raise InvalidSession("Odoo session is invalid or expired")
        context.note(user=session.uid)
        return session

    async def _ask_odoo(self, session_id: str) -> OdooSession | None:
        try:
            response = await self._client.post(
                self._url,
                json={"jsonrpc": "2.0", "method": "call", "params": {}, "id": None},
                headers={"Cookie": f"session_id={session_id}"},
            )
        except httpx.HTTPError as exc:
            raise OdooUnavailable(f"Odoo is unreachable at {self._url}: {exc!r}") from None
        if response.status_code == 404:
            return None  # multi-database Odoo without dbfilter: unknown session
        if response.status_code != 200:
            raise OdooUnavailable(f"Odoo answered HTTP {response.status_code} at {self._url}")
        try:
            body = response.json()
        except ValueError:
            raise OdooUnavailable(f"Odoo answered non-JSON at {self._url}") from None
        if not isinstance(body, dict):
            raise OdooUnavailable("Odoo answered an unexpected JSON-RPC body")
        if "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {}
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            name = str((data or {}).get("name", ""))
            if error.get("code") == 100 or name.endswith("SessionExpiredException"):
                return None
            raise OdooUnavailable(f"Odoo failed to validate the session: {error.get('message')}")
        result = body.get("result")
        if not isinstance(result, dict) or not result.get("uid"):
            return None
        if self._db and result.get("db") != self._db:
            return None  # a session of another database: its uid is someone else
        return OdooSession(
            uid=int(result["uid"]),
            db=result.get("db"),
            is_admin=bool(result.get("is_admin") or result.get("is_system")),
            name=str(result.get("name") or ""),
        )
