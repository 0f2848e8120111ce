"""Reading the app-type mapping (tables webhook_app_type, webhook_app_type_model)."""

from __future__ import annotations

from collections.abc import Sequence

from odoo_webhook_core.app_types import ALL_MODELS, AppType
from psycopg import AsyncConnection

__all__ = ["active_app_type_codes", "app_type_of", "app_type_sql"]

Conn = AsyncConnection[tuple[object, ...]]


def app_type_sql(code: str) -> str:
    """The active app type whose code is the SQL expression `code`: no row,
    or one of (name, all_models, models, group ids). Pulls read it in the
    statement that reads the devices' states (storage.sync_state)."""
    return f"""
        SELECT t.name, t.all_models,
               COALESCE(array_agg(m.model ORDER BY m.model)
                        FILTER (WHERE m.model IS NOT NULL), '{{}}'),
               ARRAY(SELECT g.group_id FROM webhook_app_type_group_rel g
                      WHERE g.app_type_id = t.id ORDER BY g.group_id)
          FROM webhook_app_type t
          LEFT JOIN webhook_app_type_model m ON m.app_type_id = t.id
         WHERE t.code = {code} AND t.active
         GROUP BY t.id
"""


def app_type_of(code: str, row: Sequence[object]) -> AppType | None:
    """The AppType of app_type_sql's columns; None when they are NULL (no such
    active app type, read through an outer join)."""
    name, all_models, models, group_ids = row
    if name is None:
        return None
    assert isinstance(models, list) and isinstance(group_ids, list)
    return AppType(
        str(code),
        str(name),
        (ALL_MODELS,) if all_models else tuple(models),
        tuple(int(g) for g in group_ids),
    )


async def active_app_type_codes(conn: Conn) -> list[str]:
    cur = await conn.execute("SELECT code FROM webhook_app_type WHERE active ORDER BY code")
    return [str(code) for (code,) in await cur.fetchall()]
