"""The console command as an operator runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import conninfo as pg_conninfo

from odoo_webhook_server import __version__
from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread

from .conftest import PostgresServer

COMMAND = [sys.executable, "-m", "odoo_webhook_server"]


@pytest.fixture
def empty_database(postgres: PostgresServer) -> Iterator[str]:
    name = f"webhook_sync_cli_{os.getpid()}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres.database_url(name)
    yield url
    postgres.drop_database(url)


def test_version() -> None:
    out = subprocess.run([*COMMAND, "--version"], capture_output=True, text=True, check=True)
    assert __version__ in out.stdout


def test_init_db_creates_the_schema_once(empty_database: str) -> None:
    for _ in range(2):  # idempotent
        subprocess.run(
            [*COMMAND, "init-db", "--database-url", empty_database], check=True, capture_output=True
        )
    with psycopg.connect(empty_database) as conn:
        columns = {
            (table, column)
            for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'public'"
            ).fetchall()
        }
        app_types = conn.execute("SELECT code FROM webhook_app_type ORDER BY code").fetchall()
        params = conn.execute("SELECT key FROM ir_config_parameter ORDER BY key").fetchall()
    for table, names in {
        "update_webhook": (
            "id model record_id event timestamp is_archived archive_date min_users_synced"
            " txid create_uid create_date write_uid write_date"
        ),
        "user_sync_state": (
            "id user_id device_id app_type last_event_id last_sync_time sync_count is_active"
            " ack_txid issued_txid issued_event_id create_uid create_date write_uid write_date"
        ),
    }.items():
        for name in names.split():
            assert (table, name) in columns
    assert app_types == [("delivery_app",), ("manager_app",), ("sales_app",)]
    assert params == [("database.secret",), ("database.uuid",)]


def test_init_db_reads_database_url_from_the_environment(empty_database: str) -> None:
    subprocess.run(
        [*COMMAND, "init-db"],
        check=True,
        capture_output=True,
        env={**os.environ, "DATABASE_URL": empty_database},
    )
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT to_regclass('update_webhook')").fetchone() == (
            "update_webhook",
        )


def test_serve_runs_the_api(database_url: str, fake_odoo: FakeOdoo) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sid = fake_odoo.login("alice")
    with serve_in_thread(fake_odoo.app()) as odoo_url:
        server = subprocess.Popen(
            [*COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "ODOO_URL": odoo_url,
                "ODOO_DB": "odoo",
            },
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    root = httpx.get(f"{base}/")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and server.poll() is None
                    time.sleep(0.2)
            assert root.json()["services"]["smart_sync"] == "active"
            response = httpx.post(
                f"{base}/api/v2/sync/pull",
                json={"user_id": 6, "device_id": "phone", "app_type": "sales_app"},
                headers={"X-Session-Id": sid},
            )
            assert response.status_code == 200
            assert "app;dur=" in response.headers["Server-Timing"]
        finally:
            server.terminate()
            server.wait(timeout=30)


def _one_line_failure(args: list[str], **env: str) -> str:
    out = subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("odoo-webhook-server: ")
    return lines[0]


@pytest.mark.parametrize("command", ["init-db", "archive"])
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("refused", "connection refused"),
        ("database", "unknown database"),
        ("role", "authentication failed"),
        ("syntax", "invalid DATABASE_URL"),
    ],
)
def test_database_faults_are_one_line_on_stderr(
    postgres: PostgresServer, command: str, fault: str, reason: str
) -> None:
    url = {
        "refused": "postgresql://postgres:s3cret@127.0.0.1:9/none",
        "database": postgres.database_url("no_such_database"),
        "role": pg_conninfo.make_conninfo(postgres.url, user="nobody_here"),
        "syntax": "not a url",
    }[fault]
    by_option = _one_line_failure([command, "--database-url", url])
    by_environment = _one_line_failure([command], DATABASE_URL=url)
    for line in (by_option, by_environment):
        assert reason in line
        assert "s3cret" not in line


def test_archive_without_sync_tables_is_one_line(empty_database: str) -> None:
    line = _one_line_failure(["archive", "--database-url", empty_database])
    assert "sync tables are missing" in line


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"POOL_MIN_SIZE": "abc"}, "invalid setting POOL_MIN_SIZE"),
        ({"POOL_TIMEOUT_SECONDS": "0"}, "invalid setting POOL_TIMEOUT_SECONDS"),
        ({"DATABASE_URL": "not a url"}, "invalid DATABASE_URL"),
    ],
)
def test_serve_with_a_bad_setting_is_one_line(env: dict[str, str], expected: str) -> None:
    assert expected in _one_line_failure(["serve", "--port", "9"], **env)
