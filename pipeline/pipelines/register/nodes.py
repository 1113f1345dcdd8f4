"""Register: put the evaluated bundle in the MLflow registry as ``candidate`` and promote it to
``production`` only if its primary metrics are not worse than the current production version's."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def register_model(bundle: dict[str, Any], evaluation: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from models.registry import CANDIDATE, PRODUCTION, Registry

    if evaluation.get("bundle_version") != bundle["version"]:
        raise ValueError("the evaluation is of another bundle; run the evaluate pipeline first")
    registry = Registry(params["tracking_uri"], params["artifact_root"], params["model_name"])
    version = registry.register(Path(bundle["folder"]), bundle["spec"], bundle["version"], evaluation["metrics"])
    registry.set_alias(CANDIDATE, version.version)
    promoted, reason = registry.promote_if_not_worse(
        version.version, list(params["primary_metrics"]), float(params["promote_tolerance"])
    )
    logger.info("register: %s", reason)
    current = registry.get(PRODUCTION)
    return {
        "model_name": registry.name,
        "candidate": version.version,
        "production": current.version,
        "promoted": promoted,
        "reason": reason,
        "spec": version.spec,
        "bundle_version": version.bundle_version,
    }
