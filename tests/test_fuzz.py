"""Property-based fuzzing of the whole API (issue 8): the real server over
loopback, a real PostgreSQL, every operation of its OpenAPI.

For any request: never a 5xx, every answer matches the documented schema
(status, content type, headers, body), and a plain user never reads nor
changes another user's state. Deterministic (fixed seed, derandomized) and
bounded (MAX_EXAMPLES per operation and phase) so that CI spends well under
a few minutes here. The figures (requests, statuses) are printed at the end
of the module: `pytest -s tests/test_fuzz.py`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from odoo_webhook_server.config import Settings
from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app

from .conftest import ADMIN, ALICE, BOB, PostgresServer, Stack, settings_for, sql

MAX_EXAMPLES = 100
"""Per operation and phase (examples, coverage, fuzzing): about a minute in all."""

OTHER_DEVICE = "bobs-phone-\u00e9"
"""Bob's device: Alice, who fuzzes, must never see nor change its state."""

SCHEMA = schemathesis.openapi.from_dict(
    create_app(settings_for("postgresql:///unused", "http://127.0.0.1:9")).openapi(),
    config=schemathesis.Config.from_dict(
        {
            "seed": 8,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "mode": "all",  # valid and invalid requests
            },
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Fuzzing sends more requests a minute than the rate limits allow.
NO_LIMITS = {name: 0 for name in Settings.model_fields if name.startswith("rate_limit_")}

TALLY: Counter[str] = Counter()
"""Answers by status, all fuzz tests together."""
REQUESTS: Counter[str] = Counter()
"""Requests by fuzz test."""


def _count(test: str, status: int) -> None:
    TALLY[str(status)] += 1
    REQUESTS[test] += 1


FAILURES: set[str] = set()


def _state_row(database_url: str, user_id: int, device_id: str) -> list[tuple[Any, ...]]:
    return sql(
        database_url,
        "SELECT * FROM user_sync_state WHERE user_id = %s AND device_id = %s",
        (user_id, device_id),
    )


@pytest.fixture(scope="module")
def fuzz_stack(postgres: PostgresServer) -> Iterator[Stack]:
    """One server for the whole module (the fuzzing of every operation), with
    events and Bob's device state in its database."""
    database_url = postgres.create_database()
    odoo = FakeOdoo(db="odoo", users=[ADMIN, ALICE, BOB])
    try:
        with (
            serve_in_thread(odoo.app()) as odoo_url,
            serve_in_thread(
                create_app(settings_for(database_url, odoo_url, **NO_LIMITS))
            ) as base_url,
        ):
            stack = Stack(base_url, database_url, odoo, odoo_url)
            stack.write(("res.partner", 1, "create"), ("sale.order", 2, "write"))
            bob = stack.pull("bob", device_id=OTHER_DEVICE, app_type="sales_app")
            assert bob.status_code == 200, bob.text
            before = _state_row(database_url, BOB.uid, OTHER_DEVICE)
            assert before
            yield stack
            assert _state_row(database_url, BOB.uid, OTHER_DEVICE) == before, (
                "another user's sync state changed while fuzzing"
            )
    finally:
        postgres.drop_database(database_url)
        total = sum(TALLY.values())
        print(f"\nfuzz: {total} requests, statuses {dict(sorted(TALLY.items()))}")
        for test, count in sorted(REQUESTS.items()):
            print(f"fuzz: {test}: {count} requests")
        for failure in sorted(FAILURES):
            print(f"fuzz failure: {failure}")


def _assert_private(response: Any) -> None:
    """No answer to Alice carries Bob's device."""
    assert OTHER_DEVICE not in response.text
    assert json.dumps(OTHER_DEVICE)[1:-1] not in response.text


@SCHEMA.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case[Any], fuzz_stack: Stack) -> None:
    """Alice (a plain user) fuzzes every operation of the OpenAPI."""
    # Alice's real session replaces the generated one, so that the fuzzing
    # reaches past authentication (test_any_session_id_is_a_401 fuzzes that).
    headers = {"X-Session-Id": fuzz_stack.sid("alice")}
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("wait"), int | float):
        body["wait"] = 0  # no long polls: the budget is time
    response = case.call(base_url=fuzz_stack.base_url, headers=headers, timeout=30)
    _count("test_api", response.status_code)
    try:
        case.validate_response(response, checks=CHECKS)
    except Exception as exc:
        FAILURES.add(f"{case.operation.label}: {str(exc).splitlines()[0][:120]}")
        raise
    _assert_private(response)


