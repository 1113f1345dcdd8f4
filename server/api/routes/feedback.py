"""Votes on search results: ``POST /api/feedback`` (JSON, or a plain HTML form for the no-JavaScript page),
``GET /api/feedback/summary`` and ``GET /api/feedback/stats`` (counts and rates per model version, A/B split).

The session is the server's anonymous cookie (server/core/session.py), never a value from the body. A vote
must name a registered model version (404 otherwise) and a known image (404); each session and each client
address has a votes-per-minute limit (429 with Retry-After); repeating one's latest vote stores nothing (200).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from server.api.deps import get_experiment, get_features, get_feedback, get_pool, get_served, get_vote_limits
from server.api.errors import ApiError
from server.api.routes.search import clean_query
from server.api.schemas import VoteRecorded, error_responses
from server.core.session import session_of
from server.services.experiment import Experiment
from server.services.features import FeatureReader
from server.services.feedback import FeedbackStore, FeedbackUnavailableError
from server.services.model_pool import ModelPool, UnknownModelError
from server.services.rate_limit import Limiter
from server.services.served import ServedCounter
from server.services.uploads import IMAGE_ID

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/feedback", tags=["feedback"])

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
        except ApiError as exc:
            raise _invalid(exc.message.removeprefix("q: ")) from None

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


def _unprocessable(problems: list[dict[str, str]]) -> ApiError:
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
        raise _unprocessable([{"field": "", "problem": "the body is not valid JSON"}]) from None
    if not isinstance(data, dict):
        raise _unprocessable([{"field": "", "problem": "the body must be a JSON object"}])
    return data


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except ValueError:  # not UTF-8, or too many fields
        raise _unprocessable([{"field": "", "problem": "the form could not be read"}]) from None
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name in data:
            raise _unprocessable([{"field": name, "problem": "given more than once"}])
        data[name] = value
    for optional in ("query", "query_image_id", "rank"):  # a form sends empty inputs as ""
        if data.get(optional) == "":
            data[optional] = None
    return data


def _validate(data: dict[str, Any]) -> FeedbackIn:
    try:
        vote = FeedbackIn.model_validate(data)
    except ValidationError as exc:
        raise _unprocessable(
            [
                {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    if (vote.query is None) == (vote.query_image_id is None):
        raise _unprocessable(
            [
                {
                    "field": "query",
                    "problem": "send exactly one of query (the words searched for) "
                    "or query_image_id (the image searched with)",
                }
            ]
        )
    return vote


def safe_return_to(value: str | None) -> str:
    """``value`` if it is a path on this site ("/…", not "//…" nor "/\\…"), else "/"."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


REQUEST_BODY = {
    "required": True,
    "content": {
        JSON_TYPE: {"schema": FeedbackIn.model_json_schema()},
        FORM_TYPE: {
            "schema": {
                **FeedbackIn.model_json_schema(),
                "title": "FeedbackForm",
                "properties": {
                    **FeedbackIn.model_json_schema()["properties"],
                    "return_to": {"type": "string", "description": "Same-site path to go back to (303)"},
                },
            }
        },
    },
}


