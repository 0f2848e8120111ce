"""The archiving code of sync/archiving.py on the server's async connections:
its settings and statistics, the v1 cleanup (which deletes through the
archiver's DELETE_BATCH, leaving the same purge marks), and how far behind
the devices of each app type are.

sync/archiving.py is written for blocking DB-API cursors, because the addon
runs it on Odoo's psycopg2 cursor. `run_blocking` runs such code unchanged
on a pooled async connection: the code runs in a worker thread, and each of
its statements is sent back to the event loop, which owns the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from psycopg import AsyncConnection, AsyncCursor

from ..sync import archiving
from ..sync.archiving import ACTIVE_DEVICE_GROUPS, DELETE_BATCH, ArchivePolicy, DbCursor
from ..sync.events import Event
from .v1_queries import EVENT_COLUMNS, event_of

__all__ = [
    "AppTypeLag",
    "CleanupResult",
    "app_type_lag",
    "archive_stats",
    "delete_events_before",
    "read_policy",
    "run_blocking",
]

Conn = AsyncConnection[tuple[object, ...]]
T = TypeVar("T")


class _BlockingCursor:
    """A DbCursor for a worker thread, whose statements run on the event loop."""

    def __init__(
        self, cur: AsyncCursor[tuple[object, ...]], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._cur = cur
        self._loop = loop

    def _wait(self, step: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(step, self._loop).result()

    def execute(self, query: Any, params: Any = None, /) -> _BlockingCursor:
        self._wait(self._cur.execute(query, params))
        return self

    def fetchone(self) -> Any:
        return self._wait(self._cur.fetchone())

    def fetchall(self) -> list[Any]:
        return self._wait(self._cur.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


async def run_blocking(conn: Conn, function: Callable[[DbCursor], T]) -> T:
    """`function(cursor)` for code written for blocking DB-API cursors."""
    loop = asyncio.get_running_loop()
    async with conn.cursor() as cur:
        work = loop.run_in_executor(None, function, _BlockingCursor(cur, loop))
        try:
            return await asyncio.shield(work)
        finally:
            if not work.done():
                # Cancelled while the thread still uses the connection: keep
                # it until the thread ends, so that the pool never hands out
                # a connection that is still in use.
                await asyncio.wait([work])


async def read_policy(conn: Conn) -> ArchivePolicy:
    """The thresholds set in Odoo (defaults where unset)."""
    return await run_blocking(conn, archiving.read_policy)


async def archive_stats(conn: Conn) -> tuple[ArchivePolicy, dict[str, Any]]:
    """archiving.archive_stats with the inactivity window set in Odoo."""

    def stats(cur: DbCursor) -> tuple[ArchivePolicy, dict[str, Any]]:
        policy = archiving.read_policy(cur)
        return policy, archiving.archive_stats(
            cur, inactive_device_days=policy.inactive_device_days
        )

    return await run_blocking(conn, stats)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# An event of update_webhook (in DELETE_BATCH's scope) that an active device
# whose subscription covers its model has not acknowledged: the same devices
# and positions as the archiver's rule 1.
_UNACKNOWLEDGED = f"""EXISTS (
    SELECT 1 FROM ({ACTIVE_DEVICE_GROUPS}) AS g
     WHERE (g.all_models OR update_webhook.model = ANY(g.models))
       AND (g.models_filter IS NULL OR update_webhook.model = ANY(g.models_filter))
       AND ARRAY[update_webhook.txid, update_webhook.id::int8] > g.least_ack)"""

_BEFORE = 'update_webhook."timestamp" < %(before)s'

# Written as two WHERE clauses, so that the planner joins the device groups
# once (a semi-join) instead of aggregating them again for every event.
_KEPT = f"""
SELECT (SELECT count(*) FROM update_webhook WHERE {_BEFORE}),
       (SELECT count(*) FROM update_webhook WHERE {_BEFORE} AND {_UNACKNOWLEDGED})
"""


@dataclass(frozen=True)
class CleanupResult:
    deleted: int
    kept: int  # events before the limit still stored
    kept_unacknowledged: int  # of which an active device has not acknowledged


async def delete_events_before(
    conn: Conn,
    before: datetime,
    *,
    force: bool = False,
    batch_size: int = 5000,
    now: datetime | None = None,
) -> CleanupResult:
    """Delete events stamped before `before`, except (unless `force`) those an
    active device has not acknowledged. In batches through DELETE_BATCH, each
    its own transaction on an autocommit connection: the purge marks it
    leaves make devices behind a deleted event resync."""
    now = now or _utcnow()
    policy = await read_policy(conn)
    params: dict[str, object] = {
        "before": before,
        "now": now,
        "batch_size": batch_size,
        "inactive_before": now - timedelta(days=policy.inactive_device_days),
    }
    condition = _BEFORE if force else f"{_BEFORE} AND NOT {_UNACKNOWLEDGED}"
    statement = DELETE_BATCH.format(condition=condition)
    deleted = 0
    while True:
        cur = await conn.execute(statement, params)
        row = await cur.fetchone()
        assert row is not None
        count = cast(int, row[0])
        deleted += count
        if count < batch_size:
            break
    cur = await conn.execute(_KEPT, params)
    row = await cur.fetchone()
    assert row is not None
    return CleanupResult(deleted, cast(int, row[0]), cast(int, row[1]))


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
WITH groups AS (
    SELECT t.code AS app_type, t.all_models,
           COALESCE((SELECT array_agg(m.model) FROM webhook_app_type_model m
                      WHERE m.app_type_id = t.id), '{{}}') AS models,
           string_to_array(s.models_filter, ',') AS models_filter,
           count(*) AS devices,
           min(ARRAY[s.ack_txid, COALESCE(s.last_event_id, 0)::int8]) AS least_ack
      FROM user_sync_state s
      JOIN webhook_app_type t ON t.code = s.app_type AND t.active
     WHERE s.is_active AND s.last_sync_time >= %(inactive_before)s
     GROUP BY t.id, s.models_filter
), first_unacknowledged AS (
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
        {"inactive_before": _utcnow() - timedelta(days=inactive_device_days)},
    )
    return [
        AppTypeLag(
            app_type=cast(str, row[0]),
            active_devices=cast(int, row[1]),
            oldest_unacknowledged=event_of(row[2:]) if row[2] is not None else None,
        )
        for row in await cur.fetchall()
    ]