@given(body=st.binary(max_size=300))
@settings(max_examples=200, derandomize=True, deadline=None, database=None)
def test_any_bytes_to_pull_is_never_a_server_error(alice: httpx.Client, body: bytes) -> None:
    """Any bytes at all posted as JSON to /api/v2/sync/pull: a 4xx, never a 5xx."""
    response = alice.post(
        "/api/v2/sync/pull", content=body, headers={"Content-Type": "application/json"}
    )
    _count("test_any_bytes_to_pull_is_never_a_server_error", response.status_code)
    assert response.status_code < 500, (body, response.text)
    json.loads(response.text)  # a JSON answer


# Any JSON value, including what JSON parsers accept but JSON answers cannot
# carry (NaN, infinities, lone surrogates) and what PostgreSQL text cannot
# hold (NUL).
_ANY_TEXT = st.text(
    st.characters(codec=None, exclude_categories=[]), max_size=20
) | st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff", "x\udc00"])
_ANY_VALUE = st.recursive(
    _ANY_TEXT | st.none() | st.booleans() | st.integers() | st.floats(),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)
_PULL_FIELDS = ["user_id", "device_id", "app_type", "limit", "models_filter", "sync_token", "wait"]


_VALID_PULL = {"user_id": ALICE.uid, "device_id": "d", "app_type": "sales_app"}


@given(
    # One field at a time (or two), the others valid: so that the odd value
    # gets past the schema's other checks, down to the engine and the database.
    body=st.lists(st.sampled_from(_PULL_FIELDS), min_size=1, max_size=2, unique=True).flatmap(
        lambda fields: st.fixed_dictionaries(dict.fromkeys(fields, _ANY_VALUE)).map(
            lambda values: {**_VALID_PULL, **values}
        )
    )
)
@settings(max_examples=300, derandomize=True, deadline=None, database=None)
def test_any_json_values_to_pull_are_never_a_server_error(
    alice: httpx.Client, body: dict[str, Any]
) -> None:
    """Any JSON value in any field of a pull: never a 5xx, always a JSON answer."""
    wait = body.get("wait")
    if isinstance(wait, int | float) and math.isfinite(wait) and wait > 0:
        body["wait"] = 0  # no long polls: the budget is time
    content = json.dumps(body, allow_nan=True).encode()  # NaN, \\ud800 as JSON text
    response = alice.post(
        "/api/v2/sync/pull", content=content, headers={"Content-Type": "application/json"}
    )
    _count("test_any_json_values_to_pull_are_never_a_server_error", response.status_code)
    assert response.status_code < 500, (content, response.text)
    response.json()


@pytest.fixture(scope="module")
def alice(fuzz_stack: Stack) -> Iterator[httpx.Client]:
    with fuzz_stack.client("alice") as client:
        yield client


# Each hole found by fuzzing, kept as a plain regression test.
HOLES: list[tuple[str, str]] = [
    ('{"user_id": 6, "device_id": "d", "app_type": "sales_app", "limit": NaN}', "limit"),
    ('{"user_id": 6, "device_id": "d", "app_type": "sales_app", "wait": Infinity}', "wait"),
    ('{"user_id": 6, "device_id": "d", "app_type": "sales_app", "wait": NaN}', "wait"),
    ('{"user_id": NaN, "device_id": "d", "app_type": "sales_app"}', "user_id"),
    ('{"user_id": 6, "device_id": "\\ud800", "app_type": "sales_app"}', "device_id"),
    ('{"user_id": 6, "device_id": "a\\u0000b", "app_type": "sales_app"}', "device_id"),
    ('{"user_id": 6, "device_id": "d", "app_type": "sales\\u0000"}', "app_type"),
    ('{"user_id": 6, "device_id": "d", "app_type": "\\udfff"}', "app_type"),
    (
        '{"user_id": 6, "device_id": "d", "app_type": "sales_app", "models_filter": ["\\ud800"]}',
        "models_filter",
    ),
    (
        '{"user_id": 6, "device_id": "d", "app_type": "sales_app", "models_filter": ["a\\u0000"]}',
        "models_filter",
    ),
    (
        '{"user_id": 6, "device_id": "d", "app_type": "sales_app", "sync_token": "v1.\\u0000"}',
        "sync_token",
    ),
    (
        '{"user_id": 6, "device_id": "d", "app_type": "sales_app", "sync_token": "\\ud800"}',
        "sync_token",
    ),
    (
        '{"user_id": 6, "device_id": "\\ud800", "app_type": "sales_app", "limit": "\\udc00"}',
        "limit",
    ),
]


