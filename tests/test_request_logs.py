"""LOG_FORMAT=json: one JSON line per request with its id, user, device, app
type, events and latency; X-Request-Id accepted and returned; session ids
never in full."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.observability.logging import REQUEST_LOGGER, JsonFormatter

from .conftest import Stack, free_port, settings_for, wait_until_serving

PULL = "/api/v2/sync/pull"


@pytest.fixture
def json_stack(database_url: str, fake_odoo: FakeOdoo) -> Iterator[tuple[Stack, io.StringIO]]:
    """A server in JSON log mode, its log lines captured."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("odoo_webhook_server")
    root_formatters = [(h, h.formatter) for h in logging.getLogger().handlers]
    level = logger.level
    logger.addHandler(handler)
    try:
        with (
            serve_in_thread(fake_odoo.app()) as odoo_url,
            serve_in_thread(
                create_app(settings_for(database_url, odoo_url, log_format="json"))
            ) as base,
        ):
            yield Stack(base, database_url, fake_odoo, odoo_url), captured
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        for h, formatter in root_formatters:
            h.setFormatter(formatter)


def lines(captured: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.getvalue().splitlines() if line]


def test_json_request_lines(json_stack: tuple[Stack, io.StringIO]) -> None:
    stack, captured = json_stack
    sid = stack.sid("alice")
    stack.write(("res.partner", 1, "create"), ("res.partner", 2, "create"))
    answer = httpx.post(
        f"{stack.base_url}{PULL}",
        json={"user_id": 6, "device_id": "phone-7", "app_type": "sales_app"},
        headers={"X-Session-Id": sid, "X-Request-Id": "req-42"},
    )
    assert answer.status_code == 200
    assert answer.headers["X-Request-Id"] == "req-42"
    state = httpx.get(
        f"{stack.base_url}/api/v2/sync/state",
        params={"user_id": 6, "device_id": "phone-7"},
        cookies={"session_id": sid},
        headers={"X-Request-Id": "bad id with spaces"},
    )
    made_id = state.headers["X-Request-Id"]
    assert made_id != "bad id with spaces" and len(made_id) == 32
    refused = httpx.post(f"{stack.base_url}{PULL}", json={}, headers={"X-Session-Id": "nope"})
    assert refused.status_code == 401

    records = [r for r in lines(captured) if r["logger"] == REQUEST_LOGGER]
    assert [r["request_id"] for r in records] == [
        "req-42",
        made_id,
        refused.headers["X-Request-Id"],
    ]
    pulled, stated, failed = records
    assert pulled["level"] == "INFO"
    assert pulled["method"] == "POST" and pulled["route"] == PULL and pulled["status"] == 200
    assert pulled["user"] == 6
    assert pulled["device"] == "phone-7"
    assert pulled["app_type"] == "sales_app"
    assert pulled["events"] == 2
    assert pulled["duration_ms"] > 0
    assert pulled["session"].startswith("sid:") and len(pulled["session"]) == 16
    assert stated["status"] == 200 and stated["user"] == 6 and stated["device"] == "phone-7"
    assert stated["session"] == pulled["session"]  # the cookie is the same session
    assert failed["status"] == 401 and "user" not in failed
    text = captured.getvalue()
    assert sid not in text and '"nope"' not in text


def test_a_session_id_in_a_message_is_masked() -> None:
    from odoo_webhook_server.observability import context

    token = context.begin(request_id="r1", _sid="secret-session-123", session="sid:x")
    try:
        record = logging.LogRecord(
            "odoo_webhook_server.x",
            logging.WARNING,
            __file__,
            1,
            "Odoo refused secret-session-123",
            None,
            None,
        )
        line = json.loads(JsonFormatter().format(record))
    finally:
        context.end(token)
    assert line["request_id"] == "r1"
    assert "secret-session-123" not in line["message"]
    assert line["message"] == "Odoo refused " + context.mask_session("secret-session-123")


def test_text_format_logs_no_request_lines(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=REQUEST_LOGGER):
        response = stack.pull()
    assert response.status_code == 200
    assert len(response.headers["X-Request-Id"]) == 32  # made here, returned in any format
    assert not [r for r in caplog.records if r.name == REQUEST_LOGGER]


def test_serve_logs_json_lines_only(database_url: str, fake_odoo: FakeOdoo) -> None:
    """`serve --workers 2` with LOG_FORMAT=json: the supervisor's lines too."""
    port = free_port()
    sid = fake_odoo.login("alice")
    with serve_in_thread(fake_odoo.app()) as odoo_url:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "odoo_webhook_server",
                "serve",
                "--workers",
                "2",
                "--port",
                str(port),
            ],
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "ODOO_URL": odoo_url,
                "ODOO_DB": "odoo",
                "LOG_FORMAT": "json",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base, server)
            answer = httpx.post(
                f"{base}{PULL}",
                json={"user_id": 6, "device_id": "phone", "app_type": "sales_app"},
                headers={"X-Session-Id": sid, "X-Request-Id": "from-the-app"},
            )
            assert answer.status_code == 200
        finally:
            server.terminate()
            out, err = server.communicate(timeout=30)
    records = [json.loads(line) for line in (out + err).splitlines() if line.strip()]
    assert any(r["logger"] == "uvicorn.error" for r in records)
    (pulled,) = [r for r in records if r.get("request_id") == "from-the-app"]
    assert pulled["status"] == 200 and pulled["user"] == 6 and pulled["events"] == 0
    assert sid not in out + err
