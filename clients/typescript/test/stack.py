"""The real server, a real PostgreSQL and the Odoo stand-in, for the
TypeScript client's tests (test/stack.ts spawns this with the repo's Python).

PostgreSQL: a fresh database in TEST_DATABASE_URL's cluster (a superuser
URI, as CI sets it), or else a throwaway cluster started here. The
server's rate limits are off unless STACK_SETTINGS (a JSON object of
Settings fields) sets them.

Prints one JSON line: {"base_url", "database_url", "odoo_url", "sessions":
{login: sid}, "users": {login: uid}, "postgres": "owned" | "shared",
"settings": [names of the server's Settings fields]}; then
serves commands, one JSON object per line on stdin, answering one JSON line
each: {"ok": true, "result": ...} or {"ok": false, "error": "..."}.

  {"cmd": "write", "changes": [[model, record_id, event, [fields]?], ...], "user_id": 2}
      one committed transaction (and its NOTIFY), as the addon's capture does;
      "days_ago": N stamps the events N days in the past
  {"cmd": "archive"}            the archiving rules, now (default policy)
  {"cmd": "login", "login": "alice"} -> a new session id
  {"cmd": "logout", "sid": "..."}
  {"cmd": "odoo_down", "down": true}   Odoo answers 502 (the server: 503)
  {"cmd": "pg_stop"} / {"cmd": "pg_start"}
      owned cluster: stop PostgreSQL (fast shutdown) and start it again on
      the same data; shared cluster: refuse new connections to the test
      database and end its sessions, then allow them again
  {"cmd": "sql", "statement": "...", "params": [...]} -> rows
  {"cmd": "quit"}
End of input also stops everything and drops the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
from odoo_webhook_core.archiving import ArchivePolicy, run_archiving
from odoo_webhook_core.capture import NOTIFY_CHANNEL, CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow
from psycopg import conninfo as pg_conninfo
from psycopg import sql as pg_sql

from odoo_webhook_server.config import Settings
from odoo_webhook_server.demo.fake_odoo import FakeOdoo, FakeUser
from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.storage.schema import init_db

USERS = [
    FakeUser(2, "admin", "admin", "Mitchell Admin", is_admin=True),
    FakeUser(6, "alice", "alice", "Alice (sales rep)"),
    FakeUser(7, "bob", "bob", "Bob (driver)"),
]


@contextlib.contextmanager
def database() -> Iterator[tuple[str, str, TemporaryPostgres | None]]:
    """(superuser URL, test database URL, owned cluster or None)."""
    url = os.environ.get("TEST_DATABASE_URL")
    cluster = None
    if not url:
        cluster = TemporaryPostgres()
        url = cluster.start()
    name = f"ts_client_test_{os.getpid()}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                pg_sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    pg_sql.Identifier(name)
                )
            )
            conn.execute(pg_sql.SQL("CREATE DATABASE {}").format(pg_sql.Identifier(name)))
        database_url = pg_conninfo.make_conninfo(url, dbname=name)
        init_db(database_url)
        yield url, database_url, cluster
    finally:
        if cluster is not None:
            cluster.stop()
        else:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    pg_sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                        pg_sql.Identifier(name)
                    )
                )
                conn.execute(
                    pg_sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        pg_sql.Identifier(name)
                    )
                )


class Commands:
    def __init__(
        self, admin_url: str, database_url: str, cluster: TemporaryPostgres | None, odoo: FakeOdoo
    ) -> None:
        self.admin_url = admin_url
        self.database_url = database_url
        self.dbname = str(pg_conninfo.conninfo_to_dict(database_url)["dbname"])
        self.cluster = cluster
        self.odoo = odoo
        self.stopped = False

    def write(self, changes: list[list[Any]], user_id: int = 2, days_ago: float = 0) -> list[int]:
        captured = [
            CapturedChange(c[0], int(c[1]), c[2], tuple(c[3]) if len(c) > 3 else ())
            for c in changes
        ]
        statement, params = insert_events_sql(
            captured, user_id=user_id, now=utcnow() - timedelta(days=days_ago)
        )
        with psycopg.connect(self.database_url, autocommit=True) as conn, conn.transaction():
            rows = conn.execute(statement + " RETURNING id", params).fetchall()
            conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return [int(row[0]) for row in rows]

    def archive(self) -> dict[str, Any]:
        with psycopg.connect(self.database_url) as conn, conn.cursor() as cur:
            summary = run_archiving(
                cur, ArchivePolicy(), now=utcnow(), batch_size=100, commit=conn.commit
            )
        return json.loads(json.dumps(summary, default=str))  # type: ignore[no-any-return]

    def login(self, login: str) -> str:
        return self.odoo.login(login)

    def logout(self, sid: str) -> None:
        self.odoo.logout(sid)

    def odoo_down(self, down: bool = True) -> None:
        self.odoo.down = down

    def _allow_connections(self, allow: bool) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                pg_sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                    pg_sql.Identifier(self.dbname), pg_sql.SQL("true" if allow else "false")
                )
            )
            if not allow:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.dbname,),
                )

    def pg_stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.cluster is not None:
            self.cluster.kill()
        else:
            self._allow_connections(False)

    def pg_start(self) -> None:
        if not self.stopped:
            return
        self.stopped = False
        if self.cluster is not None:
            self.cluster.restart()
        else:
            self._allow_connections(True)

    def sql(self, statement: str, params: list[Any] | None = None) -> list[list[Any]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(statement, params or None)  # no params: several statements
            rows = cur.fetchall() if cur.description else []
        return json.loads(json.dumps([list(r) for r in rows], default=str))  # type: ignore[no-any-return]


def answer(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def main() -> None:
    # Killed with the test run (SIGTERM): still stop PostgreSQL and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with database() as (admin_url, database_url, cluster):
        odoo = FakeOdoo(db="odoo", users=USERS)
        sessions = {user.login: odoo.login(user.login) for user in USERS}
        with serve_in_thread(odoo.app()) as odoo_url:
            values: dict[str, Any] = {
                "database_url": database_url,
                "odoo_url": odoo_url,
                "odoo_db": "odoo",
                "session_cache_seconds": 0,  # a logout counts at once
                "pool_timeout_seconds": 1,
            }
            values.update({k: 0 for k in Settings.model_fields if k.startswith("rate_limit_")})
            values.update(json.loads(os.environ.get("STACK_SETTINGS") or "{}"))
            settings = Settings(**values)
            with serve_in_thread(create_app(settings)) as base_url:
                answer(
                    {
                        "base_url": base_url,
                        "database_url": database_url,
                        "odoo_url": odoo_url,
                        "sessions": sessions,
                        "users": {user.login: user.uid for user in USERS},
                        "postgres": "owned" if cluster is not None else "shared",
                        "settings": sorted(Settings.model_fields),
                    }
                )
                commands = Commands(admin_url, database_url, cluster, odoo)
                for line in sys.stdin:
                    if not line.strip():
                        continue
                    request = json.loads(line)
                    name = request.pop("cmd")
                    if name == "quit":
                        answer({"ok": True, "result": None})
                        break
                    try:
                        if name.startswith("_"):
                            raise AttributeError(name)
                        result = getattr(commands, name)(**request)
                    except Exception as exc:
                        answer({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
                    else:
                        answer({"ok": True, "result": result})
                commands.pg_start()  # running again, to drop the database


if __name__ == "__main__":
    main()
