"""Votes on search results: ``POST /api/feedback`` (JSON, or a plain HTML form for the no-JavaScript page),
``GET /api/feedback/summary`` and ``GET /api/feedback/stats`` (counts and rates per model version, A/B split).

The session is the server's anonymous cookie (server/core/session.py), never a value from the body. A vote
must name a registered model version (404 otherwise) and a known image (404); each session and each client
address has a votes-per-minute limit (429 with Retry-After); repeating one's latest vote stores nothing (200).
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from server.api.deps import get_experiment, get_features, get_feedback, get_pool, get_served, get_vote_limits
from server.api.errors import ApiError
from server.api.responses import error_responses
from server.api.vote_body import REQUEST_BODY, read_vote, unprocessable
from server.core.session import session_of
from server.schemas import ABState, FeedbackStats, VoteRecorded, VoteSummary
from server.services.experiment import Experiment
from server.services.features import FeatureReader
from server.services.feedback import FeedbackStore, FeedbackUnavailableError
from server.services.model_pool import ModelPool, UnknownModelError
from server.services.rate_limit import Limiter
from server.services.served import ServedCounter

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/feedback", tags=["feedback"])


def safe_return_to(value: str | None) -> str:
    """``value`` if it is a path on this site ("/…", not "//…" nor "/\\…"), else "/"."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


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
    vote, is_form, return_to = await read_vote(request)
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
    answer = VoteRecorded(id=recorded.id, recorded=not recorded.duplicate, duplicate=recorded.duplicate)
    return JSONResponse(answer.model_dump(), status_code=200 if recorded.duplicate else 201)


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
        raise unprocessable(
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
) -> FeedbackStats:
    served.flush()  # the counts gathered since the last periodic write belong in this answer
    try:
        versions, total = store.stats(), store.summary()
    except FeedbackUnavailableError as exc:
        logger.error("feedback stats unavailable: %s", exc)
        raise ApiError(503, "feedback_unavailable", exc.public_message) from None
    return FeedbackStats(versions=versions, total=total, ab=_ab_state(request, experiment))


def _ab_state(request: Request, experiment: Experiment) -> ABState:
    """Which versions are compared right now and on what share of sessions (versions null when unknown)."""
    state = ABState(
        candidate_share=experiment.share,
        candidate_alias=experiment.candidate_alias,
        control=None,
        candidate=None,
        running=False,
    )
    pool = request.app.state.services.pool()
    if pool is not None:
        try:
            arms = experiment.arms(pool)
        except Exception:  # noqa: BLE001 - the registry being unreachable must not hide the vote counts
            return state
        state.control, state.candidate, state.running = arms.control, arms.candidate, arms.candidate is not None
    return state


@router.get("/summary", summary="How many votes were recorded, up and down", responses=error_responses(503))
def summary(store: Annotated[FeedbackStore, Depends(get_feedback)]) -> VoteSummary:
    try:
        return VoteSummary(**store.summary())
    except FeedbackUnavailableError as exc:
        logger.error("feedback summary unavailable: %s", exc)
        raise ApiError(503, "feedback_unavailable", exc.public_message) from None
