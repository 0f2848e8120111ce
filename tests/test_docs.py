"""The API is documented (issue 8): /docs and /redoc work offline, with
their assets served here; the OpenAPI names the session security schemes
and the error bodies."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from .conftest import Stack

_ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _references(html: str) -> list[str]:
    return [a or b for a, b in _ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_use_only_local_assets(stack: Stack, page: str) -> None:
    with httpx.Client(base_url=stack.base_url) as client:
        response = client.get(page)
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
        references = _references(response.text)
        assert any(ref.endswith(".js") for ref in references), references
        assert "/openapi.json" in references
        for ref in references:
            assert ref.startswith("/") and not ref.startswith("//"), ref
            asset = client.get(ref)
            assert asset.status_code == 200, ref
            assert asset.content, ref
        assert "cdn." not in response.text
        assert "fonts.googleapis" not in response.text


def test_swagger_ui_has_no_online_validator(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url) as client:
        html = client.get("/docs").text
    assert '"validatorUrl": null' in html


def test_swagger_ui_oauth2_redirect_page(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url) as client:
        assert client.get("/docs/oauth2-redirect").status_code == 200


def _openapi(stack: Stack) -> dict[str, Any]:
    with httpx.Client(base_url=stack.base_url) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


def test_openapi_security_schemes_on_authenticated_routes(stack: Stack) -> None:
    spec = _openapi(stack)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["SessionHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Session-Id",
        "description": "The caller's Odoo session id.",
    }
    assert schemes["SessionCookie"]["in"] == "cookie"
    assert schemes["SessionCookie"]["name"] == "session_id"
    pull = spec["paths"]["/api/v2/sync/pull"]["post"]
    assert {"SessionHeader": []} in pull["security"]
    assert {"SessionCookie": []} in pull["security"]
    assert "security" not in spec["paths"]["/"]["get"]
    # The header is a security scheme, not a parameter.
    assert not [p for p in pull.get("parameters", []) if p["name"] == "X-Session-Id"]


def test_openapi_documents_the_error_bodies(stack: Stack) -> None:
    spec = _openapi(stack)
    pull = spec["paths"]["/api/v2/sync/pull"]["post"]["responses"]
    assert {"401", "403", "409", "422", "429", "503"} <= set(pull)
    state = spec["paths"]["/api/v2/sync/state"]["get"]["responses"]
    assert {"401", "403", "404", "422", "429", "503"} <= set(state)
    assert "Retry-After" in pull["429"]["headers"]
    error = spec["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"detail", "code"}
    ref = pull["422"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ValidationErrorOut")
    # Every operation documents the errors its session and database may cause.
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if path.startswith("/api/"):
                assert "503" in operation["responses"], (method, path)
