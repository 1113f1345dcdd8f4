"""The body of a vote: JSON from scripts, or the urlencoded form the no-JavaScript page posts to the same URL.

FastAPI parses one body type per route, so this reads the body itself: capped at ``MAX_BODY`` before it is
parsed (a declared or streamed excess is refused unread), parsed by its media type, then validated by the
``FeedbackIn`` model; the OpenAPI request body is generated from the same models.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from server.api.errors import ApiError
from server.services.search import QueryError, clean_query
from server.services.uploads import IMAGE_ID

MAX_BODY = 16 * 1024
MAX_FORM_FIELDS = 32
MODEL_VERSION = re.compile(r"[A-Za-z0-9._-]{1,64}")
VOTES: dict[Any, int] = {1: 1, -1: -1, "1": 1, "+1": 1, "-1": -1, "up": 1, "down": -1}
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_value", message)


class FeedbackIn(BaseModel):
    """One vote. Exactly one of ``query`` / ``query_image_id`` names the search it judges."""

    model_config = ConfigDict(extra="ignore")

    image_id: str = Field(description="The result voted on: 32 hexadecimal characters")
    vote: int = Field(description='1 or -1 (also "up" / "down")')
    query: str | None = Field(default=None, description="The words searched for, 1–500 characters")
    query_image_id: str | None = Field(default=None, description="The image searched with (32 hex)")
    model_version: str = Field(description="The registered model version (a number) that answered")
    rank: int | None = Field(default=None, ge=1, le=100, description="Position of the result, 1–100")

    @field_validator("image_id", "query_image_id", mode="before")
    @classmethod
    def _image_id(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip().lower()
        if not IMAGE_ID.fullmatch(value):
            raise _invalid("must be 32 hexadecimal characters")
        return value

    @field_validator("vote", mode="before")
    @classmethod
    def _vote(cls, value: Any) -> int:
        if isinstance(value, str):
            value = value.strip().lower()
        if isinstance(value, bool) or not isinstance(value, int | str) or value not in VOTES:
            raise _invalid('must be 1 or -1 ("up" or "down")')
        return VOTES[value]

    @field_validator("query", mode="before")
    @classmethod
    def _query(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return clean_query(value)  # the search route's own cleaning: same text as was searched
        except QueryError as exc:
            raise _invalid(str(exc)) from None

    @field_validator("model_version")
    @classmethod
    def _model_version(cls, value: str) -> str:
        if not MODEL_VERSION.fullmatch(value):
            raise _invalid("must be 1–64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("rank", mode="before")
    @classmethod
    def _rank(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise _invalid("must be a whole number from 1 to 100")
        return value


def unprocessable(problems: list[dict[str, str]]) -> ApiError:
    message = "; ".join(f"{p['field'] or 'request'}: {p['problem']}" for p in problems)
    return ApiError(422, "invalid_request", message, problems=problems)


def _too_large() -> ApiError:
    return ApiError(413, "body_too_large", f"the request body is larger than {MAX_BODY // 1024} KB")


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``MAX_BODY`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", "the Content-Length header is not a number")
        if int(declared) > MAX_BODY:
            raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large()
    return bytes(body)


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise unprocessable([{"field": "", "problem": "the body is not valid JSON"}]) from None
    if not isinstance(data, dict):
        raise unprocessable([{"field": "", "problem": "the body must be a JSON object"}])
    return data


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except ValueError:  # not UTF-8, or too many fields
        raise unprocessable([{"field": "", "problem": "the form could not be read"}]) from None
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name in data:
            raise unprocessable([{"field": name, "problem": "given more than once"}])
        data[name] = value
    for optional in ("query", "query_image_id", "rank"):  # a form sends empty inputs as ""
        if data.get(optional) == "":
            data[optional] = None
    return data


def _validate(data: dict[str, Any]) -> FeedbackIn:
    try:
        vote = FeedbackIn.model_validate(data)
    except ValidationError as exc:
        raise unprocessable(
            [
                {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    if (vote.query is None) == (vote.query_image_id is None):
        raise unprocessable(
            [
                {
                    "field": "query",
                    "problem": "send exactly one of query (the words searched for) "
                    "or query_image_id (the image searched with)",
                }
            ]
        )
    return vote


class FeedbackForm(FeedbackIn):
    """The page's form: a vote plus where to go back to."""

    return_to: str = Field(default="", description="Same-site path to go back to (303)")


REQUEST_BODY = {
    "required": True,
    "content": {
        JSON_TYPE: {"schema": FeedbackIn.model_json_schema()},
        FORM_TYPE: {"schema": FeedbackForm.model_json_schema()},
    },
}


async def read_vote(request: Request) -> tuple[FeedbackIn, bool, str | None]:
    """(the vote, whether it came from the form, the form's ``return_to``); ApiError 400/413/415/422 otherwise."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in (JSON_TYPE, FORM_TYPE):
        raise ApiError(415, "unsupported_media_type", f"send {JSON_TYPE} or an HTML form ({FORM_TYPE})")
    body = await _read_body(request)
    is_form = media_type == FORM_TYPE
    data = _parse_form(body) if is_form else _parse_json(body)
    return_to = data.pop("return_to", None) if is_form else None
    return _validate(data), is_form, return_to
