"""Odoo-session authentication and who may act for whom."""

from __future__ import annotations

import asyncio
import itertools

import httpx
from cachetools import TTLCache

from odoo_webhook_server.auth.odoo_session import OdooSessionValidator
from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app

from .conftest import Stack, settings_for

PULL = {"user_id": 6, "device_id": "phone", "app_type": "sales_app"}


def test_missing_session_is_401(stack: Stack) -> None:
    with stack.client(None) as client:
        for response in (
            client.post("/api/v2/sync/pull", json=PULL),
            client.get("/api/v2/sync/state", params={"user_id": 6, "device_id": "phone"}),
            client.post("/api/v2/sync/reset", params={"user_id": 6, "device_id": "phone"}),
        ):
            assert response.status_code == 401
            assert response.json()["code"] == "invalid_session"


def test_invalid_or_logged_out_session_is_401(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url, headers={"X-Session-Id": "forged"}) as client:
        assert client.post("/api/v2/sync/pull", json=PULL).status_code == 401


def test_session_cookie_works_like_the_header(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url, cookies={"session_id": stack.sid("alice")}) as c:
        assert c.post("/api/v2/sync/pull", json=PULL).status_code == 200


def test_session_from_odoo_authenticate_is_accepted(stack: Stack) -> None:
    """The flow of a real app: log in to Odoo, then use its session cookie."""
    with httpx.Client(base_url=stack.odoo_url) as odoo:
        login = odoo.post(
            "/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"db": "odoo", "login": "alice", "password": "alice"},
            },
        )
        sid = login.cookies["session_id"]
    with httpx.Client(base_url=stack.base_url, headers={"X-Session-Id": sid}) as client:
        assert client.post("/api/v2/sync/pull", json=PULL).status_code == 200


def test_other_users_state_is_403(stack: Stack) -> None:
    stack.pull("alice", device_id="phone", app_type="sales_app")
    with stack.client("bob") as client:
        assert client.post("/api/v2/sync/pull", json=PULL).status_code == 403
        state = client.get("/api/v2/sync/state", params={"user_id": 6, "device_id": "phone"})
        assert state.status_code == 403
        assert state.json()["code"] == "forbidden"
        reset = client.post("/api/v2/sync/reset", params={"user_id": 6, "device_id": "phone"})
        assert reset.status_code == 403


def test_administrator_may_act_for_others(stack: Stack) -> None:
    stack.pull("alice", device_id="phone", app_type="sales_app")
    with stack.client("admin") as client:
        state = client.get("/api/v2/sync/state", params={"user_id": 6, "device_id": "phone"})
        assert state.status_code == 200
        assert state.json()["user_id"] == 6


def test_sessions_are_cached(stack: Stack) -> None:
    before = stack.odoo.session_info_calls
    for _ in range(5):
        assert stack.pull("alice", device_id="phone", app_type="sales_app").status_code == 200
    assert stack.odoo.session_info_calls == before + 1


def test_unknown_session_on_multi_database_odoo_is_401(stack: Stack) -> None:
    """Odoo without dbfilter answers an unknown session with an HTML 404."""
    stack.odoo.multi_db_without_dbfilter = True
    with httpx.Client(base_url=stack.base_url, headers={"X-Session-Id": "unknown"}) as client:
        response = client.post("/api/v2/sync/pull", json=PULL)
    assert response.status_code == 401
    # A valid session on that Odoo still works.
    assert stack.pull("alice", device_id="phone", app_type="sales_app").status_code == 200


def test_session_of_another_database_is_401(database_url: str) -> None:
    other = FakeOdoo(db="staging", users=[])
    from .conftest import ALICE

    other.users.append(ALICE)
    with (
        serve_in_thread(other.app()) as odoo_url,
        serve_in_thread(create_app(settings_for(database_url, odoo_url))) as base,
        httpx.Client(base_url=base, headers={"X-Session-Id": other.login("alice")}) as client,
    ):
        assert client.post("/api/v2/sync/pull", json=PULL).status_code == 401


def test_odoo_down_is_503_then_recovers(database_url: str, fake_odoo: FakeOdoo) -> None:
    sid = fake_odoo.login("alice")
    with (
        serve_in_thread(fake_odoo.app()) as odoo_url,
        serve_in_thread(create_app(settings_for(database_url, odoo_url))) as base,
        httpx.Client(base_url=base, headers={"X-Session-Id": sid}) as client,
    ):
        fake_odoo.down = True
        response = client.post("/api/v2/sync/pull", json=PULL)
        assert response.status_code == 503
        assert response.json()["code"] == "odoo_unavailable"
        fake_odoo.down = False
        assert client.post("/api/v2/sync/pull", json=PULL).status_code == 200


def test_odoo_unreachable_is_503(database_url: str) -> None:
    with (
        serve_in_thread(
            create_app(settings_for(database_url, "http://127.0.0.1:9", odoo_timeout_seconds=2))
        ) as base,
        httpx.Client(base_url=base, headers={"X-Session-Id": "abc"}) as client,
    ):
        response = client.post("/api/v2/sync/pull", json=PULL)
    assert response.status_code == 503
    assert "Traceback" not in response.text


def test_a_cached_session_expiring_while_read_is_checked_again(fake_odoo: FakeOdoo) -> None:
    """The session cache's entry may expire between two looks at it: the
    validator looks once, and asks Odoo again (a KeyError gave 500s)."""
    sid = fake_odoo.login("admin")
    ticks = itertools.count(step=0.6)  # every look at the cache is 0.6 s later

    async def validate_often() -> list[int]:
        with serve_in_thread(fake_odoo.app()) as odoo_url:
            async with httpx.AsyncClient() as client:
                validator = OdooSessionValidator(client, odoo_url=odoo_url, odoo_db="odoo", ttl=1)
                validator._cache = TTLCache(maxsize=10, ttl=1, timer=lambda: next(ticks))
                return [(await validator.validate(sid)).uid for _ in range(6)]

    assert asyncio.run(validate_often()) == [2] * 6
