"""/api/v1: the endpoints of v1.0.0, kept for apps not yet moved to v2.

Every call is authenticated like v2 (the caller's Odoo session)."""

from __future__ import annotations

from fastapi import APIRouter

from . import cleanup, events, health

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["v1 (compatibility)"])
router.include_router(events.router)
router.include_router(cleanup.router)
router.include_router(health.router)
