"""Python client of the /api/v2/sync API, on httpx, sync and async.

    from odoo_webhook_server.client import JsonFileStore, SyncClient, stable_device_id

    store = JsonFileStore("sync-state.json")
    with SyncClient("http://127.0.0.1:8000", session_id, user_id=2,
                    device_id=stable_device_id(store), app_type="sales_app",
                    store=store) as client:
        client.live(apply)            # apply(events) for each batch, then acknowledged

Needs only httpx (no FastAPI, no PostgreSQL driver). Guide: docs/clients/python.md.
"""

from ._async import AsyncSyncClient
from ._errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NetworkError,
    NotFound,
    ResyncRequired,
    ServerUnavailable,
    SessionExpired,
    SubscriptionChanged,
    SyncError,
    Unavailable,
    UnexpectedResponse,
)
from ._protocol import Backoff, Event, SyncState
from ._store import JsonFileStore, MemoryStore, Store, stable_device_id
from ._sync import SyncClient

__all__ = [
    "AsyncSyncClient",
    "Backoff",
    "Conflict",
    "Event",
    "Forbidden",
    "InvalidRequest",
    "JsonFileStore",
    "MemoryStore",
    "NetworkError",
    "NotFound",
    "ResyncRequired",
    "ServerUnavailable",
    "SessionExpired",
    "Store",
    "SubscriptionChanged",
    "SyncClient",
    "SyncError",
    "SyncState",
    "Unavailable",
    "UnexpectedResponse",
    "stable_device_id",
]
