"""The capture triggers (core/odoo_webhook_core: sql/capture.sql, capture.py) on a real
PostgreSQL, with tables shaped like Odoo's: every committed insert, update and
delete of a tracked table is an event of its transaction, whatever wrote it.
The addon's Odoo tests check the same inside a real Odoo."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from odoo_webhook_core.capture import (
    NOTIFY_CHANNEL,
    InheritedParent,
    TrackedTable,
    capture_functions_sql,
    capture_triggers,
    drop_capture_sql,
    installed_capture_triggers,
    set_author_sql,
    sync_capture_triggers,
)
from odoo_webhook_core.schema import extras_sql

ODOO_TABLES = """
CREATE TABLE res_partner (
    id serial PRIMARY KEY, name varchar, parent_id int4 REFERENCES res_partner ON DELETE SET NULL,
    complete_name varchar, street varchar, active bool DEFAULT true, credit numeric,
    name_translated jsonb,
    create_uid int4, create_date timestamp, write_uid int4, write_date timestamp);
CREATE TABLE res_users (
    id serial PRIMARY KEY, login varchar,
    partner_id int4 NOT NULL REFERENCES res_partner ON DELETE CASCADE, active bool DEFAULT true,
    create_uid int4, create_date timestamp, write_uid int4, write_date timestamp);
CREATE TABLE res_partner_bank (
    id serial PRIMARY KEY, acc_number varchar,
    partner_id int4 NOT NULL REFERENCES res_partner ON DELETE CASCADE);