@router.post(
    "",
    status_code=201,
    summary="Record a vote on a search result (JSON → 201, HTML form → 303 back to the page)",
    openapi_extra={"requestBody": REQUEST_BODY},
    responses={
        201: {"model": VoteRecorded, "description": "Vote recorded"},
        200: {"model": VoteRecorded, "description": "Repeats this session's latest vote: nothing stored"},
        303: {
            "description": "Form post recorded: back to the page",
            "headers": {
                "Location": {"description": "The same-site `return_to` path, or /", "schema": {"type": "string"}}
            },
        },
        **error_responses(
            400, 404, 413, 415, 422, 429, 503, describe={404: "Unknown image or model version", 413: "Body over 16 KB"}
        ),
    },
)
async def post_feedback(
    request: Request,
    features: Annotated[FeatureReader, Depends(get_features)],
    store: Annotated[FeedbackStore, Depends(get_feedback)],
    pool: Annotated[ModelPool, Depends(get_pool)],
    limits: Annotated[tuple[Limiter, Limiter], Depends(get_vote_limits)],
) -> Response:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in (JSON_TYPE, FORM_TYPE):
        raise ApiError(415, "unsupported_media_type", f"send {JSON_TYPE} or an HTML form ({FORM_TYPE})")
    body = await _read_body(request)
    is_form = media_type == FORM_TYPE
    data = _parse_form(body) if is_form else _parse_json(body)
    return_to = data.pop("return_to", None) if is_form else None
    vote = _validate(data)
    session = session_of(request)
    await run_in_threadpool(_rate_limit, limits, session, request.client.host if request.client else "unknown")
    await run_in_threadpool(_check_model_version, pool, vote.model_version)
    if (await run_in_threadpool(features.records, [vote.image_id]))[0] is None:
        raise ApiError(404, "unknown_image", f"there is no image {vote.image_id}")
    try:
        recorded = await run_in_threadpool(
            store.record,
            image_id=vote.image_id,
            vote=vote.vote,
            model_version=vote.model_version,
            session=session,
            query_text=vote.query,
            query_image_id=vote.query_image_id,
            rank=vote.rank,
        )
    except FeedbackUnavailableError as exc:
        logger.error("vote not recorded: %s", exc)
        raise ApiError(503, "feedback_unavailable", exc.public_message) from None
    if is_form:
        return RedirectResponse(safe_return_to(return_to), status_code=303)
    if recorded.duplicate:
        return JSONResponse({"id": recorded.id, "recorded": False, "duplicate": True}, status_code=200)
    return JSONResponse({"id": recorded.id, "recorded": True}, status_code=201)


def _rate_limit(limits: tuple[Limiter, Limiter], session: str, client: str) -> None:
    for limiter, key, who in ((limits[0], session, "this session"), (limits[1], client, "this address")):
        wait = limiter.check(key)
        if wait:
            raise ApiError(
                429,
                "too_many_votes",
                f"{who} sent more than {limiter.limit} votes a minute; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )


def _check_model_version(pool: ModelPool, model_version: str) -> None:
    """The vote must name a registered version itself: an alias may have moved since the results were shown."""
    try:
        resolved = pool.resolve(model_version)
    except UnknownModelError:
        raise ApiError(404, "unknown_model", f"there is no model version {model_version}") from None
    if resolved != model_version:
        raise _unprocessable(
            [{"field": "model_version", "problem": f"give the version number ({resolved}), not an alias"}]
        )


@router.get(
    "/stats",
    summary="Per model version: searches answered, votes up/down, rates per search, distinct voting sessions "
    "(no queries); and the A/B split",
    responses=error_responses(503),
)
def stats(
    request: Request,
    store: Annotated[FeedbackStore, Depends(get_feedback)],
    served: Annotated[ServedCounter, Depends(get_served)],
    experiment: Annotated[Experiment, Depends(get_experiment)],
) -> dict[str, Any]:
    served.flush()  # the counts gathered since the last periodic write belong in this answer
    try:
        versions, total = store.stats(), store.summary()
    except FeedbackUnavailableError as exc:
        logger.error("feedback stats unavailable: %s", exc)
        raise ApiError(503, "feedback_unavailable", exc.public_message) from None
    return {"versions": versions, "total": total, "ab": _ab_state(request, experiment)}


def _ab_state(request: Request, experiment: Experiment) -> dict[str, Any]:
    """Which versions are compared right now and on what share of sessions (versions null when unknown)."""
    state: dict[str, Any] = {
        "candidate_share": experiment.share,
        "candidate_alias": experiment.candidate_alias,
        "control": None,
        "candidate": None,
        "running": False,
    }
    pool = request.app.state.services.pool()
    if pool is not None:
        try:
            arms = experiment.arms(pool)
        except Exception:  # noqa: BLE001 - the registry being unreachable must not hide the vote counts
            return state
        state |= {"control": arms.control, "candidate": arms.candidate, "running": arms.candidate is not None}
    return state


@router.get("/summary", summary="How many votes were recorded, up and down", responses=error_responses(503))
def summary(store: Annotated[FeedbackStore, Depends(get_feedback)]) -> dict[str, int]:
    try:
        return store.summary()
    except FeedbackUnavailableError as exc:
        logger.error("feedback summary unavailable: %s", exc)
        raise ApiError(503, "feedback_unavailable", exc.public_message) from None
