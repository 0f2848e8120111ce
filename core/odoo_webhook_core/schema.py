"""The schema: tables.sql (what Odoo's ORM creates for the addon),
extras_<table>.sql (what the ORM cannot express; the addon runs them too)
and the capture functions (capture.sql, see capture.py)."""

from __future__ import annotations

from importlib import resources

from .app_types import DEFAULT_APP_TYPES

__all__ = [
    "EXTRA_TABLES",
    "extras_sql",
    "seed_app_types_sql",
    "settle_update_webhook_sql",
    "tables_sql",
]


def _read(name: str) -> str:
    return resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8")


def tables_sql() -> str:
    return _read("tables.sql")


EXTRA_TABLES = ("update_webhook", "user_sync_state")


def extras_sql(table: str) -> str:
    """Idempotent DDL for `table` that Odoo's ORM cannot express."""
    if table not in EXTRA_TABLES:
        raise ValueError(f"no extras for table {table!r}")
    if table == "update_webhook":
        return settle_update_webhook_sql() + _read("extras_update_webhook.sql")
    return _read(f"extras_{table}.sql")


def settle_update_webhook_sql() -> str:
    """Run before DDL on update_webhook in a transaction that may have
    written events (module install or upgrade): fires the pending deferred
    notification, which would make PostgreSQL refuse the DDL."""
    return _read("settle_update_webhook.sql")


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
