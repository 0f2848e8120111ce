"""End to end: a real Odoo 18 with the addon, the real server, real sessions.

Two real Odoo users log in, change records through Odoo's JSON-RPC, and their
devices pull what changed through /api/v2/sync/pull.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .conftest import OdooEnvironment, free_port

DB = "e2e_sync"


def _wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


class OdooClient:
    """A logged-in Odoo user, speaking JSON-RPC as the web client does."""

    def __init__(self, url: str, login: str, password: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        result = self.rpc("/web/session/authenticate", db=DB, login=login, password=password)
        self.uid = int(result["uid"])
        self.session_id = self.http.cookies["session_id"]

    def rpc(self, path: str, **params: Any) -> Any:
        body = self.http.post(path, json={"jsonrpc": "2.0", "method": "call", "params": params})
        body.raise_for_status()
        data = body.json()
        if "error" in data:
            raise RuntimeError(data["error"]["data"]["message"])
        return data.get("result")

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            model=model,
            method=method,
            args=list(args),
            kwargs=kwargs,
        )


@dataclass
class EndToEnd:
    odoo_url: str
    server_url: str
    database_url: str
    admin: OdooClient
    alice: OdooClient
    bob: OdooClient

    def pull(self, who: OdooClient, **body: Any) -> httpx.Response:
        body.setdefault("user_id", who.uid)
        body.setdefault("app_type", "sales_app")
        return httpx.post(
            f"{self.server_url}/api/v2/sync/pull",
            json=body,
            headers={"X-Session-Id": who.session_id},
            timeout=120,
        )


@pytest.fixture(scope="module")
def e2e(odoo: OdooEnvironment) -> Iterator[EndToEnd]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        odoo_port = free_port()
        odoo_cmd = odoo.command(DB, odoo_port)
        subprocess.run(
            [*odoo_cmd, "-i", "custom_model_webhook", "--stop-after-init"],
            check=True,
            env=odoo.env,
            timeout=900,
        )
        server_odoo = subprocess.Popen(odoo_cmd, env=odoo.env)
        processes.append(server_odoo)
        odoo_url = f"http://127.0.0.1:{odoo_port}"
        _wait_http(f"{odoo_url}/web/health", server_odoo)

        server_port = free_port()
        database_url = odoo.database_url(DB)
        server = subprocess.Popen(
            [sys.executable, "-m", "odoo_webhook_server", "serve", "--port", str(server_port)],
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "ODOO_URL": odoo_url,
                "ODOO_DB": DB,
            },
        )
        processes.append(server)
        server_url = f"http://127.0.0.1:{server_port}"
        _wait_http(f"{server_url}/", server)

        admin = OdooClient(odoo_url, "admin", "admin")
        for login in ("alice", "bob"):
            admin.call(
                "res.users",
                "create",
                {"name": login.title(), "login": login, "password": f"{login}-pass-18"},
            )
        yield EndToEnd(
            odoo_url,
            server_url,
            database_url,
            admin,
            OdooClient(odoo_url, "alice", "alice-pass-18"),
            OdooClient(odoo_url, "bob", "bob-pass-18"),
        )
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _seen(response: httpx.Response) -> list[tuple[str, int, str]]:
    assert response.status_code == 200, response.text
    return [(e["model"], e["record_id"], e["event"]) for e in response.json()["events"]]


def test_root_of_the_real_server(e2e: EndToEnd) -> None:
    assert httpx.get(f"{e2e.server_url}/").json()["services"]["smart_sync"] == "active"


def test_changes_made_in_odoo_reach_the_devices(e2e: EndToEnd) -> None:
    e2e.pull(e2e.alice, device_id="alice-phone")  # start: everything so far
    e2e.pull(e2e.bob, device_id="bob-phone")
    partner = e2e.alice.call("res.partner", "create", {"name": "Café Bruxelles"})
    assert ("res.partner", partner, "create") in _seen(e2e.pull(e2e.alice, device_id="alice-phone"))

    e2e.alice.call("res.partner", "write", [partner], {"phone": "+32 2 555 01 01"})
    events = e2e.pull(e2e.alice, device_id="alice-phone").json()["events"]
    mine = [e for e in events if e["record_id"] == partner]
    assert [(e["event"], e["changed_fields"], e["user_id"]) for e in mine] == [
        ("write", ["phone"], e2e.alice.uid)
    ]

    e2e.alice.call("res.partner", "unlink", [partner])
    assert ("res.partner", partner, "unlink") in _seen(e2e.pull(e2e.alice, device_id="alice-phone"))
    # Bob's device is independent: it gets the partner's life coalesced away.
    assert ("res.partner", partner, "create") not in _seen(e2e.pull(e2e.bob, device_id="bob-phone"))


def test_a_failed_change_leaves_no_event(e2e: EndToEnd) -> None:
    e2e.pull(e2e.alice, device_id="alice-tablet")
    with pytest.raises(RuntimeError):
        # The ORM refuses a partner without a name: the transaction rolls back.
        e2e.alice.call("res.partner", "create", {"name": False, "email": "x@example.com"})
    assert _seen(e2e.pull(e2e.alice, device_id="alice-tablet")) == []


def test_users_cannot_read_each_others_state(e2e: EndToEnd) -> None:
    e2e.pull(e2e.alice, device_id="alice-phone")
    response = httpx.get(
        f"{e2e.server_url}/api/v2/sync/state",
        params={"user_id": e2e.alice.uid, "device_id": "alice-phone"},
        headers={"X-Session-Id": e2e.bob.session_id},
    )
    assert response.status_code == 403
    assert e2e.pull(e2e.bob, user_id=e2e.alice.uid, device_id="alice-phone").status_code == 403
    as_admin = httpx.get(
        f"{e2e.server_url}/api/v2/sync/state",
        params={"user_id": e2e.alice.uid, "device_id": "alice-phone"},
        headers={"X-Session-Id": e2e.admin.session_id},
    )
    assert as_admin.status_code == 200


def test_real_odoo_sessions_are_validated(e2e: EndToEnd) -> None:
    response = httpx.post(
        f"{e2e.server_url}/api/v2/sync/pull",
        json={"user_id": e2e.alice.uid, "device_id": "x", "app_type": "sales_app"},
        headers={"X-Session-Id": "not-a-session"},
    )
    assert response.status_code == 401
    cookie = httpx.post(
        f"{e2e.server_url}/api/v2/sync/pull",
        json={"user_id": e2e.alice.uid, "device_id": "x", "app_type": "sales_app"},
        cookies={"session_id": e2e.alice.session_id},
    )
    assert cookie.status_code == 200
    logout_client = OdooClient(e2e.odoo_url, "bob", "bob-pass-18")
    logout_client.rpc("/web/session/destroy")
    gone = httpx.post(
        f"{e2e.server_url}/api/v2/sync/pull",
        json={"user_id": e2e.bob.uid, "device_id": "y", "app_type": "sales_app"},
        headers={"X-Session-Id": logout_client.session_id},
    )
    assert gone.status_code == 401


def test_app_type_edited_in_odoo_applies_at_once(e2e: EndToEnd) -> None:
    app_type = e2e.admin.call(
        "webhook.app.type",
        "create",
        {"code": "crm_app", "name": "CRM", "all_models": False},
    )
    e2e.admin.call(
        "webhook.app.type.model", "create", {"app_type_id": app_type, "model": "res.partner"}
    )
    assert e2e.pull(e2e.alice, device_id="crm", app_type="crm_app").status_code == 200
    assert e2e.pull(e2e.alice, device_id="crm2", app_type="nope_app").status_code == 422


def test_long_poll_is_woken_by_the_addons_notify(e2e: EndToEnd) -> None:
    e2e.pull(e2e.alice, device_id="alice-watch")
    created: list[int] = []

    def create_later() -> None:
        time.sleep(1.0)
        created.append(e2e.admin.call("res.partner", "create", {"name": "Late customer"}))

    writer = threading.Thread(target=create_later)
    started = time.monotonic()
    writer.start()
    response = e2e.pull(e2e.alice, device_id="alice-watch", wait=90)
    elapsed = time.monotonic() - started
    writer.join()
    assert ("res.partner", created[0], "create") in _seen(response)
    assert elapsed < 60  # woken by Odoo's commit, not by the end of the window


def test_a_plain_user_is_refused_manager_app(e2e: EndToEnd) -> None:
    """Odoo's default: manager_app is for administrators and Webhook Managers."""
    response = e2e.pull(e2e.alice, device_id="alice-manager", app_type="manager_app")
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "app_type_forbidden"
    assert response.json()["detail"]
    assert e2e.pull(e2e.admin, device_id="admin-manager", app_type="manager_app").status_code == 200


