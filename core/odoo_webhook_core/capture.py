"""Capture: how changes of tracked tables become events.

The rule is in the database (sql/capture.sql): statement-level AFTER
triggers with transition tables on each tracked model's table write one
INSERT ... SELECT into update_webhook per statement, in the statement's own
transaction; update_webhook's own deferred trigger (extras_update_webhook.sql)
sends one NOTIFY on `NOTIFY_CHANNEL` per transaction at commit, naming the
models it changed. This module
says which triggers a set of tracked tables needs (`capture_triggers`) and
puts exactly those in place (`sync_capture_triggers`), on any DB-API cursor:
Odoo's psycopg2 cursor in the addon, psycopg 3 in the server's tools and
tests. Nothing here imports a driver.

`insert_events_sql` writes events directly, as rows: the demo, the tests and
the benchmarks use it to produce a stream without business tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Protocol

__all__ = [
    "AUTHOR_SETTING",
    "NOTIFY_ALL_MODELS",
    "NOTIFY_CHANNEL",
    "TRIGGER_PREFIX",
    "CaptureTrigger",
    "CapturedChange",
    "InheritedParent",
    "TrackedTable",
    "capture_functions_sql",
    "capture_triggers",
    "drop_capture_sql",
    "insert_events_sql",
    "installed_capture_triggers",
    "set_author_sql",
    "sync_capture_triggers",
]

NOTIFY_CHANNEL = "custom_model_webhook_event"
# A notification's payload: the models, comma-separated, or this catch-all.
NOTIFY_ALL_MODELS = "*"

# The transaction-local setting naming the Odoo user behind the changes.
AUTHOR_SETTING = "custom_model_webhook.uid"

# Every trigger of ours starts with this; anything else is left alone.
TRIGGER_PREFIX = "custom_model_webhook_"

# Serialises trigger changes between Odoo workers starting at the same time.
_ADVISORY_LOCK = 0x0CA9_7E5E


class Cursor(Protocol):
    """What we need of a DB-API cursor (psycopg2 and psycopg 3 alike)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True)
class InheritedParent:
    """A parent table of a tracked model with ``_inherits``: its changes are
    changes of the child records that point at the changed rows."""

    table: str  # product_template
    link_column: str  # product_tmpl_id, in the child's table
    not_inherited: tuple[str, ...] = ()  # parent columns the child has its own field for


@dataclass(frozen=True)
class TrackedTable:
    model: str  # sale.order
    table: str  # sale_order
    parents: tuple[InheritedParent, ...] = ()


@dataclass(frozen=True)
class CaptureTrigger:
    table: str
    name: str
    operation: str  # INSERT | UPDATE | DELETE
    function: str
    args: tuple[str, ...]

    def create_sql(self) -> str:
        transition = {
            "INSERT": "REFERENCING NEW TABLE AS new_rows",
            "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "DELETE": "REFERENCING OLD TABLE AS old_rows",
        }[self.operation]
        args = ", ".join(_literal(arg) for arg in self.args)
        return (
            f"CREATE TRIGGER {_identifier(self.name)} AFTER {self.operation}"
            f" ON {_identifier(self.table)} {transition}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {self.function}({args})"
        )

    def drop_sql(self) -> str:
        return f"DROP TRIGGER IF EXISTS {_identifier(self.name)} ON {_identifier(self.table)}"


def capture_functions_sql() -> str:
    """Idempotent DDL of the capture functions (sql/capture.sql)."""
    return resources.files(__package__).joinpath("sql", "capture.sql").read_text(encoding="utf-8")


def set_author_sql(user_id: int) -> tuple[str, tuple[object, ...]]:
    """The statement that names the Odoo user of the current transaction."""
    return "SELECT set_config(%s, %s, true)", (AUTHOR_SETTING, str(user_id))


def capture_triggers(tracked: Iterable[TrackedTable]) -> list[CaptureTrigger]:
    """The triggers that capture every change of the `tracked` tables."""
    triggers: list[CaptureTrigger] = []
    for item in tracked:
        for operation in ("INSERT", "UPDATE", "DELETE"):
            triggers.append(
                CaptureTrigger(
                    item.table,
                    f"{TRIGGER_PREFIX}capture_{operation.lower()}",
                    operation,
                    "custom_model_webhook_capture",
                    (item.model,),
                )
            )
        for parent in item.parents:
            triggers.append(
                CaptureTrigger(
                    parent.table,
                    _bounded_name(f"{TRIGGER_PREFIX}inherited_{item.table}"),
                    "UPDATE",
                    "custom_model_webhook_capture_inherited",
                    (item.model, item.table, parent.link_column, *sorted(parent.not_inherited)),
                )
            )
    return triggers