@pytest.mark.parametrize(("body", "field"), HOLES)
def test_unstorable_input_is_422_naming_the_field(
    alice: httpx.Client, body: str, field: str
) -> None:
    response = alice.post(
        "/api/v2/sync/pull", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert field in [error["loc"][1] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v2/sync/state", {"user_id": 6, "device_id": "a\x00b"}),
        ("/api/v2/sync/reset", {"user_id": 6, "device_id": "\x00"}),
        ("/api/v1/webhook/events", {"model_name": "res.partner\x00"}),
        ("/api/v1/check-updates", {"since": "2025-01-01\x00"}),
    ],
)
def test_unstorable_query_parameters_are_422(
    alice: httpx.Client, path: str, params: dict[str, Any]
) -> None:
    method = "POST" if path.endswith("reset") else "GET"
    response = alice.request(method, path, params=params)
    assert response.status_code == 422, response.text
    assert list(params)[-1] in [error["loc"][1] for error in response.json()["detail"]]


def test_a_session_id_odoo_could_not_take_is_401(fuzz_stack: Stack) -> None:
    for sid in ("é" * 10, "a;b", "a b", "x" * 257):
        with httpx.Client(base_url=fuzz_stack.base_url) as client:
            response = client.get(
                "/api/v2/sync/state",
                params={"user_id": 6, "device_id": "d"},
                headers={b"X-Session-Id": sid.encode("latin-1")},
            )
        assert response.status_code == 401, (sid, response.text)


@given(
    # What an HTTP header can carry (latin-1 without controls, trimmed).
    sid=st.text(st.characters(max_codepoint=255, exclude_categories=["Cc"]), max_size=300).map(
        str.strip
    ),
    where=st.sampled_from(["header", "cookie"]),
)
@settings(max_examples=100, derandomize=True, deadline=None, database=None)
def test_any_session_id_is_a_401(fuzz_stack: Stack, sid: str, where: str) -> None:
    """Any session id but a real one: 401, whatever its characters."""
    raw = sid.encode("latin-1")
    headers = {b"X-Session-Id": raw} if where == "header" else {b"Cookie": b"session_id=" + raw}
    with httpx.Client(base_url=fuzz_stack.base_url) as client:
        response = client.get(
            "/api/v2/sync/state", params={"user_id": 6, "device_id": "d"}, headers=headers
        )
    _count("test_any_session_id_is_a_401", response.status_code)
    assert response.status_code == 401, (sid, response.text)


@given(
    operation=st.sampled_from(["state", "reset", "pull"]),
    user_id=(st.sampled_from([ADMIN.uid, BOB.uid, 1, 99]) | st.integers(1, 2**31 - 1)).filter(
        lambda uid: uid != ALICE.uid
    ),
    device_id=st.sampled_from([OTHER_DEVICE, "d"]) | st.text(min_size=1, max_size=20),
    position=st.sampled_from(["start", "head"]),
)
@settings(max_examples=150, derandomize=True, deadline=None, database=None)
def test_a_plain_user_never_reaches_another_users_state(
    alice: httpx.Client, operation: str, user_id: int, device_id: str, position: str
) -> None:
    """Alice, for any other user and any device (Bob's included): 403 or a
    refusal of the input, never an answer, never Bob's state."""
    if operation == "pull":
        response = alice.post(
            "/api/v2/sync/pull",
            json={"user_id": user_id, "device_id": device_id, "app_type": "sales_app"},
        )
    else:
        method = "GET" if operation == "state" else "POST"
        params: dict[str, str | int] = {"user_id": user_id, "device_id": device_id}
        if operation == "reset":
            params["position"] = position
        response = alice.request(method, f"/api/v2/sync/{operation}", params=params)
    _count("test_a_plain_user_never_reaches_another_users_state", response.status_code)
    assert response.status_code in (403, 422), response.text
    _assert_private(response)


def test_another_users_state_is_403(alice: httpx.Client) -> None:
    for method, path in (("GET", "/api/v2/sync/state"), ("POST", "/api/v2/sync/reset")):
        response = alice.request(
            method, path, params={"user_id": BOB.uid, "device_id": OTHER_DEVICE}
        )
        assert response.status_code == 403
        _assert_private(response)
