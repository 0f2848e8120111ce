"""Who may use the administrative endpoints (v1 cleanup, v2 statistics)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from psycopg import AsyncConnection

from ...auth.odoo_session import OdooSession
from ...storage.odoo_users import is_webhook_manager
from ..deps import CurrentSession, Database, Forbidden

__all__ = ["AdminSession", "ensure_admin"]


async def ensure_admin(session: OdooSession, conn: AsyncConnection[tuple[object, ...]]) -> None:
    """Odoo administrators and webhook managers pass; anyone else is refused (403)."""
    if session.is_admin or await is_webhook_manager(conn, session.uid):
        return
    raise Forbidden(f"user {session.uid} is not an administrator or webhook manager")


async def _admin_session(session: CurrentSession, conn: Database) -> OdooSession:
    await ensure_admin(session, conn)
    return session


AdminSession = Annotated[OdooSession, Depends(_admin_session)]
