"""The error bodies of the API, documented once (see api/errors.py, which
makes them) and attached per route with `responses=`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "AUTHENTICATED",
    "ErrorOut",
    "ValidationErrorItem",
    "ValidationErrorOut",
    "errors",
]


class ErrorOut(BaseModel):
    """Every error but 422: a message for people and a code for programs."""

    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(description="What went wrong, for programs (e.g. invalid_session).")


class BadRequestOut(BaseModel):
    detail: str
    code: str | None = None


class ConflictOut(ErrorOut):
    resync_required: bool | None = Field(
        None,
        description="True when the device must reset (position=head), reload its data "
        "from Odoo, and pull without a token (code resync_required).",
    )


class ValidationErrorItem(BaseModel):
    type: str = Field(description="e.g. string_too_long, unknown_app_type, invalid_sync_token.")
    loc: list[str | int] = Field(description='Where: ["body" or "query", field, ...].')
    msg: str
    input: Any = Field(None, description="The value refused, when the schema refused it.")
    valid: list[str] | None = Field(None, description="For unknown_app_type: the app types.")
    models: list[str] | None = Field(
        None, description="For models_outside_app_type: the models the app type cannot see."
    )


class ValidationErrorOut(BaseModel):
    """A field was refused, by the schema or by the sync engine."""

    detail: list[ValidationErrorItem]


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

_RESPONSES: dict[int, dict[str, Any]] = {
    400: {
        "model": BadRequestOut,
        "description": "The body could not be read (e.g. not UTF-8).",
    },
    401: {
        "model": ErrorOut,
        "description": "No Odoo session, or an invalid or expired one "
        "(code invalid_session): log in again.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    403: {
        "model": ErrorOut,
        "description": "The session's user may not do this (code forbidden).",
    },
    404: {
        "model": ErrorOut,
        "description": "This user and device have no sync state (code not_found).",
    },
    409: {
        "model": ConflictOut,
        "description": "The request conflicts with the device's state "
        "(subscription_changed, resync_required).",
    },
    422: {
        "model": ValidationErrorOut,
        "description": "A field was refused; `loc` names it.",
    },
    429: {
        "model": ErrorOut,
        "description": "Too many requests (code rate_limited): wait Retry-After seconds.",
        "headers": _RETRY_AFTER,
    },
    503: {
        "model": ErrorOut,
        "description": "The database or Odoo is unavailable, or the sync tables are missing "
        "(database_unavailable, odoo_unavailable, schema_missing): try again shortly.",
    },
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that may answer these error statuses."""
    return {status: _RESPONSES[status] for status in sorted(statuses)}


AUTHENTICATED = (401, 429, 503)
"""What any route behind the session dependency may answer."""