_PREFIX_PATTERN = TRIGGER_PREFIX.replace("_", "\\_") + "%"
_INSTALLED_SQL = f"""
SELECT c.relname, t.tgname, t.tgtype, p.proname, t.tgargs
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_proc p ON p.oid = t.tgfoid
 WHERE NOT t.tgisinternal
   AND n.nspname = current_schema()
   AND t.tgname LIKE '{_PREFIX_PATTERN}'
"""

# pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h)
_TGTYPE_OPERATION = {4: "INSERT", 8: "DELETE", 16: "UPDATE"}


def installed_capture_triggers(cursor: Cursor) -> list[CaptureTrigger]:
    """Our triggers as the database has them."""
    cursor.execute(_INSTALLED_SQL)
    installed = []
    for table, name, tgtype, function, raw_args in cursor.fetchall():
        operation = next((op for bit, op in _TGTYPE_OPERATION.items() if tgtype & bit), "?")
        args = tuple(a.decode() for a in bytes(raw_args).split(b"\0")[:-1])
        installed.append(CaptureTrigger(table, name, operation, function, args))
    return installed


def sync_capture_triggers(cursor: Cursor, tracked: Iterable[TrackedTable]) -> bool:
    """Make our triggers exactly those `tracked` needs; True when it changed
    any. Cheap when nothing is to change (one catalog query); otherwise it
    takes a transaction-level advisory lock, so that workers starting
    together do not trip over each other, and the DDL commits with the
    caller's transaction."""
    wanted = set(capture_triggers(tracked))
    if set(installed_capture_triggers(cursor)) == wanted:
        return False
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK,))
    installed = set(installed_capture_triggers(cursor))
    for trigger in sorted(installed - wanted, key=_sort_key):
        cursor.execute(trigger.drop_sql())
    for trigger in sorted(wanted - installed, key=_sort_key):
        cursor.execute(trigger.drop_sql())  # same name, other arguments
        cursor.execute(trigger.create_sql())
    return True


def drop_capture_sql() -> str:
    """Removes every capture trigger and function (the addon's uninstall)."""
    return f"""
DO $$
DECLARE
    trg record;
BEGIN
    FOR trg IN {_INSTALLED_SQL} LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', trg.tgname, trg.relname);
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS custom_model_webhook_capture();
DROP FUNCTION IF EXISTS custom_model_webhook_capture_inherited();
DROP FUNCTION IF EXISTS custom_model_webhook_write_author(jsonb, jsonb);
DROP FUNCTION IF EXISTS custom_model_webhook_changed_columns(jsonb, jsonb, text[]);
DROP FUNCTION IF EXISTS custom_model_webhook_created_here(jsonb);
DROP FUNCTION IF EXISTS custom_model_webhook_author();
DO $$
BEGIN
    IF to_regclass('update_webhook') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS update_webhook_notify ON update_webhook;
    END IF;
END
$$;
DROP FUNCTION IF EXISTS custom_model_webhook_notify();
DROP FUNCTION IF EXISTS custom_model_webhook_first_event_of_transaction();
"""


def _sort_key(trigger: CaptureTrigger) -> tuple[str, str]:
    return trigger.table, trigger.name


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _bounded_name(name: str) -> str:
    """PostgreSQL cuts identifiers at 63 bytes; keep long names unique."""
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[:54].decode(errors="ignore") + "_" + digest


@dataclass(frozen=True)
class CapturedChange:
    model: str
    record_id: int
    event: str  # create | write | unlink
    changed_fields: tuple[str, ...] = ()


def insert_events_sql(
    changes: Sequence[CapturedChange], *, user_id: int | None, now: datetime
) -> tuple[str, list[object]]:
    """One INSERT for all `changes`; txid comes from the column default."""
    row = "(%s, %s, %s, %s, %s, %s, false, 0, %s, %s, %s, %s)"
    params: list[object] = []
    for change in changes:
        params += [
            change.model,
            change.record_id,
            change.event,
            now,
            user_id,
            ",".join(change.changed_fields) or None,
            user_id,
            now,
            user_id,
            now,
        ]
    sql = (
        'INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,'
        " changed_fields, is_archived, min_users_synced, create_uid, create_date,"
        " write_uid, write_date) VALUES " + ", ".join([row] * len(changes))
    )
    return sql, params
