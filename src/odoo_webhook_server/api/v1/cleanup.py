"""DELETE /api/v1/cleanup: v1's manual cleanup, made safe for v2 devices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from odoo_webhook_core import archiving

from ...schemas.v1 import CleanupOut, QueryDatetime
from ...storage.stats import run_blocking
from ..deps import AdminSession
from ..responses import AUTHENTICATED, errors

router = APIRouter()


@router.delete("/cleanup", response_model=CleanupOut, responses=errors(*AUTHENTICATED, 403, 422))
async def cleanup(
    session: AdminSession,
    request: Request,
    before: Annotated[
        QueryDatetime,
        Query(
            description="Delete events stamped before this ISO 8601 date or datetime "
            "(naive = UTC).",
            examples=["2025-11-15"],
        ),
    ],
    force: Annotated[
        bool,
        Query(description="Delete also events that active v2 devices have not acknowledged."),
    ] = False,
) -> CleanupOut:
    """Delete old events; administrators and webhook managers only.

    Events that an active v2 device (one that synced within the inactivity
    window set in Odoo) has not acknowledged are kept, unless `force` is
    given; the answer says how many were kept and why. Devices behind a
    deleted event are told to resync on their next pull. Prefer the
    automatic archiving: it never needs this call."""
    result = await run_blocking(
        request.app.state.services.pool.conninfo,
        lambda cur, commit: archiving.cleanup_before(
            cur, before, archiving.read_policy(cur), force=force, commit=commit
        ),
    )
    return CleanupOut.of(result, before=before, forced=force)
