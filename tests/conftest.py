"""Test fixtures: a real PostgreSQL, the real server over loopback HTTP, and
the Odoo stand-in (odoo_webhook_server.demo.fake_odoo) for Odoo's endpoints.

PostgreSQL: TEST_DATABASE_URL (a superuser URI, as `.ci/run` provides), or
else a throwaway cluster started here from the machine's PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from odoo_webhook_core.capture import CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow
from psycopg import conninfo as pg_conninfo

from odoo_webhook_server.config import Settings
from odoo_webhook_server.demo.fake_odoo import FakeOdoo, FakeUser
from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.storage.schema import init_db

TEMPLATE_DB = "webhook_sync_template"
_db_numbers = itertools.count(1)

ADMIN = FakeUser(2, "admin", "admin", "Mitchell Admin", is_admin=True)
ALICE = FakeUser(6, "alice", "alice", "Alice (sales rep)")
BOB = FakeUser(7, "bob", "bob", "Bob (driver)")


def days(n: float) -> timedelta:
    return timedelta(days=n)


def insert_event(
    database_url: str, model: str, record_id: int, at: datetime, event: str = "write"
) -> int:
    """One event stamped `at` (naive UTC), committed in its own transaction."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,
                                          is_archived, min_users_synced)
               VALUES (%s, %s, %s, %s, 2, false, 0) RETURNING id""",
            (model, record_id, event, at),
        ).fetchone()
    assert row is not None
    return int(row[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(base_url: str, process: subprocess.Popen[Any], seconds: float = 60) -> None:
    """Return once a server started as `process` answers on `base_url`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(f"{base_url}/api/v1/health")
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)


def sql(database_url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


@dataclass
class PostgresServer:
    url: str
    cluster: TemporaryPostgres | None

    def database_url(self, name: str) -> str:
        return pg_conninfo.make_conninfo(self.url, dbname=name)

    def create_database(self) -> str:
        name = f"webhook_sync_test_{os.getpid()}_{next(_db_numbers)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = pg_conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    url = os.environ.get("TEST_DATABASE_URL")
    cluster = None
    if not url:
        cluster = TemporaryPostgres()
        url = cluster.start()
    server = PostgresServer(url, cluster)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    init_db(server.database_url(TEMPLATE_DB))
    yield server
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    if cluster is not None:
        cluster.stop()


@pytest.fixture
def database_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database with the schema and the default app types."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


def write_events(
    database_url: str, *changes: tuple[str, int, str] | CapturedChange, user_id: int = 2
) -> None:
    """Commit `changes` in one transaction, as the addon's capture does."""
    captured = [c if isinstance(c, CapturedChange) else CapturedChange(*c) for c in changes]
    sql, params = insert_events_sql(captured, user_id=user_id, now=utcnow())
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(sql, params)  # update_webhook's trigger sends the NOTIFY at commit


@dataclass
class Stack:
    """The real server over loopback, its database, and the Odoo stand-in."""

    base_url: str
    database_url: str
    odoo: FakeOdoo
    odoo_url: str
    sessions: dict[str, str] = field(default_factory=dict)

    def sid(self, login: str) -> str:
        if login not in self.sessions:
            self.sessions[login] = self.odoo.login(login)
        return self.sessions[login]

    def client(self, login: str | None = "admin") -> httpx.Client:
        headers = {"X-Session-Id": self.sid(login)} if login else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120)

    def pull(self, login: str = "admin", **body: Any) -> httpx.Response:
        body.setdefault("user_id", next(u.uid for u in self.odoo.users if u.login == login))
        body.setdefault("device_id", "device-1")
        body.setdefault("app_type", "manager_app")
        with self.client(login) as client:
            return client.post("/api/v2/sync/pull", json=body)

    def write(self, *changes: tuple[str, int, str] | CapturedChange, user_id: int = 2) -> None:
        write_events(self.database_url, *changes, user_id=user_id)


def settings_for(database_url: str, odoo_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "odoo_url": odoo_url,
        "odoo_db": "odoo",
        "session_cache_seconds": 30,
        "pool_timeout_seconds": 2,
        # load tests pull far faster than an app; tests of the limits set them
        "rate_limit_pull_per_minute": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def fake_odoo() -> FakeOdoo:
    return FakeOdoo(db="odoo", users=[ADMIN, ALICE, BOB])


@pytest.fixture
def stack(database_url: str, fake_odoo: FakeOdoo) -> Iterator[Stack]:
    with (
        serve_in_thread(fake_odoo.app()) as odoo_url,
        serve_in_thread(create_app(settings_for(database_url, odoo_url))) as base_url,
    ):
        yield Stack(base_url, database_url, fake_odoo, odoo_url)
