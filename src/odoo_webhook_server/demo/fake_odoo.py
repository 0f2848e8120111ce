"""A stand-in for the Odoo 18 web endpoints this server calls.

It answers exactly as Odoo 18.0 does (checked against a real Odoo 18 by
tests_odoo/): JSON-RPC 2.0 over ``POST``, the session in the ``session_id``
cookie, ``/web/session/authenticate`` setting that cookie, and
``/web/session/get_session_info`` returning the session info, or a
``SessionExpiredException`` error (code 100, HTTP 200) for an unknown
session; with ``multi_db_without_dbfilter`` an unknown session gets Odoo's
HTTP 404 page instead, as a multi-database Odoo without dbfilter does.
Used by the tests and by ``odoo-webhook-server demo``; never by ``serve``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

__all__ = ["FakeOdoo", "FakeUser"]


@dataclass
class FakeUser:
    uid: int
    login: str
    password: str
    name: str
    is_admin: bool = False


@dataclass
class FakeOdoo:
    db: str = "odoo"
    users: list[FakeUser] = field(default_factory=list)
    multi_db_without_dbfilter: bool = False
    sessions: dict[str, int] = field(default_factory=dict)
    session_info_calls: int = 0
    down: bool = False  # answer 502 like a proxy in front of a stopped Odoo

    def login(self, login: str) -> str:
        """A new session for `login`, as /web/session/authenticate would make."""
        user = next(u for u in self.users if u.login == login)
        sid = secrets.token_urlsafe(54)[:70]
        self.sessions[sid] = user.uid
        return sid

    def logout(self, sid: str) -> None:
        self.sessions.pop(sid, None)

    def session_info(self, uid: int) -> dict[str, Any]:
        user = next(u for u in self.users if u.uid == uid)
        return {
            "uid": user.uid,
            "is_system": user.is_admin,
            "is_admin": user.is_admin,
            "is_public": False,
            "is_internal_user": True,
            "user_context": {"lang": "en_US", "tz": "Europe/Brussels", "uid": user.uid},
            "db": self.db,
            "registry_hash": "0" * 64,
            "server_version": "18.0-20241107",
            "server_version_info": [18, 0, 0, "final", 0, ""],
            "support_url": "https://www.odoo.com/help",
            "name": user.name,
            "username": user.login,
            "partner_display_name": user.name,
            "partner_id": user.uid + 1,
            "web.base.url": "http://localhost:8069",
            "active_ids_limit": 20000,
            "profile_session": None,
            "profile_collectors": None,
            "profile_params": None,
            "max_file_upload_size": 134217728,
            "home_action_id": False,
            "cache_hashes": {"translations": "0" * 40},
            "currencies": {},
            "bundle_params": {"lang": "en_US"},
            "test_mode": False,
            "view_info": {},
            "groups": {"base.group_allow_export": True},
        }

    @staticmethod
    def _result(request_id: Any, result: Any) -> JSONResponse:
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})

    @staticmethod
    def _session_expired(request_id: Any) -> JSONResponse:
        return JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {
                    "code": 100,
                    "message": "Odoo Session Expired",
                    "data": {
                        "name": "odoo.http.SessionExpiredException",
                        "debug": "Traceback (most recent call last):\n...",
                        "message": "Session expired",
                        "arguments": ["Session expired"],
                        "context": {},
                    },
                },
            }
        )

    async def _get_session_info(self, request: Request) -> Response:
        self.session_info_calls += 1
        if self.down:
            return HTMLResponse("<h1>502 Bad Gateway</h1>", 502)
        body = await request.json()
        uid = self.sessions.get(request.cookies.get("session_id", ""))
        if uid is None:
            if self.multi_db_without_dbfilter:
                return HTMLResponse("<!DOCTYPE html><title>404: Not Found</title>", 404)
            return self._session_expired(body.get("id"))
        return self._result(body.get("id"), self.session_info(uid))

    async def _health(self, request: Request) -> Response:
        """Odoo 18's ``GET /web/health`` (no session, no database)."""
        if self.down:
            return HTMLResponse("<h1>502 Bad Gateway</h1>", 502)
        return JSONResponse({"status": "pass"})

    async def _authenticate(self, request: Request) -> Response:
        body = await request.json()
        params = body.get("params", {})
        user = next(
            (
                u
                for u in self.users
                if u.login == params.get("login") and u.password == params.get("password")
            ),
            None,
        )
        if user is None or params.get("db") != self.db:
            return JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": body.get("id"),
                    "error": {
                        "code": 200,
                        "message": "Odoo Server Error",
                        "data": {
                            "name": "odoo.exceptions.AccessDenied",
                            "debug": "Traceback (most recent call last):\n...",
                            "message": "Access Denied",
                            "arguments": ["Access Denied"],
                            "context": {},
                        },
                    },
                }
            )
        sid = self.login(user.login)
        response = self._result(body.get("id"), self.session_info(user.uid))
        response.set_cookie("session_id", sid, max_age=604800, httponly=True)
        return response

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/web/session/get_session_info", self._get_session_info, methods=["POST"]),
                Route("/web/session/authenticate", self._authenticate, methods=["POST"]),
                Route("/web/health", self._health, methods=["GET"]),
            ]
        )
