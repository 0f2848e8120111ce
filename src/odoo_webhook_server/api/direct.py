"""The hottest routes called straight from the middleware stack.

A long-polling device makes one request per change it receives, so at scale
the server's CPU goes mostly to the HTTP path of one route, the pull. Its
endpoint already reads its session and body itself (deps.RequestEndpointRoute);
this middleware, the innermost of the app's own, also spares it the layers
between the app's middlewares and the endpoint: Starlette's exception
middleware, FastAPI's exit stack and the router's matching through every
included router (docs/BENCHMARKS.md has the figures).

What the route answers does not change: the app's exception handlers, looked
up as Starlette's exception middleware looks them up, turn its errors into
answers; an exception without a handler goes up to the app's error handler
as before; the middlewares outside (observability, limits, CORS) see the
request as any other, with its route in the scope. Any other method or path
goes on to the router.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette._exception_handler import wrap_app_handling_exceptions
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .deps import RequestEndpointRoute

__all__ = ["DirectRoutesMiddleware"]


class DirectRoutesMiddleware:
    def __init__(self, app: ASGIApp, *, routes: Iterable[RequestEndpointRoute]) -> None:
        self.app = app
        self.routes = {
            (method, route.path): route for route in routes for method in route.methods or ()
        }
        self._handlers: tuple[dict[Any, Any], dict[Any, Any]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http":
            route = self.routes.get((scope["method"], get_route_path(scope)))
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["starlette.exception_handlers"] = self._exception_handlers(scope)
        request = Request(scope, receive, send)

        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            response = await route.endpoint(request)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(endpoint, request)(scope, receive, send)

    def _exception_handlers(self, scope: Scope) -> tuple[dict[Any, Any], dict[Any, Any]]:
        """The app's handlers as Starlette's exception middleware holds them:
        by exception class and by status code, without the catch-all (500,
        Exception), which stays with the outermost error middleware."""
        if self._handlers is None:
            by_class: dict[Any, Any] = {}
            by_status: dict[Any, Any] = {}
            for key, handler in scope["app"].exception_handlers.items():
                if key in (500, Exception):
                    continue
                (by_status if isinstance(key, int) else by_class)[key] = handler
            self._handlers = (by_class, by_status)
        return self._handlers
