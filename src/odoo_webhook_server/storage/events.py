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

import orjson
from psycopg import AsyncConnection

from ..sync.cursor import Cursor
from ..sync.events import Event
from ..sync.position import START, Position, Snapshot

__all__ = [
    "EVENT_COLUMNS",
    "PAGES_SQL",
    "Page",
    "PageWanted",
    "event_of",
    "head",
    "page_after",
    "pages_after",
    "pages_params",
    "snapshot",
]

Conn = AsyncConnection[tuple[object, ...]]

EVENT_COLUMNS = 'id, txid, model, record_id, event, "timestamp", user_id, changed_fields'
_COLUMNS = ", ".join(f"e.{column}" for column in EVENT_COLUMNS.split(", "))


def event_of(row: Sequence[Any]) -> Event:
    """An Event from the columns EVENT_COLUMNS, in that order (plain
    positional: a pull builds hundreds of them)."""
    event_id, txid, model, record_id, kind, timestamp, user_id, fields = row
    names = fields.split(",") if fields else ()
    if "" in names:  # "a,,b" or a trailing comma: the empty names dropped
        names = [name for name in names if name]
    return Event(event_id, txid, model, record_id, kind, timestamp, user_id, tuple(names))


def _keys(model_filter: str) -> str:
    """The (phase, txid, id) of group g's next events after its position
    (base, top, after) at snapshot `now`: phase 1 is the rest of the batch
    visible in `top`, phase 2 what committed since `top`. Transactions that
    were in progress at a snapshot (its xip) are looked up one by one, the
    others are a range above its xmax; that range of phase 1 is empty for a
    finished position (base = top), which `g.base_xmax < g.top_xmax`, a
    one-time filter, skips without reading the index."""
    return f"""
    (SELECT 1 AS phase, x.txid, x.id
       FROM unnest(g.base_xip) AS running(txid)
      CROSS JOIN LATERAL (
            SELECT x.txid, x.id FROM update_webhook x
             WHERE x.txid = running.txid {model_filter}
               AND (x.txid, x.id) > (g.after_txid, g.after_id)
             ORDER BY x.txid, x.id LIMIT g.lim) x
      WHERE running.txid < g.top_xmax AND running.txid <> ALL(g.top_xip))
    UNION ALL
    (SELECT 1, x.txid, x.id FROM update_webhook x
      WHERE g.base_xmax < g.top_xmax
        AND x.txid >= g.base_xmax AND x.txid < g.top_xmax {model_filter}
        AND (x.txid, x.id) > (g.after_txid, g.after_id)
        AND x.txid <> ALL(g.top_xip)
      ORDER BY x.txid, x.id LIMIT g.lim)
    UNION ALL
    (SELECT 2, x.txid, x.id
       FROM unnest(g.top_xip) AS running(txid)
      CROSS JOIN LATERAL (
            SELECT x.txid, x.id FROM update_webhook x
             WHERE x.txid = running.txid {model_filter}
             ORDER BY x.txid, x.id LIMIT g.lim) x
      WHERE txid_visible_in_snapshot(running.txid, (SELECT snap FROM now)))
    UNION ALL
    (SELECT 2, x.txid, x.id FROM update_webhook x
      WHERE x.txid >= g.top_xmax {model_filter}
        AND x.txid < txid_snapshot_xmax((SELECT snap FROM now))
        AND txid_visible_in_snapshot(x.txid, (SELECT snap FROM now))
      ORDER BY x.txid, x.id LIMIT g.lim)
    """


