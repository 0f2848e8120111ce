"""Abuse resistance: per-session and per-device rate limits per route (429 +
Retry-After), the body size limit (413), and CORS from configuration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from odoo_webhook_server.api.limits import TokenBuckets, route_key
from odoo_webhook_server.config import Settings
from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app

from .conftest import Stack, settings_for

PULL = "/api/v2/sync/pull"
WEB_APP = "https://sales.example.com"


@contextmanager
def stack_with(database_url: str, fake_odoo: FakeOdoo, **overrides: Any) -> Iterator[Stack]:
    with (
        serve_in_thread(fake_odoo.app()) as odoo_url,
        serve_in_thread(create_app(settings_for(database_url, odoo_url, **overrides))) as base,
    ):
        yield Stack(base, database_url, fake_odoo, odoo_url)


def pull(stack: Stack, sid: str, device: str) -> httpx.Response:
    body = {"user_id": 2, "device_id": device, "app_type": "manager_app"}
    return httpx.post(f"{stack.base_url}{PULL}", json=body, headers={"X-Session-Id": sid})


def test_rate_limit_per_session_and_per_device(database_url: str, fake_odoo: FakeOdoo) -> None:
    with stack_with(database_url, fake_odoo, rate_limit_pull_per_minute=3) as stack:
        first, second = fake_odoo.login("admin"), fake_odoo.login("admin")
        for _ in range(3):
            assert pull(stack, first, "device-1").status_code == 200
        refused = pull(stack, first, "device-1")
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert "3 a minute" in refused.json()["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 20  # one token: 60 s / 3
        # counted under the route's template, though refused before routing
        metrics = httpx.get(f"{stack.base_url}/metrics").text
        assert f'method="POST",route="{PULL}",status="429"}} 1.0' in metrics
        # the session is spent, whatever the device
        assert pull(stack, first, "device-2").status_code == 429
        # the device is spent, whatever the session
        assert pull(stack, second, "device-1").status_code == 429
        # and a refused request took no token: a fresh session and device pass
        assert pull(stack, second, "device-3").status_code == 200
        # other routes have their own limits
        state = httpx.get(
            f"{stack.base_url}/api/v2/sync/state",
            params={"user_id": 2, "device_id": "device-1"},
            headers={"X-Session-Id": first},
        )
        assert state.status_code == 200


def test_rate_limits_by_route_and_defaults() -> None:
    assert route_key(PULL) == "pull"
    assert route_key("/api/v2/sync/state") == "state"
    assert route_key("/api/v2/sync/reset") == "reset"
    assert route_key("/api/v1/webhook/events") == "other"
    assert route_key("/api/v1/health") is None
    assert route_key("/metrics") is None
    defaults = Settings()
    # a long-polling app pulls about twice a minute; one catching up a few times a second
    assert defaults.rate_limit_pull_per_minute >= 120
    assert defaults.max_body_bytes == 64 * 1024
    assert defaults.cors_origins == []


def test_token_bucket_refills_over_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(clock=lambda: now[0])
    key = [("pull", "session", "s")]
    assert [buckets.take(key, 6) for _ in range(6)] == [0] * 6
    assert buckets.take(key, 6) == pytest.approx(10.0)  # 6 a minute: one every 10 s
    now[0] = 9.0
    assert buckets.take(key, 6) == pytest.approx(1.0)
    now[0] = 10.0
    assert buckets.take(key, 6) == 0
    assert buckets.take(key, 6) > 0
    now[0] = 1000.0  # refilled, but never beyond a minute's worth
    assert [buckets.take(key, 6) for _ in range(7)].count(0) == 6


def test_body_size_limit(database_url: str, fake_odoo: FakeOdoo) -> None:
    with stack_with(
        database_url, fake_odoo, max_body_bytes=1024, rate_limit_pull_per_minute=300
    ) as stack:
        sid = fake_odoo.login("admin")
        headers = {"X-Session-Id": sid, "Content-Type": "application/json"}
        big = b'{"user_id": 2, "device_id": "d", "app_type": "manager_app", "x": "' + (
            b"a" * 2000 + b'"}'
        )
        with httpx.Client(base_url=stack.base_url, headers=headers) as client:
            too_large = client.post(PULL, content=big)
            assert too_large.status_code == 413
            assert too_large.json() == {
                "detail": "Request body too large: at most 1024 bytes",
                "code": "body_too_large",
                "max_bytes": 1024,
            }
            # without Content-Length (chunked), counted as it comes
            chunked = client.post(PULL, content=iter([big[:600], big[600:]]))
            assert chunked.status_code == 413
            small = b'{"user_id": 2, "device_id": "d", "app_type": "manager_app"}'
            assert client.post(PULL, content=iter([small[:10], small[10:]])).status_code == 200
            assert client.post(PULL, content=small).status_code == 200
            # routes that do not read the body are guarded alike
            reset = "/api/v2/sync/reset?user_id=2&device_id=d"
            assert client.post(reset, content=big).status_code == 413
            assert client.post(reset, content=iter([big[:600], big[600:]])).status_code == 413


def preflight(base_url: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{base_url}{PULL}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-session-id, content-type",
        },
    )


def test_cors_for_configured_origins(database_url: str, fake_odoo: FakeOdoo) -> None:
    with stack_with(
        database_url, fake_odoo, cors_origins=[WEB_APP], rate_limit_pull_per_minute=1
    ) as stack:
        allowed = preflight(stack.base_url, WEB_APP)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == WEB_APP
        assert "x-session-id" in allowed.headers["access-control-allow-headers"].lower()
        assert "POST" in allowed.headers["access-control-allow-methods"]
        refused = preflight(stack.base_url, "https://evil.example.com")
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        # answers, refusals by the limits included, carry the header for the web app
        sid = fake_odoo.login("admin")
        for expected in (200, 429):
            response = httpx.post(
                f"{stack.base_url}{PULL}",
                json={"user_id": 2, "device_id": "web", "app_type": "manager_app"},
                headers={"X-Session-Id": sid, "Origin": WEB_APP},
            )
            assert response.status_code == expected
            assert response.headers["access-control-allow-origin"] == WEB_APP
            assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


def test_no_cors_by_default(stack: Stack) -> None:
    response = preflight(stack.base_url, WEB_APP)
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", f"{WEB_APP}, https://ops.example.com")
    assert Settings().cors_origins == [WEB_APP, "https://ops.example.com"]
    monkeypatch.setenv("CORS_ORIGINS", f'["{WEB_APP}"]')
    assert Settings().cors_origins == [WEB_APP]
