"""GET /: what runs here (the guide's verification step)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from .. import __version__
from .health import first_problem, readiness

router = APIRouter(tags=["service"])


@router.get("/")
async def root(request: Request) -> dict[str, object]:
    """`services.smart_sync` is "active" when the server can sync, else
    "degraded: <why>" (the first failing check of /health/ready)."""
    problem = first_problem(await readiness(request))
    smart_sync = "active" if problem is None else f"degraded: {problem}"
    return {
        "name": "odoo-webhook-server",
        "status": "running",
        "version": __version__,
        "services": {"smart_sync": smart_sync, "api_v2": "active", "api_v1": "active"},
        "docs": "/docs",
    }
