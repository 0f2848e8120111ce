"""What the server reads of Odoo's own users and groups."""

from __future__ import annotations

from psycopg import AsyncConnection

__all__ = ["is_webhook_manager"]

Conn = AsyncConnection[tuple[object, ...]]


async def is_webhook_manager(conn: Conn, uid: int) -> bool:
    """Whether the user has the addon's "Webhook Manager" group (false in a
    database made by init-db, which has no Odoo users)."""
    cur = await conn.execute(
        "SELECT to_regclass('res_groups_users_rel') IS NOT NULL"
        " AND to_regclass('ir_model_data') IS NOT NULL"
    )
    row = await cur.fetchone()
    if not row or not row[0]:
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
