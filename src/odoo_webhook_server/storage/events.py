"""Reading the event stream (table update_webhook) in commit order.

A batch is read at one snapshot of the database (see sync/position.py):
the events of the transactions visible in it and not yet delivered. Every
branch of the query is an ordered range scan of an index, (txid, id) or
(model, txid, id), stopped at the page size: the cost depends on the page,
not on the table or on how long another transaction stays open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from psycopg import AsyncConnection

from ..sync.cursor import Cursor
from ..sync.events import Event
from ..sync.position import START, Position, Snapshot

__all__ = [
    "EVENT_COLUMNS",
    "Page",
    "event_of",
    "head",
    "page_after",
    "page_params",
    "snapshot",
]

Conn = AsyncConnection[tuple[object, ...]]

EVENT_COLUMNS = 'id, txid, model, record_id, event, "timestamp", user_id, changed_fields'
_COLUMNS = ", ".join(f"e.{column}" for column in EVENT_COLUMNS.split(", "))


def event_of(row: Sequence[Any]) -> Event:
    """An Event from the columns EVENT_COLUMNS, in that order (plain
    positional: a pull builds hundreds of them)."""
    event_id, txid, model, record_id, kind, timestamp, user_id, fields = row
    return Event(
        event_id,
        txid,
        model,
        record_id,
        kind,
        timestamp,
        user_id,
        tuple(f for f in fields.split(",") if f) if fields else (),
    )


def _keys(model_filter: str) -> str:
    """The (phase, txid, id) of the next events after a position (base, top,
    after) at snapshot `now`: phase 1 is the rest of the batch visible in
    `top`, phase 2 what committed since `top`. Transactions that were in
    progress at a snapshot (its xip) are looked up one by one, the others
    are a range above its xmax."""
    return f"""
    (SELECT 1 AS phase, x.txid, x.id
       FROM unnest(%(base_xip)s::int8[]) AS running(txid)
      CROSS JOIN LATERAL (
            SELECT x.txid, x.id FROM update_webhook x
             WHERE x.txid = running.txid {model_filter}
               AND (x.txid, x.id) > (%(after_txid)s, %(after_id)s)
             ORDER BY x.txid, x.id LIMIT %(limit)s) x
      WHERE running.txid < %(top_xmax)s AND running.txid <> ALL(%(top_xip)s::int8[]))
    UNION ALL
    (SELECT 1, x.txid, x.id FROM update_webhook x
      WHERE x.txid >= %(base_xmax)s AND x.txid < %(top_xmax)s {model_filter}
        AND (x.txid, x.id) > (%(after_txid)s, %(after_id)s)
        AND x.txid <> ALL(%(top_xip)s::int8[])
      ORDER BY x.txid, x.id LIMIT %(limit)s)
    UNION ALL
    (SELECT 2, x.txid, x.id
       FROM unnest(%(top_xip)s::int8[]) AS running(txid)
      CROSS JOIN LATERAL (
            SELECT x.txid, x.id FROM update_webhook x
             WHERE x.txid = running.txid {model_filter}
             ORDER BY x.txid, x.id LIMIT %(limit)s) x
      WHERE txid_visible_in_snapshot(running.txid, (SELECT snap FROM now)))
    UNION ALL
    (SELECT 2, x.txid, x.id FROM update_webhook x
      WHERE x.txid >= %(top_xmax)s {model_filter}
        AND x.txid < txid_snapshot_xmax((SELECT snap FROM now))
        AND txid_visible_in_snapshot(x.txid, (SELECT snap FROM now))
      ORDER BY x.txid, x.id LIMIT %(limit)s)
    """


# The snapshot is the statement's own (the rows it reads are exactly those of
# the transactions it shows as committed), or one taken earlier and passed
# (its committed transactions are visible to any later statement).
_NOW = "WITH now AS (SELECT coalesce(%(now)s::txid_snapshot, txid_current_snapshot()) AS snap)"

# Whether events of these models after the position's low-water cursor were
# deleted (archiving, v1 cleanup): the device must resync. Checked in the
# same statement as the page, which it overrides.
_LOST = """(SELECT p.model FROM update_webhook_purge p
            WHERE %(check_purge)s AND (p.txid, p.event_id) > (%(floor_txid)s, %(floor_id)s)
              AND (%(all)s OR p.model = ANY(%(models)s::varchar[]))
            ORDER BY p.model LIMIT 1)"""

_ALL_MODELS = f"""
{_NOW}
SELECT (SELECT snap FROM now)::text, txid_current_if_assigned(), {_LOST}, page.phase,
       {_COLUMNS}
  FROM (SELECT 1) AS one
  LEFT JOIN (SELECT k.* FROM ({_keys("")}) k
              ORDER BY k.phase, k.txid, k.id LIMIT %(limit)s) page ON true
  LEFT JOIN update_webhook e ON e.id = page.id
 ORDER BY page.phase, page.txid, page.id
