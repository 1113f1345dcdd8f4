"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.services.model_pool import ModelLoadError, UnknownModelError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The default model and the feature store can serve queries")
def readyz(request: Request) -> JSONResponse:
    services = request.app.state.services
    settings = request.app.state.settings
    problems = []
    features = services.features()
    pool = services.pool()
    if features is None:
        problems.append(services.features_problem)
    if pool is None:
        problems.append(services.pool_problem)
    if features is not None and pool is not None:
        try:
            pool.get(settings.default_model)
        except (UnknownModelError, ModelLoadError) as exc:
            problems.append(f"default model {settings.default_model!r}: {exc}")
    ready = not problems
    return JSONResponse({"ready": ready, "problems": problems}, status_code=200 if ready else 503)
