"""`odoo-webhook-server demo`: the whole product on one machine, no Odoo needed."""

from __future__ import annotations

import shlex

import uvicorn

from ..config import Settings
from ..main import create_app
from ..storage.schema import init_db
from .fake_odoo import FakeOdoo, FakeUser
from .postgres import TemporaryPostgres
from .serving import serve_in_thread
from .simulator import OdooSimulator

__all__ = ["run_demo"]


def _curl_commands(base: str, session_id: str) -> str:
    sid = shlex.quote(session_id)
    body = '{"user_id": 2, "device_id": "test-device-123", "app_type": "sales_app", "limit": 10}'
    return f"""
# 1. first sync
curl -X POST {base}/api/v2/sync/pull \\
  -H "Content-Type: application/json" \\
  -H "X-Session-Id: {sid}" \\
  -d '{body}'

# 2. inspect the state
curl "{base}/api/v2/sync/state?user_id=2&device_id=test-device-123" \\
  -H "X-Session-Id: {sid}"

# 3. reset (for testing only)
curl -X POST "{base}/api/v2/sync/reset?user_id=2&device_id=test-device-123" \\
  -H "X-Session-Id: {sid}"
"""


def run_demo(host: str, port: int, database_url: str | None = None) -> None:
    postgres = None
    if database_url is None:
        postgres = TemporaryPostgres()
        print(f"Starting a throwaway PostgreSQL in {postgres.directory} ...", flush=True)
        database_url = postgres.start()
    try:
        init_db(database_url)
        odoo = FakeOdoo(
            db="demo",
            users=[
                FakeUser(2, "admin", "admin", "Mitchell Admin", is_admin=True),
                FakeUser(6, "sales", "sales", "Marc Demo (sales rep)"),
            ],
        )
        admin_sid, sales_sid = odoo.login("admin"), odoo.login("sales")
        simulator = OdooSimulator(database_url, user_ids=(2, 6))
        simulator.install()
        written = simulator.run_actions(40)
        simulator.start(every_seconds=3.0)
        with serve_in_thread(odoo.app()) as odoo_url:
            settings = Settings(database_url=database_url, odoo_url=odoo_url, odoo_db="demo")
            base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
            print(
                f"""
odoo-webhook-server demo
  database      {database_url}  ({written} events so far; a new action every 3 s)
  simulated Odoo {odoo_url}  (database "demo")
  API            {base}   docs: {base}/docs
  demo sessions  user 2 (admin): {admin_sid}
                 user 6 (sales): {sales_sid}

Paste these (the guide's "Testing" commands, with the demo session):
{_curl_commands(base, admin_sid)}
Press Ctrl+C to stop; everything is thrown away.
""",
                flush=True,
            )
            try:
                uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
            finally:
                simulator.stop()
    finally:
        if postgres is not None:
            postgres.stop()
