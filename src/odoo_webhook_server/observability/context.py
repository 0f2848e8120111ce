"""What one request did, for its log line: set by the request middleware,
filled in by the code that learns it (the session's user, the device, the
app type, the events served)."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from typing import Any

__all__ = ["begin", "current", "end", "mask_session", "note"]

_current: ContextVar[dict[str, Any] | None] = ContextVar("odoo_sync_request", default=None)


def current() -> dict[str, Any] | None:
    """The running request's fields, or None outside a request."""
    return _current.get()


def note(**fields: Any) -> None:
    """Record facts about the running request (no-op outside one)."""
    info = _current.get()
    if info is not None:
        info.update(fields)


def mask_session(session_id: str) -> str:
    """A short, stable, non-reversible name of a session id for logs."""
    return "sid:" + hashlib.sha256(session_id.encode()).hexdigest()[:12]


def begin(**fields: Any) -> object:
    """Start a request's record; pass the returned token to `end`."""
    return _current.set(dict(fields))


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