"""

_SOME_MODELS = f"""
{_NOW}
SELECT (SELECT snap FROM now)::text, txid_current_if_assigned(), {_LOST}, page.phase,
       {_COLUMNS}
  FROM (SELECT 1) AS one
  LEFT JOIN (SELECT k.* FROM unnest(%(models)s::varchar[]) AS wanted(model)
              CROSS JOIN LATERAL ({_keys("AND x.model = wanted.model")}) k
              ORDER BY k.phase, k.txid, k.id LIMIT %(limit)s) page ON true
  LEFT JOIN update_webhook e ON e.id = page.id
 ORDER BY page.phase, page.txid, page.id
"""


@dataclass(frozen=True)
class Page:
    """Events after a position, at snapshot `now`; `in_top` tells, per
    event, whether it belongs to the position's unfinished batch."""

    now: Snapshot
    events: list[Event]
    in_top: list[bool]
    lost: str | None = None  # a model of which events after the position were deleted


async def snapshot(conn: Conn) -> Snapshot:
    cur = await conn.execute("SELECT txid_current_snapshot()::text, txid_current_if_assigned()")
    row = await cur.fetchone()
    assert row is not None
    return _snapshot(row[0], row[1])


def _snapshot(text: object, own_txid: object) -> Snapshot:
    return Snapshot.parse(cast(str, text)).as_others_see_it(cast("int | None", own_txid))


def page_params(
    position: Position,
    models: tuple[str, ...] | None,
    limit: int,
    now: Snapshot | None = None,
    purge_floor: Cursor | None = None,
) -> dict[str, object]:
    """The parameters of the events query (_ALL_MODELS / _SOME_MODELS). The
    purge check looks after `purge_floor` (default: the position's low-water
    cursor); never for a device at the start, which has missed nothing."""
    floor = purge_floor if purge_floor is not None else position.low_water
    return {
        "now": now.text() if now is not None else None,
        "base_xmax": position.base.xmax,
        "base_xip": list(position.base.xip),
        "top_xmax": position.top.xmax,
        "top_xip": list(position.top.xip),
        "after_txid": position.after.txid,
        "after_id": position.after.event_id,
        "limit": limit,
        "models": list(models or ()),
        "all": models is None,
        "check_purge": position != START,
        "floor_txid": floor.txid,
        "floor_id": floor.event_id,
    }


async def page_after(
    conn: Conn,
    position: Position,
    models: tuple[str, ...] | None,
    limit: int,
    now: Snapshot | None = None,
    purge_floor: Cursor | None = None,
) -> Page:
    """Up to `limit` events after `position`, of `models` (None = all), at
    snapshot `now` (None: the query's own); or, in `lost`, a model of which
    events the device had not received were deleted."""
    params = page_params(position, models, limit, now, purge_floor)
    cur = await conn.execute(_ALL_MODELS if models is None else _SOME_MODELS, params)
    rows = await cur.fetchall()
    now = _snapshot(rows[0][0], rows[0][1])
    if rows[0][2] is not None:
        return Page(now, [], [], lost=cast(str, rows[0][2]))
    found = [row for row in rows if row[3] is not None]
    return Page(now, [event_of(row[4:]) for row in found], [row[3] == 1 for row in found])


async def head(conn: Conn) -> Position:
    """The head of the stream: every transaction committed now, and after the
    last event or deleted one below the oldest still running (so that the
    purge check finds nothing lost behind a device that reloaded its data)."""
    cur = await conn.execute(
        """
        WITH now AS (SELECT txid_current_snapshot() AS snap)
        SELECT (SELECT snap FROM now)::text, txid_current_if_assigned(), final.txid, final.id
          FROM (SELECT 1) AS one
          LEFT JOIN (
            SELECT txid, id FROM (
                (SELECT txid, id FROM update_webhook
                  WHERE txid < txid_snapshot_xmin((SELECT snap FROM now))
                  ORDER BY txid DESC, id DESC LIMIT 1)
                UNION ALL
                SELECT txid, event_id FROM update_webhook_purge
            ) AS candidates
            ORDER BY txid DESC, id DESC LIMIT 1) AS final ON true
        """
    )
    row = await cur.fetchone()
    assert row is not None
    now = _snapshot(row[0], row[1])
    after = Cursor(cast(int, row[2]), cast(int, row[3])) if row[2] is not None else Cursor(0, 0)
    return Position(now, now, after)
