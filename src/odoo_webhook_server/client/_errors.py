"""What the sync client raises: one hierarchy, every class exported.

    SyncError                     base: `status_code` (None without an answer),
    │                             `code` and `detail` as the server sent them
    ├── Unavailable               temporary; `live()` backs off and retries these
    │   ├── NetworkError          no answer: connection refused or reset, timeout,
    │   │                         a response lost on the way
    │   └── ServerUnavailable     503: Odoo or PostgreSQL unreachable (also a
    │                             proxy's 502/504)
    ├── SessionExpired            401: the Odoo session is missing, invalid or logged
    │                             out, and `on_session_expired` did not cure it
    ├── Forbidden                 403: the session may not act for this user
    ├── NotFound                  404: no sync state yet (state/reset before a pull)
    ├── Conflict                  409
    │   ├── ResyncRequired        events this device had not applied are gone:
    │   │                         reload the data (`on_resync`), go on from the head
    │   └── SubscriptionChanged   app_type/models_filter differ from the device's
    ├── InvalidRequest            422: `detail` is the server's list of
    │                             `{loc, msg, type, ...}`, one per wrong field
    └── UnexpectedResponse        any other answer (500, a body that is not the API's)

Catch `SyncError` for all of them, `Unavailable` for the ones worth retrying.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "NetworkError",
    "NotFound",
    "ResyncRequired",
    "ServerUnavailable",
    "SessionExpired",
    "SubscriptionChanged",
    "SyncError",
    "Unavailable",
    "UnexpectedResponse",
]


class SyncError(Exception):
    """Base of every error the sync client raises."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.detail: Any = detail if detail is not None else message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code})"


class Unavailable(SyncError):
    """Temporary: trying again later may succeed."""


class NetworkError(Unavailable):
    """No answer came: the server was not reached or the answer was lost."""


class ServerUnavailable(Unavailable):
    """503 (or a proxy's 502/504): the server cannot reach Odoo or PostgreSQL."""


class SessionExpired(SyncError):
    """401: log in to Odoo again and give the client the new session id."""


class Forbidden(SyncError):
    """403: the session's user may not sync for this user_id."""


class NotFound(SyncError):
    """404: the device has no sync state on the server yet."""


class Conflict(SyncError):
    """409: the request is valid but the device's state disagrees."""


class ResyncRequired(Conflict):
    """The device cannot know what it missed: reload the data, then continue
    from the head of the stream. Raised only when no `on_resync` is given."""


class SubscriptionChanged(Conflict):
    """The device's app_type/models_filter changed: a reset is needed."""


class InvalidRequest(SyncError):
    """422: `detail` lists the wrong fields as the server named them."""


class UnexpectedResponse(SyncError):
    """An answer the API does not give on purpose (500, not JSON, ...)."""
