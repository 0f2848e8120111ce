"""What the server reads of Odoo's own users, groups and access rights."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from odoo_webhook_core.odoo_access import READABLE_MODELS_SQL

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    Conn = AsyncConnection[tuple[object, ...]]

__all__ = [
    "UserAccess",
    "UserAccessCache",
    "is_webhook_manager",
    "read_user_access",
    "tracked_model_names",
]


async def _odoo_tables_exist(conn: Conn, *tables: str) -> bool:
    cur = await conn.execute(
        "SELECT bool_and(to_regclass(t) IS NOT NULL) FROM unnest(%s::text[]) AS t", (list(tables),)
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def is_webhook_manager(conn: Conn, uid: int) -> bool:
    """Whether the user has the addon's "Webhook Manager" group (false in a
    database made by init-db, which has no Odoo users)."""
    if not await _odoo_tables_exist(conn, "res_groups_users_rel", "ir_model_data"):
        return False
    cur = await conn.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM res_groups_users_rel r
              JOIN ir_model_data d ON d.model = 'res.groups' AND d.res_id = r.gid
             WHERE r.uid = %s AND d.module = 'custom_model_webhook'
               AND d.name = 'group_webhook_manager')
        """,
        (uid,),
    )
    row = await cur.fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class UserAccess:
    """A user's groups and the models Odoo's access rights let them read."""

    group_ids: frozenset[int]
    readable_models: frozenset[str]
    installed_models: frozenset[str]

    def not_readable(self, models: tuple[str, ...]) -> tuple[str, ...]:
        """The installed models of `models` the user may not read (one not
        installed has no records to read, nor events to leave out)."""
        return tuple(
            m for m in models if m in self.installed_models and m not in self.readable_models
        )


async def read_user_access(conn: Conn, uid: int) -> UserAccess | None:
    """The user's groups and readable models, read from Odoo's tables; None
    when the database has no Odoo (made by init-db: development, demos,
    benchmarks), where neither groups nor access rights exist to apply."""
    if not await _odoo_tables_exist(conn, "res_groups_users_rel", "ir_model_access", "ir_model"):
        return None
    cur = await conn.execute("SELECT gid FROM res_groups_users_rel WHERE uid = %s", (uid,))
    groups = [int(str(gid)) for (gid,) in await cur.fetchall()]
    cur = await conn.execute(READABLE_MODELS_SQL, {"groups": groups})
    models = frozenset(str(model) for (model,) in await cur.fetchall())
    cur = await conn.execute("SELECT model FROM ir_model")
    installed = frozenset(str(model) for (model,) in await cur.fetchall())
    return UserAccess(frozenset(groups), models, installed)


class UserAccessCache:
    """read_user_access, kept `ttl` seconds per user: a change of groups or
    access rights in Odoo applies within that time (SESSION_CACHE_SECONDS)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self._ttl = ttl
        self._entries: dict[int, tuple[float, UserAccess | None]] = {}

    def cached(self, uid: int) -> tuple[bool, UserAccess | None]:
        """(True, the access) when known and fresh; (False, None) when `get`
        must read it."""
        entry = self._entries.get(uid)
        if entry is not None and time.monotonic() - entry[0] < self._ttl:
            return True, entry[1]
        return False, None

    async def get(self, conn: Conn, uid: int) -> UserAccess | None:
        found, access = self.cached(uid)
        if found:
            return access
        now = time.monotonic()
        access = await read_user_access(conn, uid)
        if len(self._entries) > 10_000:
            self._entries = {u: e for u, e in self._entries.items() if now - e[0] < self._ttl}
        self._entries[uid] = (now, access)
        return access


async def tracked_model_names(conn: Conn) -> tuple[str, ...]:
    """The models the addon captures (empty without the addon's table)."""
    if not await _odoo_tables_exist(conn, "webhook_tracked_model"):
        return ()
    cur = await conn.execute("SELECT DISTINCT model FROM webhook_tracked_model WHERE active")
    return tuple(sorted(str(model) for (model,) in await cur.fetchall()))
