"""The FastAPI application."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response

from . import __version__
from .api import root, v1
from .api.deps import IdentityCache, Services
from .api.errors import install_error_handlers
from .api.v2 import stats as stats_v2
from .api.v2 import sync as sync_v2
from .auth.odoo_session import OdooSessionValidator
from .config import Settings
from .storage.notify import ChangeNotifier
from .storage.pool import make_pool

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None, *, odoo_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the app. `odoo_transport` lets tests and the demo play Odoo's
    HTTP endpoints without patching anything."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(
            settings.database_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout_seconds,
        )
        await pool.open(wait=False)  # start even while PostgreSQL is down: 503 until it is up
        async with httpx.AsyncClient(
            transport=odoo_transport, timeout=settings.odoo_timeout_seconds
        ) as client:
            app.state.services = Services(
                pool=pool,
                sessions=OdooSessionValidator(
                    client,
                    odoo_url=settings.odoo_url,
                    odoo_db=settings.odoo_db,
                    ttl=settings.session_cache_seconds,
                ),
                identity=IdentityCache(),
                notifier=ChangeNotifier(settings.database_url),
            )
            try:
                yield
            finally:
                await app.state.services.notifier.stop()
                await pool.close()

    app = FastAPI(
        title="odoo-webhook-server",
        version=__version__,
        description="Smart sync between Odoo 18 and mobile apps.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    @app.middleware("http")
    async def server_timing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Time spent inside the server, for clients and benchmarks to read.
        started = time.perf_counter()
        response = await call_next(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.3f}"
        return response

    app.include_router(root.router)
    app.include_router(sync_v2.router)
    app.include_router(stats_v2.router)
    app.include_router(v1.router)
    return app
