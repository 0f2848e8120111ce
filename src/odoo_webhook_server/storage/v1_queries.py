"""Reading the event log by time, as /api/v1 did (table update_webhook).

These queries filter on the "timestamp" column (index
update_webhook__timestamp_index). Time is not a gap-free cursor: an event
can commit after a later-stamped one was already read. That is v1's known
limit; /api/v2/sync/pull is the gap-free feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from psycopg import AsyncConnection, sql

from ..sync.events import Event, EventKind
from .events import EVENT_COLUMNS, event_of

__all__ = ["UpdatesSummary", "check_updates", "list_events", "ping"]

Conn = AsyncConnection[tuple[object, ...]]


@dataclass(frozen=True)
class UpdatesSummary:
    last_update_at: datetime | None  # None: nothing after `since`
    per_model: list[tuple[str, int]]
    has_more: bool


# The timestamp of the `limit`-th event after `since` bounds the events
# counted; events sharing that timestamp are all counted, so that asking
# again with since=last_update_at never skips one of them.
# Only events of models the caller may read (%(all)s: no restriction).
_READABLE = "(%(all)s OR model = ANY(%(readable)s::varchar[]))"

_BOUND = f"""
SELECT bound.last_ts,
       EXISTS (SELECT 1 FROM update_webhook
                WHERE "timestamp" > bound.last_ts AND {_READABLE})
  FROM (SELECT max(first_events."timestamp") AS last_ts
          FROM (SELECT "timestamp" FROM update_webhook
                 WHERE "timestamp" > %(since)s AND {_READABLE}
                 ORDER BY "timestamp" LIMIT %(limit)s) AS first_events) AS bound
"""

_PER_MODEL = f"""
SELECT model, count(*) FROM update_webhook
 WHERE "timestamp" > %(since)s AND "timestamp" <= %(last_ts)s AND {_READABLE}
 GROUP BY model ORDER BY model
"""


def _readable_params(readable: frozenset[str] | None) -> dict[str, object]:
    return {"all": readable is None, "readable": sorted(readable or ())}


async def check_updates(
    conn: Conn, since: datetime | None, limit: int, readable: frozenset[str] | None = None
) -> UpdatesSummary:
    """Events stamped after `since` (None: from the first), at most about
    `limit`, of the `readable` models (None: all)."""
    params: dict[str, object] = {
        "since": since or datetime.min,
        "limit": limit,
        **_readable_params(readable),
    }
    cur = await conn.execute(_BOUND, params)
    row = await cur.fetchone()
    assert row is not None
    last_ts, has_more = cast("datetime | None", row[0]), bool(row[1])
    if last_ts is None:
        return UpdatesSummary(None, [], False)
    cur = await conn.execute(_PER_MODEL, {**params, "last_ts": last_ts})
    per_model = [(cast(str, model), cast(int, count)) for model, count in await cur.fetchall()]
    return UpdatesSummary(last_ts, per_model, has_more)


# Column and operator of each optional filter of list_events.
_FILTERS = (("model", "="), ("record_id", "="), ("event", "="), ("timestamp", ">"))


async def list_events(
    conn: Conn,
    *,
    model: str | None = None,
    record_id: int | None = None,
    event: EventKind | None = None,
    since: datetime | None = None,
    limit: int,
    offset: int = 0,
    readable: frozenset[str] | None = None,
) -> list[Event]:
    """Events matching every given filter, of the `readable` models (None:
    all), oldest first ("timestamp", id)."""
    params: dict[str, object] = {
        **_readable_params(readable),
        "model": model,
        "record_id": record_id,
        "event": event,
        "timestamp": since,
        "limit": limit,
        "offset": offset,
    }
    conditions = [
        sql.SQL("{} {} {}").format(
            sql.Identifier(column), sql.SQL(operator), sql.Placeholder(column)
        )
        for column, operator in _FILTERS
        if params[column] is not None
    ]
    query = sql.SQL(
        "SELECT {columns} FROM update_webhook WHERE {where}"
        ' ORDER BY "timestamp", id LIMIT %(limit)s OFFSET %(offset)s'
    ).format(
        columns=sql.SQL(EVENT_COLUMNS),
        where=sql.SQL(" AND ").join([*conditions, sql.SQL(_READABLE)]),
    )
    cur = await conn.execute(query, params)
    return [event_of(row) for row in await cur.fetchall()]


async def ping(conn: Conn) -> None:
    """One round trip: raises psycopg.Error when the database does not answer."""
    await conn.execute("SELECT 1")
