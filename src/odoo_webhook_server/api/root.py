"""GET /: what runs here (the guide's verification step)."""

from __future__ import annotations

from fastapi import APIRouter

from .. import __version__

router = APIRouter(tags=["service"])


@router.get("/")
async def root() -> dict[str, object]:
    return {
        "name": "odoo-webhook-server",
        "status": "running",
        "version": __version__,
        "services": {"smart_sync": "active", "api_v2": "active", "api_v1": "active"},
        "docs": "/docs",
    }
