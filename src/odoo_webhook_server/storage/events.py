"""Reading the event stream (table update_webhook) after a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from psycopg import AsyncConnection

from ..sync.cursor import START, Cursor
from ..sync.events import Event, EventKind

__all__ = ["EVENT_COLUMNS", "event_of", "events_after", "head", "purged_after"]

Conn = AsyncConnection[tuple[object, ...]]

EVENT_COLUMNS = 'id, txid, model, record_id, event, "timestamp", user_id, changed_fields'
_COLUMNS = ", ".join(f"e.{column}" for column in EVENT_COLUMNS.split(", "))


def event_of(row: tuple[object, ...]) -> Event:
    """An Event from the columns EVENT_COLUMNS, in that order."""
    return Event(
        id=cast(int, row[0]),
        txid=cast(int, row[1]),
        model=cast(str, row[2]),
        record_id=cast(int, row[3]),
        event=cast(EventKind, row[4]),
        timestamp=cast(datetime, row[5]),
        user_id=cast("int | None", row[6]),
        changed_fields=tuple(f for f in cast(str, row[7] or "").split(",") if f),
    )


# Only transactions older than the snapshot's xmin are final: every event of
# theirs is visible now and no new one can appear behind the cursor.
_ALL_MODELS = f"""
SELECT {_COLUMNS}
  FROM update_webhook e
 WHERE (e.txid, e.id) > (%(txid)s, %(event_id)s)
   AND e.txid < txid_snapshot_xmin(txid_current_snapshot())
 ORDER BY e.txid, e.id
 LIMIT %(limit)s
"""

# Per model, an index-only range scan of (model, txid, id) for the page's
# keys, merged; then the page's rows by primary key. Cost depends on the batch
# size, not on how many events of other models lie in between (selecting whole
# rows in the branches lets the planner prefer (txid, id) and filter on model).
_SOME_MODELS = f"""
SELECT {_COLUMNS}
  FROM (SELECT k.id
          FROM unnest(%(models)s::varchar[]) AS wanted(model)
         CROSS JOIN LATERAL (
                SELECT x.txid, x.id FROM update_webhook x
                 WHERE x.model = wanted.model
                   AND (x.txid, x.id) > (%(txid)s, %(event_id)s)
                   AND x.txid < txid_snapshot_xmin(txid_current_snapshot())
                 ORDER BY x.txid, x.id
                 LIMIT %(limit)s) k
         ORDER BY k.txid, k.id
         LIMIT %(limit)s) page
  JOIN update_webhook e ON e.id = page.id
 ORDER BY e.txid, e.id
"""


async def events_after(
    conn: Conn, cursor: Cursor, models: tuple[str, ...] | None, limit: int
) -> list[Event]:
    """Up to `limit` final events after `cursor`, of `models` (None = all)."""
    params: dict[str, object] = {
        "txid": cursor.txid,
        "event_id": cursor.event_id,
        "limit": limit,
        "models": list(models or ()),
    }
    cur = await conn.execute(_ALL_MODELS if models is None else _SOME_MODELS, params)
    return [event_of(row) for row in await cur.fetchall()]


async def purged_after(conn: Conn, cursor: Cursor, models: tuple[str, ...] | None) -> str | None:
    """A model of `models` (None = any) of which events after `cursor` were
    deleted (by archiving or a v1 cleanup), or None when nothing was lost."""
    cur = await conn.execute(
        """
        SELECT model FROM update_webhook_purge
         WHERE (txid, event_id) > (%(txid)s, %(event_id)s)
           AND (%(all)s OR model = ANY(%(models)s::varchar[]))
         ORDER BY model LIMIT 1
        """,
        {
            "txid": cursor.txid,
            "event_id": cursor.event_id,
            "all": models is None,
            "models": list(models or ()),
        },
    )
    row = await cur.fetchone()
    return cast(str, row[0]) if row else None


async def head(conn: Conn) -> Cursor:
    """The position after the last final event, deleted ones included
    (where a device that has just reloaded its data continues)."""
    cur = await conn.execute(
        """
        SELECT txid, id FROM (
            (SELECT txid, id FROM update_webhook
              WHERE txid < txid_snapshot_xmin(txid_current_snapshot())
              ORDER BY txid DESC, id DESC LIMIT 1)
            UNION ALL
            SELECT txid, event_id FROM update_webhook_purge
        ) AS final
        ORDER BY txid DESC, id DESC LIMIT 1
        """
    )
    row = await cur.fetchone()
    return Cursor(cast(int, row[0]), cast(int, row[1])) if row else START
