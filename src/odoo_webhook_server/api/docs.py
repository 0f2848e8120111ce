"""/docs (Swagger UI) and /redoc, served with their assets by this server:
they work offline and without any CDN. The assets come from the pinned
`fastapi-offline` package (its static folder: Swagger UI 5 and ReDoc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.constants import REF_TEMPLATE
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.models import OpenAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

__all__ = ["ASSETS_URL", "install_docs", "json_body_openapi"]

ASSETS_URL = "/docs-assets"
_ASSETS = Path(fastapi_offline.__file__).parent / "static"


# Bodies that routes read themselves (deps.json_body), by schema name.
_SELF_READ_BODIES: dict[str, type[BaseModel]] = {}


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The `openapi_extra` of a route that reads its JSON body itself: the
    body documented as FastAPI documents a body parameter, `model` among
    the components (install_docs)."""
    _SELF_READ_BODIES[model.__name__] = model
    schema = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _with_self_read_bodies(app: FastAPI) -> None:
    generate = app.openapi
    made: dict[int, dict[str, Any]] = {}  # by id of FastAPI's own (cached) schema

    def openapi() -> dict[str, Any]:
        schema = generate()
        if id(schema) not in made:
            made.clear()
            components = dict(schema.get("components", {}).get("schemas", {}))
            for name, model in _SELF_READ_BODIES.items():
                own = model.model_json_schema(ref_template=REF_TEMPLATE)
                components.update(own.pop("$defs", {}))
                components[name] = own
            full = {**schema, "components": {**schema.get("components", {})}}
            full["components"]["schemas"] = dict(sorted(components.items()))
            made[id(schema)] = jsonable_encoder(OpenAPI(**full), by_alias=True, exclude_none=True)
        return made[id(schema)]

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """Serve the docs pages; the app must be made with docs_url=None and
    redoc_url=None (FastAPI's own pages load their assets from a CDN)."""
    _with_self_read_bodies(app)
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # No validator badge: it would call validator.swagger.io.
            swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
