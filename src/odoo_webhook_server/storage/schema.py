"""The schema: tables.sql (what Odoo's ORM creates for the addon),
extras_<table>.sql (what the ORM cannot express; the addon runs them too)
and the capture functions (capture.sql, see capture.py)."""

from __future__ import annotations

import secrets
import uuid
from importlib import resources

from ..sync.app_types import DEFAULT_APP_TYPES
from .capture import capture_functions_sql

__all__ = ["EXTRA_TABLES", "extras_sql", "init_db", "seed_app_types_sql", "tables_sql"]


def _read(name: str) -> str:
    return resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8")


def tables_sql() -> str:
    return _read("tables.sql")


EXTRA_TABLES = ("update_webhook", "user_sync_state")


def extras_sql(table: str) -> str:
    """Idempotent DDL for `table` that Odoo's ORM cannot express."""
    if table not in EXTRA_TABLES:
        raise ValueError(f"no extras for table {table!r}")
    return _read(f"extras_{table}.sql")


def seed_app_types_sql() -> list[tuple[str, tuple[object, ...]]]:
    """Statements (with DB-API %s parameters) that add the default app types
    when missing; shared with the addon's install hook (psycopg2 speaks the
    same parameter style)."""
    statements: list[tuple[str, tuple[object, ...]]] = []
    for app_type in DEFAULT_APP_TYPES:
        statements.append(
            (
                "INSERT INTO webhook_app_type (code, name, all_models, active, create_date,"
                " write_date) VALUES (%s, %s, %s, true, now() AT TIME ZONE 'UTC',"
                " now() AT TIME ZONE 'UTC') ON CONFLICT (code) DO NOTHING",
                (app_type.code, app_type.name, app_type.all_models),
            )
        )
        for model in app_type.models if not app_type.all_models else ():
            statements.append(
                (
                    "INSERT INTO webhook_app_type_model (app_type_id, model, create_date,"
                    " write_date) SELECT id, %s, now() AT TIME ZONE 'UTC',"
                    " now() AT TIME ZONE 'UTC' FROM webhook_app_type WHERE code = %s"
                    " ON CONFLICT (app_type_id, model) DO NOTHING",
                    (model, app_type.code),
                )
            )
    return statements


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
