"""Reading archiving statistics on the server's pool, and running the shared
blocking archiving code (sync/archiving.py, written for DB-API cursors so
that the addon runs it on Odoo's psycopg2 cursor) from async code: on a
connection of its own in a worker thread, as the rare administrative calls
that use it can afford.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar, cast

import psycopg
from odoo_webhook_core.archiving import ACTIVE_DEVICE_GROUPS, DbCursor
from odoo_webhook_core.clock import utcnow
from psycopg import AsyncConnection

from ..sync.events import Event
from .events import EVENT_COLUMNS, event_of

__all__ = ["AppTypeLag", "app_type_lag", "run_blocking"]

Conn = AsyncConnection[tuple[object, ...]]
T = TypeVar("T")


async def run_blocking(conninfo: str, function: Callable[[DbCursor, Callable[[], None]], T]) -> T:
    """`function(cursor, commit)` in a worker thread, on its own connection;
    committed at the end, rolled back on error."""

    def run() -> T:
        with psycopg.connect(conninfo, connect_timeout=5) as conn, conn.cursor() as cur:
            return function(cur, conn.commit)

    return await asyncio.to_thread(run)


@dataclass(frozen=True)
class AppTypeLag:
    app_type: str
    active_devices: int
    oldest_unacknowledged: Event | None  # None: every active device is caught up


# Per active app type: its active devices (as ACTIVE_DEVICE_GROUPS counts
# them, plus the app type's code) and, of each group's least acknowledged
# position, the first event the group sees after it; one index probe per
# group (per model when it sees only some models).
_APP_TYPE_LAG = f"""
WITH groups AS ({ACTIVE_DEVICE_GROUPS}), first_unacknowledged AS (
    SELECT DISTINCT ON (g.app_type) g.app_type, e.*
      FROM groups g
     CROSS JOIN LATERAL (
           (SELECT {EVENT_COLUMNS} FROM update_webhook
             WHERE g.all_models AND g.models_filter IS NULL
               AND (txid, id) > (g.least_ack[1], g.least_ack[2])
             ORDER BY txid, id LIMIT 1)
           UNION ALL
           (SELECT x.* FROM unnest(CASE
                   WHEN g.models_filter IS NULL THEN g.models::text[]
                   WHEN g.all_models THEN g.models_filter
                   ELSE ARRAY(SELECT unnest(g.models_filter)
                              INTERSECT SELECT unnest(g.models::text[]))
                   END) AS wanted(model)
             CROSS JOIN LATERAL (
                   SELECT {EVENT_COLUMNS} FROM update_webhook
                    WHERE update_webhook.model = wanted.model
                      AND (txid, id) > (g.least_ack[1], g.least_ack[2])
                    ORDER BY txid, id LIMIT 1) AS x)
           ) AS e
     ORDER BY g.app_type, e.txid, e.id
)
SELECT t.code,
       (SELECT COALESCE(sum(g.devices), 0)::int FROM groups g WHERE g.app_type = t.code),
       e.*
  FROM webhook_app_type t
  LEFT JOIN LATERAL (SELECT {EVENT_COLUMNS} FROM first_unacknowledged f
                      WHERE f.app_type = t.code) AS e ON true
 WHERE t.active
 ORDER BY t.code
"""


async def app_type_lag(conn: Conn, inactive_device_days: int) -> list[AppTypeLag]:
    """For each active app type, the oldest event (by stream position) that
    one of its active devices has not acknowledged."""
    cur = await conn.execute(
        _APP_TYPE_LAG,
        {"inactive_before": utcnow() - timedelta(days=inactive_device_days)},
    )
    return [
        AppTypeLag(
            app_type=cast(str, row[0]),
            active_devices=cast(int, row[1]),
            oldest_unacknowledged=event_of(row[2:]) if row[2] is not None else None,
        )
        for row in await cur.fetchall()
    ]
