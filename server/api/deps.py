"""Dependencies shared by the routes: settings, templates, collection summary, model pool and A/B routing,
feature store, feedback store and counters.

Those that only read the app's state are ``async``: FastAPI runs a plain ``def`` dependency in a worker thread,
a hop that cost more than the dependency. Those that may open a store or read a file stay plain ``def``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.templating import Jinja2Templates

from server.api.errors import ApiError
from server.core.config import Settings
from server.core.session import session_of
from server.services.collection import CollectionSummary, summarise
from server.services.experiment import Experiment, Routed
from server.services.features import FeatureReader
from server.services.feedback import FeedbackStore, FeedbackUnavailableError
from server.services.model_pool import ModelLoadError, ModelPool, UnknownModelError
from server.services.rate_limit import Limiter, RateLimiter, RedisRateLimiter
from server.services.served import ServedCounter

VOTE_LIMITS_FILE = "vote-limits.db"  # beside the feedback database


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def get_collection(request: Request) -> CollectionSummary:
    """The collection summary, read again only when the images table changes (its size or modification time)."""
    settings: Settings = request.app.state.settings
    table = settings.path(settings.images_table)
    try:
        stat = table.stat()
    except OSError:
        return summarise(table)  # no table yet: the summary says so, and nothing is kept
    key = (str(table), stat.st_mtime_ns, stat.st_size)
    cached = getattr(request.app.state, "collection_summary", None)
    if cached is None or cached[0] != key:
        cached = request.app.state.collection_summary = (key, summarise(table))
    return cached[1]


def get_pool(request: Request) -> ModelPool:
    pool = request.app.state.services.pool()
    if pool is None:
        raise ApiError(
            503, "not_ready", request.app.state.services.pool_problem or "the model registry is not available"
        )
    return pool


def get_features(request: Request) -> FeatureReader:
    features = request.app.state.services.features()
    if features is None:
        raise ApiError(
            503, "not_ready", request.app.state.services.features_problem or "the feature store is not available"
        )
    return features


def get_feedback(request: Request) -> FeedbackStore:
    store = request.app.state.services.feedback()
    if store is None:
        # the cause (naming server paths) is logged by the container; the client gets a plain sentence
        raise ApiError(503, "feedback_unavailable", FeedbackUnavailableError.public_message)
    return store


async def get_vote_limits(request: Request) -> tuple[Limiter, Limiter]:
    """Votes per minute: (per session, per client address), counted where every worker process and replica
    counts together (Redis when ``redis_url`` is set, else a file beside the vote log); made on first use."""
    state = request.app.state
    if getattr(state, "vote_limits", None) is None:
        settings: Settings = state.settings
        per_session, per_client = settings.feedback_votes_per_minute, settings.feedback_votes_per_minute_per_client
        if settings.redis_url:
            state.vote_limits = (
                RedisRateLimiter(settings.redis_url, "session", per_session, 60.0),
                RedisRateLimiter(settings.redis_url, "client", per_client, 60.0),
            )
        else:
            path = settings.path(settings.feedback_db).with_name(VOTE_LIMITS_FILE)
            state.vote_limits = (
                RateLimiter(path, "session", per_session, 60.0),
                RateLimiter(path, "client", per_client, 60.0),
            )
    return state.vote_limits


async def get_experiment(request: Request) -> Experiment:
    return request.app.state.experiment


async def get_served(request: Request) -> ServedCounter:
    return request.app.state.served


def get_model(
    request: Request,
    pool: Annotated[ModelPool, Depends(get_pool)],
    experiment: Annotated[Experiment, Depends(get_experiment)],
    model: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Version number or alias; default: production (or, for a share of sessions while an "
            "A/B test runs, the candidate)",
        ),
    ] = None,
) -> Routed:
    try:
        return experiment.route(pool, session_of(request), model)
    except UnknownModelError as exc:
        raise ApiError(404, "unknown_model", f"there is no model {exc.name!r}", known=exc.known) from None
    except ModelLoadError as exc:
        raise ApiError(503, "model_unavailable", str(exc)) from None
