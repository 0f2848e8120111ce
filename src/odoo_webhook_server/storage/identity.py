"""Which database this is, for binding and signing sync tokens."""

from __future__ import annotations

import hashlib

from psycopg import AsyncConnection

from ..sync.token import DatabaseIdentity

__all__ = ["MissingDatabaseIdentity", "read_identity"]


class MissingDatabaseIdentity(RuntimeError):
    pass


async def read_identity(conn: AsyncConnection[tuple[object, ...]]) -> DatabaseIdentity:
    """database.uuid and database.secret from Odoo's parameters; the epoch is
    derived from the cluster's system identifier and the database's oid, so
    it changes when the database is restored into another cluster or copied
    with CREATE DATABASE ... TEMPLATE, where transaction ids may go backwards."""
    cur = await conn.execute(
        """
        SELECT (SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'),
               (SELECT value FROM ir_config_parameter WHERE key = 'database.secret'),
               (SELECT system_identifier FROM pg_control_system()),
               (SELECT oid FROM pg_database WHERE datname = current_database())
        """
    )
    row = await cur.fetchone()
    assert row is not None
    db_uuid, secret, system_identifier, db_oid = row
    if not db_uuid or not secret:
        raise MissingDatabaseIdentity(
            "ir_config_parameter has no database.uuid / database.secret: "
            "is DATABASE_URL an Odoo database (or one made by `odoo-webhook-server init-db`)?"
        )
    epoch = hashlib.sha256(f"{system_identifier}:{db_oid}".encode()).hexdigest()[:12]
    return DatabaseIdentity(uuid=str(db_uuid), epoch=epoch, secret=str(secret).encode())