# One statement reads the pages of several groups of pulls (a position, a
# subscription): each group is a row of the JSON parameter, its page a
# LATERAL subquery, so that a batch of pulls costs one round trip however
# many subscriptions it holds. A group of all models reads the (txid, id)
# index; one of some models reads (model, txid, id) once per model (the
# branch of the other kind finds nothing at once: a one-time filter, or an
# empty list of models).
#
# The snapshot is the statement's own: the rows it reads are exactly those of
# the transactions it shows as committed.
#
# Each event's columns are one lookup by id (LATERAL ... LIMIT 1): a plain
# join, planned generically while the table was small (storage.pool), read the
# whole table once per group.
#
# `lost`: a model of which events after the group's low-water cursor were
# deleted (archiving, v1 cleanup): its devices must resync. Checked in the
# same statement as the page, which it overrides.
PAGES_SQL = f"""
WITH now AS (SELECT txid_current_snapshot() AS snap)
SELECT g.n, (SELECT snap FROM now)::text, txid_current_if_assigned(), lost.model, page.phase,
       {_COLUMNS}
  FROM json_to_recordset(%(groups)s::json)
       AS g(n int4, base_xmax int8, base_xip int8[], top_xmax int8, top_xip int8[],
            after_txid int8, after_id int4, lim int4, models varchar[], all_models bool,
            check_purge bool, floor_txid int8, floor_id int4)
  LEFT JOIN LATERAL (
        SELECT p.model FROM update_webhook_purge p
         WHERE g.check_purge AND (p.txid, p.event_id) > (g.floor_txid, g.floor_id)
           AND (g.all_models OR p.model = ANY(g.models))
         ORDER BY p.model LIMIT 1) lost ON true
  LEFT JOIN LATERAL (
        SELECT k.* FROM (
            SELECT of_all.* FROM ({_keys("")}) of_all WHERE g.all_models
            UNION ALL
            SELECT of_some.* FROM unnest(g.models) AS wanted(model)
             CROSS JOIN LATERAL ({_keys("AND x.model = wanted.model")}) of_some
        ) k
        ORDER BY k.phase, k.txid, k.id LIMIT g.lim) page ON true
  LEFT JOIN LATERAL (
        SELECT {_COLUMNS} FROM update_webhook e WHERE e.id = page.id LIMIT 1) e ON true
 ORDER BY g.n, page.phase, page.txid, page.id
"""


@dataclass(frozen=True)
class PageWanted:
    """One group's page: up to `limit` events after `position`, of `models`
    (None = all); the purge check looks after `purge_floor` (default: the
    position's low-water cursor), never for a device at the start, which
    has missed nothing."""

    position: Position
    models: tuple[str, ...] | None
    limit: int
    purge_floor: Cursor | None = None

    def row(self, n: int) -> dict[str, object]:
        position = self.position
        floor = self.purge_floor if self.purge_floor is not None else position.low_water
        return {
            "n": n,
            "base_xmax": position.base.xmax,
            "base_xip": position.base.xip,
            "top_xmax": position.top.xmax,
            "top_xip": position.top.xip,
            "after_txid": position.after.txid,
            "after_id": position.after.event_id,
            "lim": self.limit,
            "models": self.models or (),
            "all_models": self.models is None,
            "check_purge": position != START,
            "floor_txid": floor.txid,
            "floor_id": floor.event_id,
        }


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


def pages_params(wanted: Sequence[PageWanted]) -> dict[str, object]:
    """The parameters of PAGES_SQL."""
    return {"groups": orjson.dumps([page.row(n) for n, page in enumerate(wanted)]).decode()}


async def pages_after(conn: Conn, wanted: Sequence[PageWanted]) -> list[Page]:
    """The page of each group, in one statement, at one snapshot; a page's
    `lost` names a model of which events the group's devices had not
    received were deleted."""
    if not wanted:
        return []
    cur = await conn.execute(PAGES_SQL, pages_params(wanted))
    rows: list[list[Sequence[Any]]] = [[] for _ in wanted]
    for row in await cur.fetchall():
        rows[cast(int, row[0])].append(row)  # at least one row per group
    at = _snapshot(rows[0][0][1], rows[0][0][2])  # the statement's, on every row
    pages = []
    for group in rows:
        first = group[0]
        if first[3] is not None:
            pages.append(Page(at, [], [], lost=cast(str, first[3])))
        elif first[4] is None:  # LEFT JOIN: one row without an event, the empty page
            pages.append(Page(at, [], []))
        else:
            events = [event_of(row[5:]) for row in group]
            pages.append(Page(at, events, [row[4] == 1 for row in group]))
    return pages


async def page_after(
    conn: Conn, position: Position, models: tuple[str, ...] | None, limit: int
) -> Page:
    """pages_after of one group."""
    return (await pages_after(conn, [PageWanted(position, models, limit)]))[0]


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
