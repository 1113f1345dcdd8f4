"""The OpenAPI side of answers: the one error body and the ``responses=`` entries routes declare.

The answers themselves are in ``server/schemas.py``. ``tests/server/test_openapi_fuzz.py`` runs Schemathesis
against the schema and fails when an answer (status, content type, header or body) is not the one declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    field: str = Field(description="The field at fault (dotted path); empty for the request as a whole")
    problem: str = Field(description="What is wrong with it")


class ErrorBody(BaseModel):
    """Every error: ``{"error": code, "message": text}``, plus details for some codes."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"error": "unknown_image", "message": "there is no image 0123…"}]},
    )

    error: str = Field(description="Machine-readable code, e.g. invalid_request, unknown_model, not_ready")
    message: str = Field(description="A sentence for people")
    problems: list[Problem] = Field(default=[], description="invalid_request: one entry per field at fault")
    known: list[str] = Field(default=[], description="unknown_model: the versions and aliases that exist")


_ERRORS: dict[int, str] = {
    400: "Malformed request (a Content-Length that is not a number)",
    404: "Not found",
    413: "Request body too large",
    414: "Query string too long",
    415: "Unsupported media type",
    422: "Invalid request: `problems` names the fields at fault",
    429: "Too many requests: try again after `Retry-After` seconds",
    503: "Not ready or temporarily unavailable",
}
_HEADERS: dict[int, dict[str, Any]] = {
    429: {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}},
}


def error_responses(*statuses: int, describe: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error statuses a route can answer, all with the JSON ``ErrorBody``."""
    describe = describe or {}
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": describe.get(status, _ERRORS[status])}
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        out[status] = entry
    return out


BINARY = {"schema": {"type": "string", "format": "binary"}}


def binary_response(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """A 200 whose body is bytes of one of ``media_types``."""
    return {200: {"description": description, "content": dict.fromkeys(media_types, BINARY)}}
