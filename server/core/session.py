"""The anonymous session: a random id in a cookie, nothing else about the person.

It ties one browser's votes together (de-duplication, rate limits, per-session counts) and will pick the
A/B arm; it is minted by the server on the first request that lacks a valid one, never chosen by the client.
Static files and vendored packages are left without cookies so their cache entries stay shareable.
"""

from __future__ import annotations

import re
import secrets

from fastapi import FastAPI, Request

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


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def anonymous_session(request: Request, call_next):
        if request.url.path.startswith(NO_COOKIE_PREFIXES):
            return await call_next(request)
        given = request.cookies.get(COOKIE, "")
        fresh = not PATTERN.fullmatch(given)
        request.state.session = new_session_id() if fresh else given
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                COOKIE,
                request.state.session,
                max_age=MAX_AGE_S,
                path="/",
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
        return response
