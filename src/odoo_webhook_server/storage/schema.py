"""Creating the schema in a database without Odoo (`init-db`: development,
demos, benchmarks). The schema itself is the core package's
(odoo_webhook_core.schema and its sql/), shared with the addon."""

from __future__ import annotations

import secrets
import uuid

from odoo_webhook_core.capture import capture_functions_sql
from odoo_webhook_core.schema import EXTRA_TABLES, extras_sql, seed_app_types_sql, tables_sql

__all__ = ["EXTRA_TABLES", "extras_sql", "init_db", "seed_app_types_sql", "tables_sql"]


def init_db(conninfo: str) -> None:
    """Create the schema in a database (idempotent) and seed the defaults."""
    import psycopg  # here, not at the top: the addon imports this module inside Odoo

    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute(tables_sql())
        for table in EXTRA_TABLES:
            conn.execute(extras_sql(table))
        conn.execute(capture_functions_sql())
        for statement, params in seed_app_types_sql():
            conn.execute(statement, params)
        for key, value in (
            ("database.uuid", str(uuid.uuid1())),
            ("database.secret", str(uuid.UUID(bytes=secrets.token_bytes(16)))),
        ):
            conn.execute(
                "INSERT INTO ir_config_parameter (key, value, create_date, write_date)"
                " VALUES (%s, %s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')"
                " ON CONFLICT (key) DO NOTHING",
                (key, value),
            )
