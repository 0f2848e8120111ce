"""What can go wrong in a sync, as data. The HTTP layer maps each to a status
in one place (`api/errors.py`); nothing here knows about HTTP.

    SyncError
    ├── InvalidRequest          422: a field is wrong (names the field)
    │   ├── UnknownAppType
    │   ├── ModelsOutsideAppType
    │   └── InvalidSyncToken    malformed, forged, or another device's token
    ├── Conflict                409: valid request, but the state disagrees
    │   ├── SubscriptionChanged
    │   └── StaleSyncToken      another copy of the database, or superseded
    ├── StateNotFound           404
    └── AppTypeForbidden        403: the app type is limited to groups the user lacks
"""

from __future__ import annotations

__all__ = [
    "AppTypeForbidden",
    "Conflict",
    "InvalidRequest",
    "InvalidSyncToken",
    "ModelsOutsideAppType",
    "StaleSyncToken",
    "StateNotFound",
    "SubscriptionChanged",
    "SyncError",
    "UnknownAppType",
]


class SyncError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "sync_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidRequest(SyncError):
    code = "invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownAppType(InvalidRequest):
    code = "unknown_app_type"

    def __init__(self, app_type: str, valid: list[str]) -> None:
        super().__init__(
            "app_type",
            f"Unknown app_type {app_type!r}; valid app types: {', '.join(valid) or '(none)'}",
        )
        self.valid = valid


class ModelsOutsideAppType(InvalidRequest):
    code = "models_outside_app_type"

    def __init__(self, app_type: str, models: list[str]) -> None:
        super().__init__(
            "models_filter",
            f"models_filter may only narrow the models of {app_type!r}; "
            f"not visible to it: {', '.join(models)}",
        )
        self.models = models


class InvalidSyncToken(InvalidRequest):
    code = "invalid_sync_token"

    def __init__(self, message: str) -> None:
        super().__init__("sync_token", message)


class Conflict(SyncError):
    code = "conflict"


class SubscriptionChanged(Conflict):
    code = "subscription_changed"


class StaleSyncToken(Conflict):
    """The token is genuine but does not belong to this database's history.

    The device cannot know what it missed: it must reload its data and reset.
    """

    code = "resync_required"


class StateNotFound(SyncError):
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("Sync state not found")


class AppTypeForbidden(SyncError):
    code = "app_type_forbidden"

    def __init__(self, app_type: str, user_id: int) -> None:
        super().__init__(
            f"app_type {app_type!r} is limited to Odoo groups that user {user_id} is not in"
            " (set in Odoo: Webhooks -> Configuration -> App Types)"
        )
