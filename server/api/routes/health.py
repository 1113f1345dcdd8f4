"""Liveness and readiness probes.

``/healthz`` answers as long as the process serves requests. ``/readyz`` answers 200 only when the default model
loads and the feature store answers a real read; otherwise 503 with one sentence per problem naming the file
and what to do. Nothing here caches a failure: each call re-checks, so repairs show without a restart.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.schemas import Ready
from server.services.features import FeatureStoreUnavailableError
from server.services.model_pool import ModelLoadError, UnknownModelError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check(request: Request) -> tuple[list[str], list[str]]:
    """(problems that stop queries, warnings that do not)."""
    services = request.app.state.services
    settings = request.app.state.settings
    problems: list[str] = []
    warnings: list[str] = []
    features = services.features()
    pool = services.pool()
    if features is None:
        problems.append(services.features_problem)
    else:
        try:
            features.probe()
        except FeatureStoreUnavailableError as exc:
            problems.append(exc.message)
        for table in features.offline_missing():
            warnings.append(
                f"the feature store's offline table {table} is missing: queries do not need it, the next "
                "pipeline run (kedro run --pipelines publish) rebuilds it"
            )
    if pool is None:
        problems.append(services.pool_problem)
    if features is not None and pool is not None:
        try:
            pool.get(settings.default_model)
        except (UnknownModelError, ModelLoadError) as exc:
            problems.append(f"default model {settings.default_model!r}: {exc}")
    return problems, warnings


@router.get(
    "/readyz",
    summary="The default model and the feature store can serve queries",
    responses={200: {"model": Ready}, 503: {"model": Ready, "description": "Not ready: `problems` says why"}},
)
def readyz(request: Request) -> JSONResponse:
    problems, warnings = _check(request)
    answer = Ready(ready=not problems, problems=problems, warnings=warnings)
    return JSONResponse(answer.model_dump(exclude_defaults=True), status_code=200 if answer.ready else 503)
