"""Bad input gets 422 naming the field; an unreachable database 503; never 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.storage.schema import init_db

from .conftest import Stack, settings_for

GOOD: dict[str, Any] = {"user_id": 2, "device_id": "phone", "app_type": "sales_app", "limit": 10}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": ""}, "device_id"),
        ({"device_id": "   "}, "device_id"),
        ({"device_id": "x" * 256}, "device_id"),
        ({"device_id": None}, "device_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": "me"}, "user_id"),
        ({"app_type": ""}, "app_type"),
        ({"models_filter": []}, "models_filter"),
        ({"models_filter": "res.partner"}, "models_filter"),
        ({"sync_token": "x" * 600}, "sync_token"),
    ],
)
def test_bad_pull_fields_are_422_naming_the_field(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    response = stack.pull(**{**GOOD, **change})
    assert response.status_code == 422
    assert field in [error["loc"][1] for error in response.json()["detail"]]


def test_missing_fields_are_422(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post("/api/v2/sync/pull", json={"user_id": 2})
    assert response.status_code == 422
    assert {e["loc"][1] for e in response.json()["detail"]} == {"device_id", "app_type"}


def test_limit_bounds_are_accepted(stack: Stack) -> None:
    assert stack.pull(**{**GOOD, "limit": 1}).status_code == 200
    assert stack.pull(**{**GOOD, "limit": 500}).status_code == 200
    assert stack.pull(**{**GOOD, "device_id": "x" * 255}).status_code == 200


def test_malformed_json_is_422(stack: Stack) -> None:
    with stack.client() as client:
        for content in (b"{not json", b"", b"[1, 2]", b'"text"'):
            response = client.post(
                "/api/v2/sync/pull",
                content=content,
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 422, content
            assert "Traceback" not in response.text


def test_pull_body_errors_are_those_of_a_fastapi_body_parameter(stack: Stack) -> None:
    """The pull reads its body itself (deps.json_body): its refusals are
    those FastAPI gives for a body parameter, which apps already handle."""
    cases: list[tuple[bytes, str | None, int, list[Any] | None]] = [
        (b"", "application/json", 422, [["body"], "missing"]),
        (b'{"user_id": 2,', "application/json", 422, [["body", 14], "json_invalid"]),
        (b"[1, 2]", "application/json", 422, [["body"], "model_attributes_type"]),
        (json.dumps(GOOD).encode(), "text/plain", 422, [["body"], "model_attributes_type"]),
        (json.dumps(GOOD).encode(), "application/vnd.api+json", 200, None),
        (json.dumps(GOOD).encode(), None, 422, [["body"], "model_attributes_type"]),
        (b'{"user_id": "\xff"}', "application/json", 400, None),  # not UTF-8
    ]
    with stack.client() as client:
        for content, content_type, status, first_error in cases:
            headers = {"Content-Type": content_type} if content_type else {}
            request = client.build_request(
                "POST", "/api/v2/sync/pull", content=content, headers=headers
            )
            assert content_type is not None or "Content-Type" not in request.headers
            response = client.send(request)
            assert response.status_code == status, (content, content_type, response.text)
            if first_error is not None:
                error = response.json()["detail"][0]
                assert [error["loc"], error["type"]] == first_error, (content, error)
            if status == 400:
                assert response.json()["detail"] == "There was an error parsing the body"


def test_bad_query_parameters_are_422(stack: Stack) -> None:
    with stack.client() as client:
        queries: list[dict[str, Any]] = [
            {"user_id": "x", "device_id": "phone"},
            {"device_id": "phone"},
            {"user_id": 2, "device_id": ""},
            {"user_id": 2},
        ]
        for params in queries:
            response = client.get("/api/v2/sync/state", params=params)
            assert response.status_code == 422, params


def test_unknown_state_is_404(stack: Stack) -> None:
    with stack.client() as client:
        state = client.get("/api/v2/sync/state", params={"user_id": 2, "device_id": "nope"})
        assert state.status_code == 404
        assert state.json()["detail"] == "Sync state not found"
        reset = client.post("/api/v2/sync/reset", params={"user_id": 2, "device_id": "nope"})
        assert reset.status_code == 404


def test_unknown_route_and_method(stack: Stack) -> None:
    with stack.client() as client:
        assert client.get("/api/v2/nothing").status_code == 404
        assert client.get("/api/v2/sync/pull").status_code == 405


def test_database_down_is_503_and_the_server_recovers(fake_odoo: FakeOdoo) -> None:
    cluster = TemporaryPostgres()
    url = cluster.start()
    try:
        init_db(url)
        sid = fake_odoo.login("admin")
        settings = settings_for(url, "", pool_timeout_seconds=1)
        with serve_in_thread(fake_odoo.app()) as odoo_url:
            settings.odoo_url = odoo_url
            with (
                serve_in_thread(create_app(settings)) as base,
                httpx.Client(base_url=base, headers={"X-Session-Id": sid}, timeout=30) as client,
            ):
                assert client.post("/api/v2/sync/pull", json=GOOD).status_code == 200
                cluster.kill()
                for _ in range(3):
                    down = client.post("/api/v2/sync/pull", json=GOOD)
                    assert down.status_code == 503
                    assert down.json()["code"] == "database_unavailable"
                    assert "Traceback" not in down.text
                cluster.restart()
                statuses = [
                    client.post("/api/v2/sync/pull", json=GOOD).status_code for _ in range(3)
                ]
                assert statuses[-1] == 200, statuses
                assert set(statuses) <= {200, 503}
    finally:
        cluster.stop()


def test_server_starts_while_the_database_is_down(fake_odoo: FakeOdoo) -> None:
    sid = fake_odoo.login("admin")
    with (
        serve_in_thread(fake_odoo.app()) as odoo_url,
        serve_in_thread(
            create_app(
                settings_for(
                    "postgresql://nobody@127.0.0.1:9/none", odoo_url, pool_timeout_seconds=1
                )
            )
        ) as base,
        httpx.Client(base_url=base, headers={"X-Session-Id": sid}) as client,
    ):
        assert client.get("/").status_code == 200
        assert client.post("/api/v2/sync/pull", json=GOOD).status_code == 503


def test_missing_schema_is_503_with_a_hint(postgres: object, fake_odoo: FakeOdoo) -> None:
    from .conftest import PostgresServer

    assert isinstance(postgres, PostgresServer)
    import psycopg

    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS webhook_sync_empty")
        conn.execute("CREATE DATABASE webhook_sync_empty")
    url = postgres.database_url("webhook_sync_empty")
    sid = fake_odoo.login("admin")
    try:
        with (
            serve_in_thread(fake_odoo.app()) as odoo_url,
            serve_in_thread(create_app(settings_for(url, odoo_url))) as base,
            httpx.Client(base_url=base, headers={"X-Session-Id": sid}) as client,
        ):
            response = client.post("/api/v2/sync/pull", json=GOOD)
            assert response.status_code == 503
            assert "init-db" in response.json()["detail"]
    finally:
        postgres.drop_database(url)
