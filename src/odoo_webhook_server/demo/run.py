"""`odoo-webhook-server demo`: the whole product on one machine, no Odoo needed."""

from __future__ import annotations

import shlex
import socket

import uvicorn

from ..config import Settings
from ..main import create_app
from ..storage.schema import init_db
from .fake_odoo import FakeOdoo, FakeUser
from .postgres import TemporaryPostgres
from .serving import serve_in_thread
from .simulator import OdooSimulator

__all__ = ["PortInUse", "run_demo"]


class PortInUse(Exception):
    """The demo's port is taken; the message says how to pick another."""


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {host} is already in use: pick another one,"
                f" e.g. scripts/demo --port {port + 1}"
            ) from None


def _curl_commands(base: str, session_id: str) -> str:
    sid = shlex.quote(session_id)
    body = '{"user_id": 2, "device_id": "test-device-123", "app_type": "sales_app", "limit": 10}'
    acked = (
        '{"user_id": 2, "device_id": "test-device-123", "app_type": "sales_app", "limit": 10,'
        ' "sync_token": "\'"$TOKEN"\'"}'
    )
    live = '{"user_id": 2, "device_id": "live-device", "app_type": "sales_app", "limit": 500'
    return f"""
# 1. first sync
curl -X POST {base}/api/v2/sync/pull \\
  -H "Content-Type: application/json" \\
  -H "X-Session-Id: {sid}" \\
  -d '{body}'

# 2. acknowledged delivery: send back the answer's next_sync_token as sync_token;
#    the device only moves when it acknowledges, so a lost answer is served again
TOKEN=$(curl -s -X POST {base}/api/v2/sync/pull -H "Content-Type: application/json" \\
  -H "X-Session-Id: {sid}" -d '{body}' \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_sync_token"])')
curl -X POST {base}/api/v2/sync/pull \\
  -H "Content-Type: application/json" \\
  -H "X-Session-Id: {sid}" \\
  -d '{acked}'

# 3. long poll: a device catches up, then its pull with "wait" is held until
#    the simulated Odoo changes something (every 3 s here)
curl -s -o /dev/null -X POST {base}/api/v2/sync/pull -H "Content-Type: application/json" \\
  -H "X-Session-Id: {sid}" -d '{live}}}'
curl -X POST {base}/api/v2/sync/pull \\
  -H "Content-Type: application/json" \\
  -H "X-Session-Id: {sid}" \\
  -d '{live}, "wait": 30}}'

# 4. inspect the state
curl "{base}/api/v2/sync/state?user_id=2&device_id=test-device-123" \\
  -H "X-Session-Id: {sid}"

# 5. an error: an unknown app type is refused with the valid ones (422)
curl -X POST {base}/api/v2/sync/pull \\
  -H "Content-Type: application/json" \\
  -H "X-Session-Id: {sid}" \\
  -d '{{"user_id": 2, "device_id": "test-device-123", "app_type": "sale_app"}}'

# 6. reset (for testing only)
curl -X POST "{base}/api/v2/sync/reset?user_id=2&device_id=test-device-123" \\
  -H "X-Session-Id: {sid}"
"""


def run_demo(host: str, port: int, database_url: str | None = None) -> None:
    _check_port(host, port)  # before starting anything: say it in one line
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
Press Ctrl+C to stop; everything is thrown away. Port {port} taken? scripts/demo --port 8001
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
