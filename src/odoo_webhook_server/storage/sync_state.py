"""Reading and writing device states (table user_sync_state)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import orjson
from odoo_webhook_core.app_types import AppType
from psycopg import AsyncConnection

from ..sync.cursor import Cursor
from ..sync.position import Position
from ..sync.state import DeviceState
from .app_types import app_type_of, app_type_sql

__all__ = [
    "PullRead",
    "PullRecord",
    "create_state",
    "find_state",
    "read_for_pull",
    "read_for_pulls",
    "record_pull",
    "record_pulls",
    "reset_state",
]

Conn = AsyncConnection[tuple[object, ...]]

log = logging.getLogger(__name__)

_COLUMNS = """id, user_id, device_id, app_type, models_filter, last_event_id, last_sync_time,
              sync_count, is_active, ack_txid, issued_txid, issued_event_id,
              ack_position, issued_position"""


# The row's version, "xmin@ctid": PostgreSQL gives every update of a row a new
# xmin and a new place, so a pull that read the state without locking it
# writes only if nothing else wrote it meanwhile (record_pull), and finds it by
# its place, not through an index: while a long transaction keeps the old
# versions of the rows, each index entry leads to all of them.
def _version(row: str) -> str:
    """The version of the row `row` (a table name or alias), as SQL."""
    return f"{row}.xmin::text || '@' || {row}.ctid::text"


_VERSIONED = f"{_COLUMNS}, {_version('user_sync_state')}"


def _position(text: object, legacy: Cursor) -> Position:
    """The stored position; a row without one (written before commit-order
    delivery, or moved by the addon to an event) has only its linear cursor."""
    if text:
        try:
            return Position.parse(cast(str, text))
        except ValueError:
            # Never seen; should a row be damaged by hand, its linear cursor
            # is behind the position: some events come again, none is lost.
            log.warning("unreadable sync position %r; using the linear cursor", text)
    return Position.of_cursor(legacy)


def _state(row: tuple[object, ...]) -> DeviceState:
    models_filter = cast("str | None", row[4])
    acknowledged = _position(row[12], Cursor(cast(int, row[9]), cast("int | None", row[5]) or 0))
    return DeviceState(
        id=cast(int, row[0]),
        user_id=cast(int, row[1]),
        device_id=cast(str, row[2]),
        app_type=cast(str, row[3]),
        models_filter=tuple(models_filter.split(",")) if models_filter else None,
        # The last event it acknowledged; the column holds the low-water mark,
        # which is behind it while an older transaction was running.
        last_event_id=acknowledged.after.event_id,
        last_sync_time=cast("datetime | None", row[6]),
        sync_count=cast("int | None", row[7]) or 0,
        is_active=bool(row[8]),
        acknowledged=acknowledged,
        issued=_position(row[13], Cursor(cast(int, row[10]), cast(int, row[11]))),
    )


def _join(models: tuple[str, ...] | None) -> str | None:
    return ",".join(models) if models else None


def _json_rows(fields: tuple[str, ...], rows: Iterable[Sequence[object]]) -> str:
    """The rows of a batch statement as one JSON parameter, read back with
    json_to_recordset: one value to send instead of an array per column,
    which psycopg dumps at about 3 µs each (a tenth of a pull's own CPU)."""
    return orjson.dumps([dict(zip(fields, row, strict=True)) for row in rows]).decode()


_RECORD_FIELDS = (
    "id",
    "version",
    "app_type",
    "models_filter",
    "ack",
    "ack_txid",
    "ack_event_id",
    "issued",
    "issued_txid",
    "issued_event_id",
)


async def find_state(conn: Conn, user_id: int, device_id: str) -> DeviceState | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM user_sync_state WHERE user_id = %s AND device_id = %s",
        (user_id, device_id),
    )
    row = await cur.fetchone()
    return _state(row) if row else None


@dataclass(frozen=True)
class PullRead:
    """What a pull reads first, in one statement: the app type (None: no
    active one of that code), the device's state (None: its first pull) and
    the state's row version."""

    app_type: AppType | None
    state: DeviceState | None
    version: str | None


async def read_for_pull(
    conn: Conn, user_id: int, device_id: str, app_type: str, *, lock: bool = False
) -> PullRead:
    """The app type and the device's state; with `lock`, the state row is
    locked until the end of the transaction (pulls of one device then wait
    for each other)."""
    return (await read_for_pulls(conn, [(user_id, device_id, app_type)], lock=lock))[0]


async def read_for_pulls(
    conn: Conn, pulls: list[tuple[int, str, str]], *, lock: bool = False
) -> list[PullRead]:
    """read_for_pull of several pulls, (user id, device id, app type) each,
    in one statement; in their order.

    The pool's statements keep generic plans (storage.pool), which a server
    that starts before its devices plans while this table is empty: as a
    join, PostgreSQL then scans the table instead of its index, on every
    execution until the table is analyzed. LATERAL ... LIMIT 1 makes it one
    index lookup per pull whatever the statistics (and record_pulls finds
    each row at the place its version names)."""
    cur = await conn.execute(
        f"""
        SELECT t.*, s.*
          FROM json_to_recordset(%(pulls)s::json)
               AS wanted(n int4, user_id int4, device_id varchar, code varchar)
          LEFT JOIN LATERAL ({app_type_sql("wanted.code")}) AS t ON true
          LEFT JOIN LATERAL (
                SELECT {_VERSIONED} FROM user_sync_state
                 WHERE user_id = wanted.user_id AND device_id = wanted.device_id
                 LIMIT 1 {"FOR UPDATE" if lock else ""}) AS s ON true
         ORDER BY wanted.n
        """,
        {
            "pulls": _json_rows(
                ("n", "user_id", "device_id", "code"),
                [(n, *pull) for n, pull in enumerate(pulls)],
            )
        },
    )
    return [
        PullRead(
            app_type_of(code, row[:4]),
            _state(row[4:-1]) if row[4] is not None else None,
            cast(str, row[-1]) if row[4] is not None else None,
        )
        for (_, _, code), row in zip(pulls, await cur.fetchall(), strict=True)
    ]