def test_a_plain_user_receives_only_the_models_odoo_lets_them_read(e2e: EndToEnd) -> None:
    # Mail servers: only administrators may read them (base's access rights).
    e2e.admin.call("webhook.tracked.model", "create", {"model": "ir.mail_server"})
    app_type = e2e.admin.call(
        "webhook.app.type", "create", {"code": "ops_app", "name": "Ops", "all_models": False}
    )
    for model in ("res.partner", "ir.mail_server"):
        e2e.admin.call(
            "webhook.app.type.model", "create", {"app_type_id": app_type, "model": model}
        )
    for who, device in ((e2e.alice, "alice-ops"), (e2e.admin, "admin-ops")):
        e2e.pull(who, device_id=device, app_type="ops_app")  # start: everything so far
    server = e2e.admin.call(
        "ir.mail_server", "create", {"name": "Relay", "smtp_host": "smtp.example.com"}
    )
    partner = e2e.admin.call("res.partner", "create", {"name": "After the relay"})
    with pytest.raises(RuntimeError):
        e2e.alice.call("ir.mail_server", "read", [server], ["name"])  # Odoo refuses her too

    alice = e2e.pull(e2e.alice, device_id="alice-ops", app_type="ops_app", limit=1)
    assert _seen(alice) == [("res.partner", partner, "create")]
    assert alice.json()["models_not_readable"] == ["ir.mail_server"]
    admin = e2e.pull(e2e.admin, device_id="admin-ops", app_type="ops_app")
    assert _seen(admin) == [
        ("ir.mail_server", server, "create"),
        ("res.partner", partner, "create"),
    ]
    assert admin.json()["models_not_readable"] == []
