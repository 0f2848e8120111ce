"""GET /api/v2/sync/stats: archiving and device lag, for managers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from odoo_webhook_core import archiving
from pydantic import BaseModel, Field

from ...schemas.v2 import EventOut
from ...storage.stats import app_type_lag, run_blocking
from ..deps import AdminSession, Database
from ..responses import AUTHENTICATED, errors

router = APIRouter(prefix="/api/v2/sync", tags=["sync v2"])


class AppTypeStats(BaseModel):
    app_type: str
    active_devices: int
    oldest_unacknowledged: EventOut | None = Field(
        description="The oldest event, by stream position, that an active device of this "
        "app type has not acknowledged; null when they are all caught up."
    )


class StatsOut(BaseModel):
    total_events: int
    active_events: int
    archived_events: int
    archive_percentage: float
    active_devices: int
    inactive_devices: int
    inactive_device_days: int = Field(
        description="A device that has not synced for this many days counts as inactive."
    )
    app_types: list[AppTypeStats]


@router.get("/stats", response_model=StatsOut, responses=errors(*AUTHENTICATED, 403))
async def stats(session: AdminSession, conn: Database, request: Request) -> StatsOut:
    """`get_archive_stats()` of the guide, plus how far behind the active
    devices of each app type are. Administrators and webhook managers only."""

    def read(cur: archiving.DbCursor, _: object) -> tuple[archiving.ArchivePolicy, dict[str, Any]]:
        policy = archiving.read_policy(cur)
        return policy, archiving.archive_stats(
            cur, inactive_device_days=policy.inactive_device_days
        )

    policy, totals = await run_blocking(request.app.state.services.pool.conninfo, read)
    lags = await app_type_lag(conn, policy.inactive_device_days)
    return StatsOut(
        **totals,
        inactive_device_days=policy.inactive_device_days,
        app_types=[
            AppTypeStats(
                app_type=lag.app_type,
                active_devices=lag.active_devices,
                oldest_unacknowledged=(
                    EventOut.of(lag.oldest_unacknowledged) if lag.oldest_unacknowledged else None
                ),
            )
            for lag in lags
        ],
    )
