"""The FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from . import __version__
from .api import health, root, v1
from .api.deps import IdentityCache, RequestEndpointRoute, Services
from .api.direct import DirectRoutesMiddleware
from .api.docs import install_docs
from .api.errors import install_error_handlers
from .api.limits import install_limits
from .api.v2 import stats as stats_v2
from .api.v2 import sync as sync_v2
from .auth.odoo_session import OdooSessionValidator
from .config import Settings
from .observability.install import install_observability
from .storage.notify import ChangeNotifier
from .storage.odoo_users import UserAccessCache
from .storage.pool import make_pool
from .sync.engine import QuietStates
from .sync.shared import PullBatches, SharedReads

__all__ = ["create_app"]

# The cyclic garbage collector's thresholds while serving. Every waiting
# long poll keeps its objects alive for up to `wait` seconds, so with
# thousands of devices the default thresholds (700, 10, 10) made the
# collector re-scan them all again and again: at 10,000 waiting devices it
# took a fifth of the server's CPU, in full passes of ~0.5 s that stalled
# every request (measured with gc.callbacks in bench_live). Collecting after
# 50,000 allocations instead of 700 left the memory as it was (RSS 418 and
# 419 MB, one run each). docs/BENCHMARKS.md has the figures.
GC_THRESHOLDS = (50_000, 20, 20)


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
            notifier = ChangeNotifier(settings.database_url)
            quiet = QuietStates(
                lambda: notifier.changes,
                notifier.quiet_since,
                # A long poll at rest trusts its app type and rights as long
                # as the access cache trusts rights.
                rest_seconds=settings.session_cache_seconds,
            )
            app.state.services = Services(
                pool=pool,
                sessions=OdooSessionValidator(
                    client,
                    odoo_url=settings.odoo_url,
                    odoo_db=settings.odoo_db,
                    ttl=settings.session_cache_seconds,
                ),
                identity=IdentityCache(),
                notifier=notifier,
                shared_reads=SharedReads(pool, quiet),
                pull_batches=PullBatches(pool, quiet),
                access=UserAccessCache(settings.session_cache_seconds),
                quiet=quiet,
            )
            app.state.odoo_probe = health.OdooProbe(client, settings.odoo_url)
            # Listening from the start: the first change after a start wakes
            # its waiting pulls at once.
            app.state.services.notifier.start()
            # Objects made at start-up live forever: keep them out of the
            # garbage collector's full passes, which otherwise stall requests.
            gc.collect()
            gc.freeze()
            thresholds = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                await app.state.services.notifier.stop()
                await pool.close()

    app = FastAPI(
        title="odoo-webhook-server",
        version=__version__,
        description="Smart sync between Odoo 18 and mobile apps.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, with local assets
        redoc_url=None,
        # The server's own metrics and logs (observability/) are its telemetry;
        # FastAPI's native OpenTelemetry would otherwise look up the global
        # providers, in the environment, on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_docs(app)

    # Innermost: the pull, called straight from the middlewares (api.direct).
    app.add_middleware(
        DirectRoutesMiddleware,
        routes=[r for r in sync_v2.router.routes if isinstance(r, RequestEndpointRoute)],
    )
    install_limits(app, settings)  # then CORS, outside the limits
    install_observability(app, settings)  # outermost: request id, metrics, logs; /metrics
    app.include_router(root.router)
    app.include_router(health.router)
    app.include_router(sync_v2.router)
    app.include_router(stats_v2.router)
    app.include_router(v1.router)
    return app
