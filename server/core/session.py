"""The anonymous session: a random id in a cookie, nothing else about the person.

It ties one browser's votes together (de-duplication, rate limits, per-session counts) and will pick the
A/B arm; it is minted by the server on the first request that lacks a valid one, never chosen by the client.
Static files and vendored packages are left without cookies so their cache entries stay shareable.
"""

from __future__ import annotations

import re
import secrets

from fastapi import FastAPI, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "glimpse_session"
MAX_AGE_S = 365 * 24 * 3600
PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")
NO_COOKIE_PREFIXES = ("/static/", "/vendor/", "/metrics", "/healthz", "/readyz")


def new_session_id() -> str:
    """128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def session_of(request: Request) -> str:
    """The request's session id (set by the middleware; minted here if the middleware did not run)."""
    session = getattr(request.state, "session", None)
    if session is None:
        session = request.state.session = new_session_id()
    return session


def cookie_header(session: str, secure: bool) -> str:
    """The Set-Cookie value for ``session``, written by Starlette's own cookie code."""
    response = Response()
    response.set_cookie(COOKIE, session, max_age=MAX_AGE_S, path="/", httponly=True, samesite="lax", secure=secure)
    return response.headers["set-cookie"]


class AnonymousSession:
    """Pure ASGI middleware: the session id in ``request.state.session``, a cookie minted when missing or
    malformed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_COOKIE_PREFIXES):
            await self.app(scope, receive, send)
            return
        given = Request(scope).cookies.get(COOKIE, "")
        fresh = not PATTERN.fullmatch(given)
        session = new_session_id() if fresh else given
        scope.setdefault("state", {})["session"] = session
        if not fresh:
            await self.app(scope, receive, send)
            return
        cookie = cookie_header(session, secure=scope.get("scheme") == "https")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def install(app: FastAPI) -> None:
    app.add_middleware(AnonymousSession)
