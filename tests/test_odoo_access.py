"""A user receives only what Odoo lets them read (issue 8).

The bare test database (init-db) has no Odoo tables: there, no groups and no
access rights apply (the other tests). Here the tests create the Odoo tables
the server reads (res_groups_users_rel, ir_model, ir_model_access, the
addon's webhook_tracked_model) with Odoo 18's columns, and the rows an Odoo
would hold: employees read partners, orders and products; pickings only
Webhook Managers; manager_app is limited to administrators and Webhook
Managers, as the addon seeds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app

from .conftest import Stack, settings_for, sql

EMPLOYEE, SYSTEM, WEBHOOK_MANAGER = 1, 2, 3

_ODOO_TABLES = """
CREATE TABLE res_groups (id serial PRIMARY KEY, name jsonb NOT NULL);
CREATE TABLE res_groups_users_rel (gid int4 NOT NULL, uid int4 NOT NULL, PRIMARY KEY (gid, uid));
CREATE TABLE ir_model (id serial PRIMARY KEY, model varchar NOT NULL UNIQUE);
CREATE TABLE ir_model_access (
    id serial PRIMARY KEY, name varchar NOT NULL, active bool, model_id int4 NOT NULL,
    group_id int4, perm_read bool, perm_write bool, perm_create bool, perm_unlink bool);
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY, name varchar NOT NULL, module varchar NOT NULL,
    model varchar NOT NULL, res_id int4);
CREATE TABLE webhook_tracked_model (id serial PRIMARY KEY, model varchar NOT NULL, active bool);
INSERT INTO res_groups (id, name) VALUES
    (1, '{"en_US": "Internal User"}'), (2, '{"en_US": "Settings"}'),
    (3, '{"en_US": "Webhook Manager"}');
INSERT INTO ir_model_data (name, module, model, res_id) VALUES
    ('group_user', 'base', 'res.groups', 1), ('group_system', 'base', 'res.groups', 2),
    ('group_webhook_manager', 'custom_model_webhook', 'res.groups', 3);
-- admin (2): employee, settings, webhook manager; alice (6) and bob (7): employees.
INSERT INTO res_groups_users_rel (gid, uid) VALUES (1, 2), (2, 2), (3, 2), (1, 6), (1, 7);
INSERT INTO ir_model (id, model) VALUES
    (1, 'res.partner'), (2, 'sale.order'), (3, 'product.template'), (4, 'stock.picking'),
    (5, 'account.move'), (6, 'hr.expense');
INSERT INTO ir_model_access (name, active, model_id, group_id, perm_read) VALUES
    ('partner employee', true, 1, 1, true),
    ('order employee', true, 2, 1, true),
    ('product everyone', true, 3, NULL, true),
    ('picking manager', true, 4, 3, true),
    ('picking employee, no read', true, 4, 1, false),
    ('move employee, archived', false, 5, 1, true);
INSERT INTO webhook_tracked_model (model, active) VALUES
    ('res.partner', true), ('sale.order', true), ('product.template', true),
    ('stock.picking', true), ('account.move', true), ('hr.expense', false);
