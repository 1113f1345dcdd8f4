"""Every error leaves the server as JSON ``{"error": code, "message": text}`` with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.services.features import FeatureStoreUnavailableError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def _body(code: str, message: str, **extra) -> dict:
    return {"error": code, "message": message, **extra}


def _wants_page(request: Request) -> bool:
    """A person's browser asking for a page (not the API, not a static file): it gets HTML, not JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/static/", "/vendor/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message, **exc.extra), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(FeatureStoreUnavailableError)
    async def store_unavailable(request: Request, exc: FeatureStoreUnavailableError) -> JSONResponse:
        return JSONResponse(_body("not_ready", exc.message), status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "body", "path")),
                "problem": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        message = "; ".join(f"{p['field'] or 'request'}: {p['problem']}" for p in problems)
        return JSONResponse(_body("invalid_request", message, problems=problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and _wants_page(request):
            return request.app.state.templates.TemplateResponse(
                request, "not_found.html", {"form": None, "known_versions": {}}, status_code=404
            )
        code = {404: "not_found", 405: "method_not_allowed", 408: "body_timeout", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            _body("internal_error", "something went wrong on our side; it has been logged"), status_code=500
        )
