"""The connection pool to the Odoo database."""

from __future__ import annotations

import logging
import math
import select
from typing import Any

from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff

__all__ = [
    "InvalidDatabaseUrl",
    "SyncPool",
    "check_conninfo",
    "database_error_reason",
    "make_pool",
    "safe_conninfo",
]

log = logging.getLogger(__name__)

Conn = AsyncConnection[tuple[object, ...]]

# Retry a lost database every RETRY_CAP seconds at most (psycopg_pool's own
# backoff doubles up to minutes, so a restarted PostgreSQL was only noticed
# 8-10 s after it was back).
RETRY_INITIAL = 0.2
RETRY_CAP = 0.5


def database_error_reason(exc: BaseException) -> str:
    """A short, secret-free cause of a failed connection or query:
    connection refused, authentication failed, unknown database, timeout, ..."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    if sqlstate == "3D000" or ("database" in text and "does not exist" in text):
        return "unknown database"
    if (
        sqlstate.startswith("28")
        or "authentication failed" in text
        or "no pg_hba.conf entry" in text
        or ("role" in text and "does not exist" in text)
        or "password" in text
    ):
        return "authentication failed"
    if sqlstate == "57P03" or "starting up" in text or "shutting down" in text:
        return "database starting or stopping"
    if "connection refused" in text or "no such file or directory" in text:
        return "connection refused"
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "translate host name" in text or "name or service not known" in text:
        return "unknown host"
    if "invalid dsn" in text or "invalid connection option" in text or 'missing "="' in text:
        return "invalid DATABASE_URL"
    if "server closed the connection" in text or "consuming input failed" in text:
        return "connection lost"
    if sqlstate.startswith("57P"):  # admin shutdown, crash shutdown, cannot connect now
        return "connection lost"
    return "database unreachable"


def safe_conninfo(conninfo: str) -> str:
    """`conninfo` without its password, for messages and logs."""
    try:
        params = conninfo_to_dict(conninfo)
    except Exception:
        return "(unparsable DATABASE_URL)"
    params.pop("password", None)
    host = params.get("host") or "local socket"
    port = f":{params['port']}" if params.get("port") else ""
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{host}{port}/{params.get('dbname') or ''}"


class InvalidDatabaseUrl(ValueError):
    """DATABASE_URL is not a libpq URI or connection string."""


def check_conninfo(conninfo: str) -> None:
    """Raise InvalidDatabaseUrl naming the problem when `conninfo` cannot be parsed."""
    try:
        make_conninfo(conninfo)
    except Exception as exc:
        raise InvalidDatabaseUrl(f"invalid DATABASE_URL: {str(exc).splitlines()[0]}") from None


class _QuickRetry(AttemptWithBackoff):
    INITIAL_DELAY = RETRY_INITIAL
    DELAY_JITTER = 0.2

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RETRY_CAP)


class SyncPool(AsyncConnectionPool[Conn]):
    """psycopg_pool with a short reconnect backoff, and the cause of the last
    failed connection attempt (`last_error`, None once one succeeds), logged
    once per outage instead of once per attempt."""

    last_error: str | None = None

    async def _connect(self, timeout: float | None = None) -> Conn:  # noqa: ASYNC109
        try:
            conn = await super()._connect(timeout)
        except Exception as exc:
            reason = database_error_reason(exc)
            if reason != self.last_error:
                log.error(
                    "database unavailable: %s (%s: %s)",
                    reason,
                    safe_conninfo(self.conninfo if isinstance(self.conninfo, str) else ""),
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                )
            self.last_error = reason
            raise
        if self.last_error is not None:
            log.warning("database reachable again")
            self.last_error = None
        return conn

    async def _add_connection(self, attempt: Any, growing: bool = False) -> None:
        await super()._add_connection(
            attempt or _QuickRetry(timeout=self.reconnect_timeout), growing
        )


async def _configure(conn: Conn) -> None:
    # The server's statements are few and prepared (psycopg prepares a query
    # after a few executions). PostgreSQL re-plans a prepared statement on
    # every execution when it guesses that a plan made for its parameters is
    # better; for the events query of a subset of models that guess was made
    # on every pull, and planning cost about three times the execution. The
    # statements' plans do not depend on their parameters: every branch is
    # an index range scan under a LIMIT.
    await conn.execute("SET plan_cache_mode = force_generic_plan")


async def _check_if_spoken_to(conn: Conn) -> None:
    """Check a connection (one round trip) only when the server sent it
    something while it was idle in the pool: the message of a terminated
    backend or of a shutdown, or the end of the stream. A quiet connection
    is handed out as it is, which saves a round trip per request; a
    restarted database is still noticed before a request fails on it."""
    if conn.closed or _readable(conn.pgconn.socket):
        await AsyncConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    # poll, not select: a busy server has descriptors above select's 1024.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def make_pool(conninfo: str, *, min_size: int, max_size: int, timeout: float) -> SyncPool:
    """A pool that is opened without waiting for the database (the server
    starts and answers 503 while PostgreSQL is down), checks connections
    the server spoke to before handing them out, and reconnects by itself
    when the database returns: within RETRY_CAP seconds."""
    # psycopg_pool warns on every failed attempt; SyncPool logs the cause once.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return SyncPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        check=_check_if_spoken_to,
        configure=_configure,
        kwargs={
            "autocommit": True,
            "application_name": "odoo-webhook-server",
            "connect_timeout": max(2, math.ceil(timeout)),  # a silent host: "timeout"
        },
    )
