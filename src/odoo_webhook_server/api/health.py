"""GET /health/live and /health/ready: for load balancers and monitoring,
without a session. Booleans and short reasons only: never a URL or a secret.

Ready means the server can sync: the database answers, the sync tables are
there, Odoo answers (its ``/web/health``, asked at most every few seconds)
and the change listener that wakes long polls is up. 503 otherwise.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from ..storage.notify import ChangeNotifier
from ..storage.pool import database_error_reason

__all__ = ["OdooProbe", "readiness", "router"]

router = APIRouter(prefix="/health", tags=["service"])

SYNC_TABLES = ("update_webhook", "user_sync_state", "webhook_app_type", "webhook_app_type_model")

# How long the database check waits for a connection.
DATABASE_CHECK_SECONDS = 1.0
LISTENER_START_CHECKS = 20  # every 0.05 s: 1 s


class OdooProbe:
    """Asks Odoo's ``GET /web/health`` (Odoo 18: ``{"status": "pass"}``,
    no session, no database) with a short timeout; remembers the answer for
    `ttl` seconds, so probes every second cost Odoo one request per `ttl`."""

    def __init__(
        self, client: httpx.AsyncClient, odoo_url: str, *, ttl: float = 5.0, timeout: float = 2.0
    ) -> None:
        self._client = client
        self._url = odoo_url.rstrip("/") + "/web/health"
        self._ttl = ttl
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._result: str | None = None
        self._at = -float("inf")

    async def check(self) -> str | None:
        """None when Odoo answers, else a short reason."""
        async with self._lock:
            if time.monotonic() - self._at > self._ttl:
                self._result = await self._ask()
                self._at = time.monotonic()
            return self._result

    async def _ask(self) -> str | None:
        try:
            response = await self._client.get(self._url, timeout=self._timeout)
        except httpx.TimeoutException:
            return "Odoo timeout"
        except httpx.HTTPError:
            return "Odoo unreachable"
        if response.status_code != 200:
            return f"Odoo answered HTTP {response.status_code}"
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        return None if status == "pass" else "Odoo health check did not pass"


async def _database(request: Request) -> tuple[str | None, str | None]:
    """(database problem, tables problem)."""
    pool = request.app.state.services.pool
    try:
        async with pool.connection(timeout=DATABASE_CHECK_SECONDS) as conn:
            cur = await conn.execute(
                "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
                (list(SYNC_TABLES),),
            )
            missing = [row[0] for row in await cur.fetchall()]
            if not missing:
                # The newest schema change the server relies on (addon 18.0.3.2).
                cur = await conn.execute(
                    "SELECT 1 FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = 'user_sync_state'"
                    " AND column_name = 'issued_position'"
                )
                if await cur.fetchone() is None:
                    return None, (
                        "sync schema out of date: upgrade the addon"
                        " (odoo-bin -u custom_model_webhook) or run init-db"
                    )
    except PoolTimeout:
        reason = getattr(pool, "last_error", None)
        return (f"database unreachable ({reason})" if reason else "database busy"), None
    except psycopg.Error as exc:
        return f"database unreachable ({database_error_reason(exc)})", None
    if missing:
        return None, "sync tables missing: " + ", ".join(str(name) for name in missing)
    return None, None


async def readiness(request: Request) -> dict[str, dict[str, Any]]:
    """Each check: {"ok": bool} plus a "reason" when not ok."""
    services = request.app.state.services
    probe: OdooProbe | None = getattr(request.app.state, "odoo_probe", None)
    (database, tables), odoo, listening = await asyncio.gather(
        _database(request), probe.check() if probe else _none(), _listener(services.notifier)
    )
    listener = None if listening else "change listener down"
    if database:
        tables = "unknown: database unreachable"
    checks: dict[str, str | None] = {
        "database": database,
        "sync_tables": tables,
        "odoo": odoo,
        "change_listener": listener,
    }
    return {
        name: {"ok": True} if problem is None else {"ok": False, "reason": problem}
        for name, problem in checks.items()
    }


async def _none() -> None:
    return None


async def _listener(notifier: ChangeNotifier) -> bool:
    """The listener is up; it starts with the first long poll (or here),
    so give a just-started one a moment to connect."""
    notifier.start()
    for _ in range(LISTENER_START_CHECKS):
        if notifier.listening:
            break
        await asyncio.sleep(0.05)
    return notifier.listening


def first_problem(checks: dict[str, dict[str, Any]]) -> str | None:
    return next((str(c["reason"]) for c in checks.values() if not c["ok"]), None)


@router.get("/live")
async def live() -> dict[str, str]:
    """The process answers (restart it if not)."""
    return {"status": "alive"}


@router.get("/ready", responses={503: {"description": "Not ready: see the failing checks"}})
async def ready(request: Request) -> JSONResponse:
    """The server can sync now: database, sync tables, Odoo, change listener.
    503 (with the failing checks) when not; send no traffic meanwhile."""
    checks = await readiness(request)
    ok = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503
    )
