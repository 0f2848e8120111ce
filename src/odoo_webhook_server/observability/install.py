"""Wiring of the observability pieces into the app (called by main.create_app)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from ..config import Settings
from . import metrics
from .logging import configure_logging
from .middleware import RequestObservabilityMiddleware

__all__ = ["install_observability"]


async def _metrics(request: Request) -> Response:
    services = getattr(request.app.state, "services", None)
    if services is not None:
        metrics.update_pool(services.pool.get_stats())
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Add last (outermost): the request middleware, then GET /metrics."""
    configure_logging(settings.log_format)
    app.add_middleware(RequestObservabilityMiddleware, log_requests=settings.log_format == "json")
    app.add_api_route(
        "/metrics",
        _metrics,
        methods=["GET"],
        include_in_schema=False,
        summary="Prometheus metrics",
    )
