"""GET /api/v1/health."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas.v1 import HealthOut
from ...storage import v1_queries
from ..deps import CurrentSession, Database
from ..responses import errors

router = APIRouter()


@router.get("/health", response_model=HealthOut, responses=errors(401, 429, 503))
async def health(session: CurrentSession, conn: Database) -> HealthOut:
    """The server and its database answer (503 when the database does not).

    Authenticated like every v1 call; `GET /` answers without a session,
    for load balancers."""
    await v1_queries.ping(conn)
    return HealthOut()