CREATE TABLE res_partner_category (id serial PRIMARY KEY, name varchar);
"""

PARTNER = TrackedTable("res.partner", "res_partner")
USERS = TrackedTable(
    "res.users", "res_users", (InheritedParent("res_partner", "partner_id", ("active",)),)
)
BANK = TrackedTable("res.partner.bank", "res_partner_bank")
TRACKED = [PARTNER, USERS, BANK]

Row = tuple[str, int, str, str | None, int | None]


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(ODOO_TABLES)
        with conn.transaction():
            assert sync_capture_triggers(conn.cursor(), TRACKED)
        yield conn


def events(conn: psycopg.Connection[Any], after: int = 0) -> list[Row]:
    rows = conn.execute(
        "SELECT model, record_id, event, changed_fields, user_id FROM update_webhook"
        " WHERE id > %s ORDER BY id",
        (after,),
    ).fetchall()
    return [tuple(row) for row in rows]


def last_event_id(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(max(id), 0) FROM update_webhook").fetchone()
    assert row is not None
    return int(row[0])


def test_a_multi_row_insert_is_one_create_per_row_with_its_author(
    db: psycopg.Connection[Any],
) -> None:
    db.execute(
        "INSERT INTO res_partner (name, create_uid, write_uid) VALUES ('A', 6, 6), ('B', 6, 6)"
    )
    assert events(db) == [
        ("res.partner", 1, "create", None, 6),
        ("res.partner", 2, "create", None, 6),
    ]
    txids = db.execute("SELECT DISTINCT txid FROM update_webhook").fetchall()
    assert len(txids) == 1


def test_an_update_names_every_changed_column_and_nothing_else(
    db: psycopg.Connection[Any],
) -> None:
    db.execute(
        "INSERT INTO res_partner (name, street, credit, name_translated)"
        """ VALUES ('A', 'Rue 1', 1.5, '{"en_US": "A"}'), ('B', 'Rue 2', 2, '{"en_US": "B"}')"""
    )
    mark = last_event_id(db)
    db.execute(
        "UPDATE res_partner SET street = 'Rue 9', credit = 1.50, write_uid = 7,"
        """ write_date = now(), name_translated = '{"en_US": "A", "fr_FR": "A"}' WHERE id = 1"""
    )
    # credit 1.5 -> 1.50 is the same number; write_uid/write_date are not fields of interest
    assert events(db, mark) == [("res.partner", 1, "write", "name_translated,street", 7)]


def test_an_update_that_changes_nothing_or_only_write_date_makes_no_event(
    db: psycopg.Connection[Any],
) -> None:
    db.execute("INSERT INTO res_partner (name) VALUES ('A'), ('B')")
    mark = last_event_id(db)
    db.execute("UPDATE res_partner SET name = name")
    db.execute("UPDATE res_partner SET write_date = now(), write_uid = 2")
    db.execute("UPDATE res_partner SET name = 'x' WHERE false")
    assert events(db, mark) == []


def test_writes_of_a_row_created_in_the_same_transaction_are_part_of_its_creation(
    db: psycopg.Connection[Any],
) -> None:
    now = "now() AT TIME ZONE 'UTC'"
    with db.transaction():  # as Odoo's create(): INSERT, then stored computed fields
        db.execute(f"INSERT INTO res_partner (name, create_date) VALUES ('A', {now}), ('B', {now})")
        db.execute("UPDATE res_partner SET complete_name = name")
    assert events(db) == [
        ("res.partner", 1, "create", None, None),
        ("res.partner", 2, "create", None, None),
    ]
    with db.transaction():  # created earlier: a write, though create_date says "now"
        db.execute(f"UPDATE res_partner SET create_date = {now} WHERE id = 1")
    with db.transaction():
        db.execute(f"UPDATE res_partner SET create_date = {now}, street = 'x' WHERE id = 1")
    assert [e[:4] for e in events(db)[2:]] == [
        ("res.partner", 1, "write", "create_date"),
        ("res.partner", 1, "write", "create_date,street"),
    ]


def test_delete_is_an_unlink_by_the_transaction_author(db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO res_partner (name) VALUES ('A'), ('B'), ('C')")
    mark = last_event_id(db)
    with db.transaction():
        db.execute(*set_author_sql(7))
        db.execute("DELETE FROM res_partner WHERE id IN (1, 3)")
    assert events(db, mark) == [
        ("res.partner", 1, "unlink", None, 7),
        ("res.partner", 3, "unlink", None, 7),
    ]
    db.execute("DELETE FROM res_partner WHERE id = 2")  # outside Odoo: nobody
    assert events(db, mark)[-1] == ("res.partner", 2, "unlink", None, None)


def test_the_author_setting_is_local_to_its_transaction(db: psycopg.Connection[Any]) -> None:
    with db.transaction():
        db.execute(*set_author_sql(7))
    db.execute("INSERT INTO res_partner (name, create_uid) VALUES ('A', 2)")
    assert events(db) == [("res.partner", 1, "create", None, 2)]


def test_a_recomputed_column_is_attributed_to_the_transaction_author(
    db: psycopg.Connection[Any],
) -> None:
    db.execute("INSERT INTO res_partner (name, write_uid, write_date) VALUES ('A', 2, now())")
    mark = last_event_id(db)
    with db.transaction():
        db.execute(*set_author_sql(7))
        # a flush of a stored computed field: write_uid/write_date untouched
        db.execute("UPDATE res_partner SET complete_name = 'A, Inc.'")
    assert events(db, mark) == [("res.partner", 1, "write", "complete_name", 7)]


def test_cascades_and_set_null_are_captured(db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO res_partner (name) VALUES ('Company')")
    db.execute("INSERT INTO res_partner (name, parent_id) VALUES ('Contact', 1)")
    db.execute(
        "INSERT INTO res_partner_bank (acc_number, partner_id) VALUES ('BE1', 1), ('BE2', 1)"
    )
    mark = last_event_id(db)
    db.execute("DELETE FROM res_partner WHERE id = 1")
    assert sorted(events(db, mark)) == sorted(
        [
            ("res.partner", 1, "unlink", None, None),
            ("res.partner", 2, "write", "parent_id", None),  # ON DELETE SET NULL
            ("res.partner.bank", 1, "unlink", None, None),  # ON DELETE CASCADE
            ("res.partner.bank", 2, "unlink", None, None),
        ]
    )


def test_a_parent_change_is_a_write_of_each_inheriting_child(
    db: psycopg.Connection[Any],
) -> None:
    db.execute("INSERT INTO res_partner (name) VALUES ('Alice'), ('Bob'), ('Nobody')")
    db.execute("INSERT INTO res_users (login, partner_id) VALUES ('alice', 1), ('bob', 2)")
    mark = last_event_id(db)
    db.execute("UPDATE res_partner SET street = 'Rue 1', write_uid = 2 WHERE id IN (1, 3)")
    assert events(db, mark) == [
        ("res.partner", 1, "write", "street", 2),
        ("res.partner", 3, "write", "street", 2),
        ("res.users", 1, "write", "street", 2),
    ]
    mark = last_event_id(db)
    # res.users has its own `active`: the partner's says nothing about the user
    db.execute("UPDATE res_partner SET active = false WHERE id = 2")
    assert events(db, mark) == [("res.partner", 2, "write", "active", None)]
    mark = last_event_id(db)
    db.execute("DELETE FROM res_partner WHERE id = 2")  # the user goes with it (cascade)
    assert sorted(events(db, mark)) == [
        ("res.partner", 2, "unlink", None, None),
        ("res.users", 2, "unlink", None, None),
    ]


def test_a_rolled_back_change_leaves_no_event(db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO res_partner (name) VALUES ('Kept')")
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO res_partner (name) VALUES ('Rolled back')")
        db.execute("UPDATE res_partner SET street = 'x'")
        db.execute("DELETE FROM res_partner")
        raise RuntimeError("abort")
    assert events(db) == [("res.partner", 1, "create", None, None)]


def test_untracked_tables_make_no_event(db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO res_partner_category (name) VALUES ('VIP')")
    db.execute("UPDATE res_partner_category SET name = 'VVIP'")
    db.execute("DELETE FROM res_partner_category")
    assert events(db) == []


def test_one_notify_per_transaction_naming_its_models(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    """At commit, one notification "<txid>;<models>" per transaction that
    wrote events, whatever wrote them; none for a rollback or no event."""
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

        def received(wait: float = 1.0) -> list[str]:
            got = []
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                select.select([listener.fileno()], [], [], deadline - time.monotonic())
                got += [n.payload for n in listener.notifies(timeout=0)]
            return got

        with db.transaction():
            txid = db.execute("SELECT txid_current()").fetchone()[0]  # type: ignore[index]
            db.execute("INSERT INTO res_partner (name) VALUES ('A'), ('B')")
            db.execute("UPDATE res_partner SET street = 'x'")
            db.execute("DELETE FROM res_partner WHERE id = 1")
            db.execute("INSERT INTO res_partner_bank (acc_number, partner_id) VALUES ('B', 2)")
            with pytest.raises(RuntimeError), db.transaction():  # a savepoint rolled back
                db.execute("INSERT INTO res_partner (name) VALUES ('gone')")
                raise RuntimeError
        assert received() == [f"{txid};res.partner,res.partner.bank"]
        db.execute("UPDATE res_partner SET street = street")  # no change, no event
        db.execute("INSERT INTO res_partner_category (name) VALUES ('untracked')")
        with pytest.raises(RuntimeError), db.transaction():
            db.execute("INSERT INTO res_partner (name) VALUES ('rolled back')")
            raise RuntimeError
        assert received() == []
        # The first event only in a savepoint that rolls back, then another.
        with db.transaction():
            txid = db.execute("SELECT txid_current()").fetchone()[0]  # type: ignore[index]
            with pytest.raises(RuntimeError), db.transaction():
                db.execute("INSERT INTO res_partner (name) VALUES ('gone')")
                raise RuntimeError
            db.execute("UPDATE res_partner SET street = 'y'")
        assert received() == [f"{txid};res.partner"]
        # Events written by plain SQL notify too; too many models: the catch-all.
        models = [f"x_{'m' * 90}_{i}" for i in range(100)]
        with db.transaction():
            txid = db.execute("SELECT txid_current()").fetchone()[0]  # type: ignore[index]
            db.execute(
                "INSERT INTO update_webhook (model, record_id, event, timestamp)"
                " SELECT m, 1, 'write', now() FROM unnest(%s::varchar[]) m",
                (models,),
            )
        assert received() == [f"{txid};*"]


def test_schema_changes_after_events_in_one_transaction(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    """Odoo installs modules in one transaction: their data writes events,
    then the ORM alters tables. The pending notification must not block it."""
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        with db.transaction():
            txid = db.execute("SELECT txid_current()").fetchone()[0]  # type: ignore[index]
            db.execute("INSERT INTO res_partner (name) VALUES ('A')")
            db.execute(extras_sql("update_webhook"))  # ALTER TABLE update_webhook ...
            db.execute(
                "INSERT INTO res_partner_bank (acc_number, partner_id)"
                " SELECT 'B', max(id) FROM res_partner"
            )
        time.sleep(0.5)
        payloads = [n.payload for n in listener.notifies(timeout=1)]
    assert payloads == [f"{txid};res.partner", f"{txid};res.partner,res.partner.bank"]


def test_sync_is_idempotent_and_follows_the_tracked_set(db: psycopg.Connection[Any]) -> None:
    cur = db.cursor()
    db.execute(
        "CREATE FUNCTION someone_elses() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NULL; END $$"
    )
    db.execute(
        "CREATE TRIGGER custom_audit AFTER UPDATE ON res_partner"
        " FOR EACH STATEMENT EXECUTE FUNCTION someone_elses()"
    )
    assert set(installed_capture_triggers(cur)) == set(capture_triggers(TRACKED))
    assert not sync_capture_triggers(cur, TRACKED), "nothing to change"
    # untrack res.users: its triggers go, res_partner's own stay
    assert sync_capture_triggers(cur, [PARTNER, BANK])
    assert set(installed_capture_triggers(cur)) == set(capture_triggers([PARTNER, BANK]))
    db.execute("UPDATE res_partner SET name = 'x'")  # no res.users event without its trigger
    # other arguments (a new field shadows a parent column): replaced
    changed = TrackedTable(
        "res.users", "res_users", (InheritedParent("res_partner", "partner_id", ("name",)),)
    )
    assert sync_capture_triggers(cur, [PARTNER, BANK, changed])
    assert set(installed_capture_triggers(cur)) == set(capture_triggers([PARTNER, BANK, changed]))
    assert sync_capture_triggers(cur, [])
    assert installed_capture_triggers(cur) == []
    others = db.execute("SELECT tgname FROM pg_trigger WHERE tgname = 'custom_audit'").fetchall()
    assert others == [("custom_audit",)], "triggers of others are left alone"


def test_drop_capture_removes_triggers_and_functions(db: psycopg.Connection[Any]) -> None:
    db.execute(drop_capture_sql())
    assert installed_capture_triggers(db.cursor()) == []
    functions = db.execute(
        "SELECT proname FROM pg_proc WHERE proname LIKE 'custom_model_webhook%'"
    ).fetchall()
    assert functions == []
    db.execute("INSERT INTO res_partner (name) VALUES ('A')")
    assert events(db) == []
    db.execute(capture_functions_sql())  # and back, idempotently
    db.execute(capture_functions_sql())
