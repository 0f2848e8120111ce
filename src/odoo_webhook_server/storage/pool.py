"""The connection pool to the Odoo database."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

__all__ = ["make_pool"]


def make_pool(
    conninfo: str, *, min_size: int, max_size: int, timeout: float
) -> AsyncConnectionPool[AsyncConnection[tuple[object, ...]]]:
    """A pool that is opened without waiting for the database (the server
    starts and answers 503 while PostgreSQL is down), checks connections
    before handing them out, and reconnects by itself when it returns."""
    return AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        check=AsyncConnectionPool.check_connection,
        kwargs={"autocommit": True, "application_name": "odoo-webhook-server"},
    )
