"""Registered model versions, their aliases, and what the pool has loaded."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from server.api.deps import get_pool, get_settings
from server.api.responses import error_responses
from server.core.config import Settings
from server.schemas import ModelsAnswer, RegisteredVersion
from server.services.model_pool import ModelPool

router = APIRouter(prefix="/api/models", tags=["models"])


@router.get("", summary="Registered versions, aliases and the model pool's state", responses=error_responses(503))
def models(
    pool: Annotated[ModelPool, Depends(get_pool)], settings: Annotated[Settings, Depends(get_settings)]
) -> ModelsAnswer:
    versions = [
        RegisteredVersion(
            version=v.version,
            spec=v.spec,
            bundle_version=v.bundle_version,
            aliases=v.aliases,
            metrics={k: round(x, 4) for k, x in v.metrics.items() if "_at_" in k or k == "weak_threshold"},
            index={k.removeprefix("index_"): t for k, t in v.tags.items() if k.startswith("index_")},
        )
        for v in pool.registry.versions()
    ]
    return ModelsAnswer(default=settings.default_model, versions=versions, pool=pool.status())
