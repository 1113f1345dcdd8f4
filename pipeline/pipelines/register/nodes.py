"""Register: put the evaluated bundle in the MLflow registry as ``candidate`` and promote it to
``production`` only if its primary metrics are not worse than the current production version's.

A bundle that is already registered (a re-run with nothing new) keeps its record up to date but moves no alias:
otherwise every routine run would pull ``candidate`` and ``production`` back to the base bundle, undoing a tuned
version's promotion and ending a running A/B test."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def register_model(
    bundle: dict[str, Any], evaluation: dict[str, Any], index_summary: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    from models.registry import CANDIDATE, PRODUCTION, Registry

    if evaluation.get("bundle_version") != bundle["version"]:
        raise ValueError("the evaluation is of another bundle; run the evaluate pipeline first")
    registry = Registry(params["tracking_uri"], params["artifact_root"], params["model_name"])
    known = registry.find(bundle["version"])
    version = registry.register(Path(bundle["folder"]), bundle["spec"], bundle["version"], evaluation["metrics"])
    registry.tag(version.version, _index_tags(index_summary, bundle["version"]))
    if known is None or not registry.has_alias(PRODUCTION):
        registry.set_alias(CANDIDATE, version.version)
        promoted, reason = registry.promote_if_not_worse(
            version.version, list(params["primary_metrics"]), float(params["promote_tolerance"])
        )
    else:
        promoted, reason = False, f"bundle {bundle['version']} is already version {version.version}; aliases unchanged"
    logger.info("register: %s", reason)
    current = registry.get(PRODUCTION)
    candidate = registry.get(CANDIDATE) if registry.has_alias(CANDIDATE) else version
    return {
        "model_name": registry.name,
        "candidate": candidate.version,
        "registered": version.version,
        "production": current.version,
        "promoted": promoted,
        "reason": reason,
        "spec": version.spec,
        "bundle_version": version.bundle_version,
    }


def _index_tags(summary: dict[str, Any], bundle_version: str) -> dict[str, str]:
    """Which index serves the version and how close to exact search it is (measured at build time)."""
    tags = {}
    for name in ("text", "image"):
        meta = summary[name]
        if meta["model_version"] != bundle_version:
            raise ValueError(f"the {name} index is of another bundle; run the index pipeline first")
        tags[f"index_{name}"] = meta["factory"]
        tags[f"index_{name}_recall_at_10"] = f"{meta['recall_at_10']:.4f}"
        tags[f"index_{name}_count"] = str(meta["count"])
    return tags
