"""Health that tells the truth: liveness, readiness per cause, GET / and
/api/v1/health without a session, and 503 bodies naming the database's fault."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import conninfo as pg_conninfo

from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.storage.pool import database_error_reason, safe_conninfo

from .conftest import PostgresServer, Stack, settings_for

PULL: dict[str, Any] = {"user_id": 2, "device_id": "phone", "app_type": "sales_app"}


def _ready(client: httpx.Client, want: int, seconds: float = 10) -> httpx.Response:
    """/health/ready once it answers `want` (the listener connects in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/health/ready")
        if response.status_code == want or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


@contextmanager
def _server(database_url: str, odoo: FakeOdoo) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(odoo.app()) as odoo_url,
        serve_in_thread(
            create_app(settings_for(database_url, odoo_url, pool_timeout_seconds=1))
        ) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client


def test_ready_when_everything_answers(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url) as client:
        ready = _ready(client, 200)
        assert ready.status_code == 200, ready.text
        assert ready.json() == {
            "status": "ready",
            "checks": {
                name: {"ok": True}
                for name in ("database", "sync_tables", "odoo", "change_listener")
            },
        }
        assert client.get("/health/live").json() == {"status": "alive"}
        assert client.get("/").json()["services"]["smart_sync"] == "active"
        health = client.get("/api/v1/health")  # no session: for monitoring
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("refused", "connection refused"),
        ("database", "unknown database"),
        ("role", "authentication failed"),
    ],
)
def test_database_faults_are_named(
    postgres: PostgresServer,
    fake_odoo: FakeOdoo,
    fault: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = {
        "refused": "postgresql://postgres@127.0.0.1:9/none",
        "database": postgres.database_url("no_such_database"),
        "role": pg_conninfo.make_conninfo(postgres.url, user="nobody_here"),
    }[fault]
    sid = fake_odoo.login("admin")
    with _server(url, fake_odoo) as client:
        assert client.get("/health/live").status_code == 200
        ready = _ready(client, 503)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"] == {"ok": False, "reason": f"database unreachable ({reason})"}
        assert checks["odoo"] == {"ok": True}
        assert not checks["change_listener"]["ok"]
        smart_sync = client.get("/").json()["services"]["smart_sync"]
        assert smart_sync == f"degraded: database unreachable ({reason})"
        pull = client.post("/api/v2/sync/pull", json=PULL, headers={"X-Session-Id": sid})
        assert pull.status_code == 503
        assert pull.json()["code"] == "database_unavailable"
        assert pull.json()["reason"] == reason
        assert reason in pull.json()["detail"]
        health = client.get("/api/v1/health")
        assert health.status_code == 503
        assert health.json()["reason"] == reason
        for response in (ready, pull, health):
            assert "Traceback" not in response.text
            assert "postgresql://" not in response.text
    # The cause is logged once for the outage (not per attempt, not per
    # request), in one line, without a traceback.
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in logged if "database" in r.getMessage()] == [
        f"database unavailable: {reason}"
    ]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in logged)


def test_not_ready_without_sync_tables(postgres: PostgresServer, fake_odoo: FakeOdoo) -> None:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS webhook_sync_no_tables")
        conn.execute("CREATE DATABASE webhook_sync_no_tables")
    url = postgres.database_url("webhook_sync_no_tables")
    try:
        with _server(url, fake_odoo) as client:
            ready = _ready(client, 200, seconds=3)  # never 200: wait for the listener
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["database"] == {"ok": True}
            assert checks["sync_tables"]["ok"] is False
            assert "update_webhook" in checks["sync_tables"]["reason"]
            assert checks["odoo"] == {"ok": True}
            assert checks["change_listener"] == {"ok": True}
            smart_sync = client.get("/").json()["services"]["smart_sync"]
            assert smart_sync.startswith("degraded: sync tables missing")
    finally:
        postgres.drop_database(url)


def test_not_ready_until_the_addon_is_upgraded(database_url: str, fake_odoo: FakeOdoo) -> None:
    """A server newer than the addon's schema says so, instead of failing pulls."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE user_sync_state DROP COLUMN issued_position")
    with _server(database_url, fake_odoo) as client:
        ready = _ready(client, 200, seconds=3)
        assert ready.status_code == 503
        reason = ready.json()["checks"]["sync_tables"]["reason"]
        assert reason.startswith("sync schema out of date: upgrade the addon")


def test_not_ready_while_odoo_is_down(database_url: str, fake_odoo: FakeOdoo) -> None:
    fake_odoo.down = True
    with _server(database_url, fake_odoo) as client:
        ready = _ready(client, 200, seconds=3)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["odoo"] == {"ok": False, "reason": "Odoo answered HTTP 502"}
        assert checks["database"] == checks["sync_tables"] == checks["change_listener"]
        assert checks["database"] == {"ok": True}
        assert client.get("/").json()["services"]["smart_sync"] == (
            "degraded: Odoo answered HTTP 502"
        )
        assert client.get("/api/v1/health").status_code == 200  # the database answers


def test_odoo_unreachable_is_not_ready(database_url: str) -> None:
    with (
        serve_in_thread(
            create_app(settings_for(database_url, "http://127.0.0.1:9", pool_timeout_seconds=1))
        ) as base,
        httpx.Client(base_url=base) as client,
    ):
        ready = _ready(client, 200, seconds=3)
        assert ready.status_code == 503
        assert ready.json()["checks"]["odoo"] == {"ok": False, "reason": "Odoo unreachable"}
        assert "127.0.0.1:9" not in ready.text


@pytest.mark.parametrize(
    ("message", "reason"),
    [  # libpq's own words
        ('connection to server at "10.0.0.9", port 5432 failed: timeout expired', "timeout"),
        ("connection timeout expired", "timeout"),
        (
            'connection to server at "db", port 5432 failed: FATAL:  password authentication'
            ' failed for user "odoo"',
            "authentication failed",
        ),
        ("fe_sendauth: no password supplied", "authentication failed"),
        ('FATAL:  no pg_hba.conf entry for host "10.0.0.2", user "odoo"', "authentication failed"),
        ('FATAL:  database "odoo" does not exist', "unknown database"),
        ("failed to resolve host 'db': [Errno -2] Name or service not known", "unknown host"),
        ("FATAL:  the database system is starting up", "database starting or stopping"),
        ("server closed the connection unexpectedly", "connection lost"),
        ('missing "=" after "x" in connection info string', "invalid DATABASE_URL"),
    ],
)
def test_database_error_reasons(message: str, reason: str) -> None:
    assert database_error_reason(psycopg.OperationalError(message)) == reason


def test_conninfo_in_messages_has_no_password() -> None:
    assert safe_conninfo("postgresql://odoo:s3cret@db:5433/prod") == "odoo@db:5433/prod"
    assert "s3cret" not in safe_conninfo("host=db password=s3cret dbname=prod")