-- hr.expense: installed, readable by no one, no longer tracked.
-- manager_app: administrators and Webhook Managers (the addon's default).
INSERT INTO webhook_app_type_group_rel (app_type_id, group_id)
    SELECT id, g FROM webhook_app_type, unnest(ARRAY[2, 3]) AS g WHERE code = 'manager_app';
"""


def _seen(response: Any) -> list[tuple[str, int]]:
    assert response.status_code == 200, response.text
    return [(e["model"], e["record_id"]) for e in response.json()["events"]]


def _stack(database_url: str, fake_odoo: FakeOdoo, cache_seconds: float) -> Iterator[Stack]:
    sql(database_url, _ODOO_TABLES)
    settings = settings_for(database_url, "", session_cache_seconds=cache_seconds)
    with serve_in_thread(fake_odoo.app()) as odoo_url:
        settings.odoo_url = odoo_url
        with serve_in_thread(create_app(settings)) as base_url:
            yield Stack(base_url, database_url, fake_odoo, odoo_url)


@pytest.fixture
def odoo(database_url: str, fake_odoo: FakeOdoo) -> Iterator[Stack]:
    """The server on a database with Odoo's tables; nothing cached."""
    yield from _stack(database_url, fake_odoo, 0)


@pytest.fixture
def odoo_cached(database_url: str, fake_odoo: FakeOdoo) -> Iterator[Stack]:
    yield from _stack(database_url, fake_odoo, 30)


def test_a_plain_user_is_refused_manager_app(odoo: Stack) -> None:
    odoo.write(("res.partner", 1, "create"))
    response = odoo.pull("alice", app_type="manager_app")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "app_type_forbidden"
    assert "manager_app" in body["detail"] and "6" in body["detail"]
    # Nothing was recorded for the refused device.
    with odoo.client("alice") as client:
        state = client.get("/api/v2/sync/state", params={"user_id": 6, "device_id": "device-1"})
    assert state.status_code == 404
    # Acting for alice does not lend her the administrator's groups.
    assert odoo.pull("admin", user_id=6, app_type="manager_app").status_code == 403


def test_administrators_and_webhook_managers_use_manager_app(odoo: Stack) -> None:
    odoo.write(("res.partner", 1, "create"), ("stock.picking", 2, "create"))
    body = odoo.pull("admin", app_type="manager_app")
    assert _seen(body) == [("res.partner", 1), ("stock.picking", 2)]
    # account.move's only access row is archived: not readable, and said so.
    assert body.json()["models_not_readable"] == ["account.move"]
    # A Webhook Manager who is not an administrator.
    sql(odoo.database_url, "INSERT INTO res_groups_users_rel (gid, uid) VALUES (3, 7)")
    assert _seen(odoo.pull("bob", app_type="manager_app")) == [
        ("res.partner", 1),
        ("stock.picking", 2),
    ]


def test_a_user_is_served_only_the_models_they_may_read(odoo: Stack) -> None:
    odoo.write(("res.partner", 1, "create"), ("stock.picking", 2, "create"))
    odoo.write(("stock.picking", 3, "create"), ("res.partner", 4, "create"))
    odoo.write(("res.partner", 5, "create"), ("stock.picking", 6, "create"))
    # One event per pull: the pickings in between never make alice skip a partner.
    served = []
    for _ in range(5):
        response = odoo.pull("alice", app_type="delivery_app", limit=1)
        assert response.json()["models_not_readable"] == ["stock.picking"]
        served += _seen(response)
    assert served == [("res.partner", 1), ("res.partner", 4), ("res.partner", 5)]
    # Bob, also a plain employee, with a filter of the unreadable model only.
    response = odoo.pull("bob", app_type="delivery_app", models_filter=["stock.picking"])
    assert (_seen(response), response.json()["models_not_readable"]) == ([], ["stock.picking"])
    # An app type all of whose models she may read names none.
    assert (
        odoo.pull("alice", device_id="s", app_type="sales_app").json()["models_not_readable"] == []
    )


def test_a_right_granted_in_odoo_applies_to_later_events(odoo: Stack) -> None:
    odoo.write(("stock.picking", 1, "create"), ("res.partner", 2, "create"))
    assert _seen(odoo.pull("alice", app_type="delivery_app")) == [("res.partner", 2)]
    sql(
        odoo.database_url,
        "UPDATE ir_model_access SET perm_read = true WHERE name = 'picking employee, no read'",
    )
    odoo.write(("stock.picking", 3, "write"))
    response = odoo.pull("alice", app_type="delivery_app")
    # Picking 1 is behind the position (documented: reset, reload); 3 is served.
    assert (_seen(response), response.json()["models_not_readable"]) == (
        [("stock.picking", 3)],
        [],
    )
    with odoo.client("alice") as client:
        client.post("/api/v2/sync/reset", params={"user_id": 6, "device_id": "device-1"})
    assert _seen(odoo.pull("alice", app_type="delivery_app")) == [
        ("stock.picking", 1),
        ("res.partner", 2),
        ("stock.picking", 3),
    ]


def test_a_group_given_in_odoo_opens_manager_app(odoo: Stack) -> None:
    assert odoo.pull("alice", app_type="manager_app").status_code == 403
    sql(odoo.database_url, "INSERT INTO res_groups_users_rel (gid, uid) VALUES (2, 6)")
    assert odoo.pull("alice", app_type="manager_app").status_code == 200


def test_an_app_type_without_groups_is_open_to_everyone(odoo: Stack) -> None:
    sql(odoo.database_url, "DELETE FROM webhook_app_type_group_rel")
    odoo.write(("res.partner", 1, "create"), ("account.move", 2, "create"))
    response = odoo.pull("alice", app_type="manager_app")
    assert _seen(response) == [("res.partner", 1)]
    assert response.json()["models_not_readable"] == ["account.move", "stock.picking"]


def test_group_changes_apply_within_the_cache_time(odoo_cached: Stack) -> None:
    odoo = odoo_cached
    odoo.write(("stock.picking", 1, "create"))
    assert odoo.pull("alice", app_type="delivery_app").json()["models_not_readable"] == [
        "stock.picking"
    ]
    sql(odoo.database_url, "INSERT INTO res_groups_users_rel (gid, uid) VALUES (3, 6)")
    # Still cached (SESSION_CACHE_SECONDS = 30 here).
    assert odoo.pull("alice", app_type="delivery_app").json()["models_not_readable"] == [
        "stock.picking"
    ]


def test_without_odoo_tables_nothing_is_restricted(stack: Stack) -> None:
    """init-db databases (development, demos): no Odoo groups or rights exist."""
    stack.write(("account.move", 1, "create"))
    response = stack.pull("alice", app_type="manager_app")
    assert _seen(response) == [("account.move", 1)]
    assert response.json()["models_not_readable"] == []


def test_odoo_db_defaults_to_the_database_of_database_url(monkeypatch: Any) -> None:
    from odoo_webhook_server.config import Settings

    monkeypatch.delenv("ODOO_DB", raising=False)
    monkeypatch.delenv("PGDATABASE", raising=False)
    assert Settings(database_url="postgresql://u:p@db:5432/prod?sslmode=require").odoo_db == "prod"
    assert Settings(database_url="host=db dbname=test_copy").odoo_db == "test_copy"
    assert Settings(database_url="postgresql://db/prod", odoo_db="other").odoo_db == "other"


def test_a_model_not_installed_is_not_named(odoo: Stack) -> None:
    """No records to read, no events to leave out: not in models_not_readable."""
    sql(
        odoo.database_url,
        "INSERT INTO webhook_app_type_model (app_type_id, model)"
        " SELECT id, 'crm.lead' FROM webhook_app_type WHERE code = 'delivery_app'",
    )
    response = odoo.pull("alice", app_type="delivery_app")
    assert response.json()["models_not_readable"] == ["stock.picking"]


def test_the_python_client_reads_models_not_readable(odoo: Stack) -> None:
    from odoo_webhook_server.client._protocol import parse_pull

    answer = parse_pull(odoo.pull("alice", app_type="delivery_app").json())
    assert answer.models_not_readable == ("stock.picking",)


def test_v1_lists_only_the_models_the_caller_may_read(odoo: Stack) -> None:
    odoo.write(("stock.picking", 2, "create"))  # the first event is not hers
    odoo.write(("res.partner", 1, "create"))
    odoo.write(("stock.picking", 3, "create"))
    with odoo.client("alice") as client:
        summary = client.get("/api/v1/check-updates", params={"limit": 1}).json()
        events = client.get("/api/v1/webhook/events").json()
        pickings = client.get("/api/v1/webhook/events", params={"model_name": "stock.picking"})
    assert summary["summary"] == [{"model": "res.partner", "count": 1}]
    assert summary["has_more"] is False  # the later pickings are not hers
    assert [(e["model"], e["record_id"]) for e in events["data"]] == [("res.partner", 1)]
    assert pickings.json()["data"] == []
    with odoo.client("admin") as client:
        summary = client.get("/api/v1/check-updates").json()
        events = client.get("/api/v1/webhook/events").json()
    assert summary["summary"] == [
        {"model": "res.partner", "count": 1},
        {"model": "stock.picking", "count": 2},
    ]
    assert len(events["data"]) == 3
