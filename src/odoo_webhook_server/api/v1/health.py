"""GET /api/v1/health."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas.v1 import HealthOut
from ...storage import v1_queries
from ..deps import Database
from ..responses import errors

router = APIRouter()


@router.get("/health", response_model=HealthOut, responses=errors(429, 503))
async def health(conn: Database) -> HealthOut:
    """The server and its database answer (503 `database_unavailable`, with
    the `reason`, when the database does not). No session needed: it is for
    monitoring (see also /health/ready)."""
    await v1_queries.ping(conn)
    return HealthOut()