async def create_state(
    conn: Conn,
    user_id: int,
    device_id: str,
    app_type: str,
    models_filter: tuple[str, ...] | None,
    *,
    lock: bool = False,
) -> tuple[DeviceState, str] | None:
    """The device's new state and its version; the existing one when another
    pull of the device created it meanwhile (None should that one be deleted
    meanwhile too), locked with `lock` as read_for_pull's."""
    cur = await conn.execute(
        f"""
        INSERT INTO user_sync_state
               (user_id, device_id, app_type, models_filter, last_event_id, sync_count,
                is_active, create_uid, create_date, write_uid, write_date)
        VALUES (%(user_id)s, %(device_id)s, %(app_type)s, %(models_filter)s, 0, 0, true,
                %(user_id)s, now() AT TIME ZONE 'UTC', %(user_id)s,
                now() AT TIME ZONE 'UTC')
        ON CONFLICT (user_id, device_id) DO NOTHING
        RETURNING {_VERSIONED}
        """,
        {
            "user_id": user_id,
            "device_id": device_id,
            "app_type": app_type,
            "models_filter": _join(models_filter),
        },
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            f"""SELECT {_VERSIONED} FROM user_sync_state
                 WHERE user_id = %s AND device_id = %s {"FOR UPDATE" if lock else ""}""",
            (user_id, device_id),
        )
        row = await cur.fetchone()
    return (_state(row[:-1]), cast(str, row[-1])) if row is not None else None


@dataclass(frozen=True)
class PullRecord:
    """What a pull writes to its state, if the row is still at `version`."""

    state_id: int
    version: str
    app_type: str
    models_filter: tuple[str, ...] | None
    acknowledged: Position
    issued: Position


async def record_pull(conn: Conn, pull: PullRecord, now: datetime) -> str | None:
    """The positions, and their linear low-water cursors, which archiving and
    statistics compare with events (odoo_webhook_core.archiving); the
    state's new version. None, writing nothing, when the state is no longer
    at its version (something else wrote it since it was read)."""
    return (await record_pulls(conn, [pull], now)).get(pull.state_id)


async def record_pulls(conn: Conn, pulls: list[PullRecord], now: datetime) -> dict[int, str]:
    """record_pull of several pulls (of different devices), in one
    statement; the new version of each state written, by state id."""
    if not pulls:
        return {}
    rows = []
    for pull in pulls:
        ack, out = pull.acknowledged.low_water, pull.issued.low_water
        rows.append(
            (
                pull.state_id,
                pull.version,
                pull.app_type,
                _join(pull.models_filter),
                pull.acknowledged.text(),
                ack.txid,
                ack.event_id,
                pull.issued.text(),
                out.txid,
                out.event_id,
            )
        )
    cur = await conn.execute(
        f"""
        UPDATE user_sync_state s
           SET app_type = v.app_type, models_filter = v.models_filter,
               ack_position = v.ack, ack_txid = v.ack_txid, last_event_id = v.ack_event_id,
               issued_position = v.issued, issued_txid = v.issued_txid,
               issued_event_id = v.issued_event_id,
               last_sync_time = %s, sync_count = COALESCE(s.sync_count, 0) + 1,
               is_active = true, write_uid = s.user_id, write_date = %s
          FROM json_to_recordset(%s::json)
               AS v(id int4, version text, app_type varchar, models_filter varchar,
                    ack varchar, ack_txid int8, ack_event_id int4,
                    issued varchar, issued_txid int8, issued_event_id int4)
         CROSS JOIN LATERAL (
               SELECT x.ctid AS found FROM user_sync_state x
                WHERE x.ctid = split_part(v.version, '@', 2)::tid AND x.id = v.id
                LIMIT 1) AS row
         WHERE s.ctid = row.found AND s.xmin = split_part(v.version, '@', 1)::xid
        RETURNING s.id, {_version("s")}
        """,
        (now, now, _json_rows(_RECORD_FIELDS, rows)),
    )
    return {cast(int, state_id): cast(str, version) for state_id, version in await cur.fetchall()}


async def reset_state(
    conn: Conn, user_id: int, device_id: str, position: Position
) -> DeviceState | None:
    """Move the device to `position`, acknowledged; history (sync_count) is kept."""
    cur = await conn.execute(
        f"""
        UPDATE user_sync_state
           SET ack_txid = %(txid)s, last_event_id = %(event_id)s,
               issued_txid = %(txid)s, issued_event_id = %(event_id)s,
               ack_position = %(position)s, issued_position = %(position)s,
               is_active = true, write_date = now() AT TIME ZONE 'UTC'
         WHERE user_id = %(user_id)s AND device_id = %(device_id)s
        RETURNING {_COLUMNS}
        """,
        {
            "txid": position.low_water.txid,
            "event_id": position.low_water.event_id,
            "position": position.text(),
            "user_id": user_id,
            "device_id": device_id,
        },
    )
    row = await cur.fetchone()
    return _state(row) if row else None
