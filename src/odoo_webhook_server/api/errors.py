"""Every failure becomes a clear JSON answer, mapped in this one place.

422 bodies keep FastAPI's shape (``detail: [{loc, msg, type}]``) whether the
schema or the engine refused the field; other errors are
``{"detail": message, "code": ...}``. No response ever carries a stack trace.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import psycopg
import psycopg.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..auth.odoo_session import InvalidSession, OdooUnavailable
from ..storage.identity import MissingDatabaseIdentity
from ..storage.pool import database_error_reason
from ..sync.errors import (
    AppTypeForbidden,
    Conflict,
    InvalidRequest,
    StaleSyncToken,
    StateNotFound,
    SyncError,
)
from .deps import Forbidden

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Session"} if status == 401 else None
    return JSONResponse({"detail": message, "code": code, **extra}, status, headers=headers)


def _field_error(exc: InvalidRequest, request: Request) -> JSONResponse:
    where = "query" if exc.field in request.query_params else "body"
    item: dict[str, Any] = {"type": exc.code, "loc": [where, exc.field], "msg": exc.message}
    for attr in ("valid", "models"):
        if hasattr(exc, attr):
            item[attr] = getattr(exc, attr)
    return JSONResponse({"detail": [item]}, 422)


async def _sync_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SyncError)
    if isinstance(exc, InvalidRequest):
        return _field_error(exc, request)
    if isinstance(exc, StateNotFound):
        return _error(404, exc.code, exc.message)
    if isinstance(exc, AppTypeForbidden):
        return _error(403, exc.code, exc.message)
    if isinstance(exc, StaleSyncToken):
        return _error(409, exc.code, exc.message, resync_required=True)
    if isinstance(exc, Conflict):
        return _error(409, exc.code, exc.message)
    return _error(400, exc.code, exc.message)


def _echoable(value: Any) -> Any:
    """`value` made JSON-safe: the 422 echoes what was sent, which may hold
    NaN, infinities, lone surrogates or bytes that no JSON answer can carry."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value[:200]).decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_echoable(str(k)): _echoable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_echoable(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _echoable(str(value))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {k: _echoable(v) for k, v in error.items() if k in ("type", "loc", "msg", "input")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, 422)


async def _invalid_session(request: Request, exc: Exception) -> JSONResponse:
    return _error(401, "invalid_session", str(exc))


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return _error(403, "forbidden", str(exc))


async def _odoo_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("Odoo unavailable: %s", exc)
    return _error(503, "odoo_unavailable", "Odoo is unavailable; try again shortly")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        log.error("database schema missing: %s", exc)
        return _error(
            503,
            "schema_missing",
            "The sync tables are missing: install the custom_model_webhook addon "
            "(or run `odoo-webhook-server init-db`)",
        )
    if isinstance(exc, MissingDatabaseIdentity):
        log.error("%s", exc)
        return _error(503, "schema_missing", str(exc))
    if isinstance(exc, PoolTimeout):
        # The pool swallows why it cannot connect; it keeps the cause (and
        # logged it once). No cause: every connection is in use.
        services = getattr(request.app.state, "services", None)
        reason = getattr(getattr(services, "pool", None), "last_error", None) or "busy"
        if reason == "busy":
            log.warning("database busy: no free connection within the pool timeout")
    else:
        reason = database_error_reason(exc)
        log.warning("database unavailable: %s (%s)", reason, type(exc).__name__)
    message = (
        "The database is busy; try again shortly"
        if reason == "busy"
        else f"The database is unavailable ({reason}); try again shortly"
    )
    return _error(503, "database_unavailable", message, reason=reason)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _error(500, "internal_error", "Internal error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SyncError, _sync_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidSession, _invalid_session)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(OdooUnavailable, _odoo_unavailable)
    app.add_exception_handler(psycopg.Error, _database_error)
    app.add_exception_handler(MissingDatabaseIdentity, _database_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
