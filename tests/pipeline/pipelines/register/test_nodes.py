"""Register: a new bundle becomes candidate (and production if not worse); a bundle already registered leaves
the aliases alone, so re-running the default pipeline neither demotes a tuned production nor ends an A/B test."""

import pytest

from models.registry import CANDIDATE, PRODUCTION, Registry
from pipeline.pipelines.register.nodes import register_model

METRICS = {"coco_t2i_R@1": 0.30, "coco_t2i_R@5": 0.70, "coco_t2i_R@10": 0.80}


@pytest.fixture
def params(tmp_path):
    return {
        "tracking_uri": f"sqlite:///{tmp_path}/mlflow.db",
        "artifact_root": str(tmp_path / "artifacts"),
        "model_name": "glimpse-test",
        "primary_metrics": list(METRICS),
        "promote_tolerance": 0.0,
    }


def register(params, tmp_path, bundle_version: str, metrics: dict) -> dict:
    folder = tmp_path / "bundles" / bundle_version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(f'{{"version": "{bundle_version}"}}')
    bundle = {"folder": str(folder), "spec": "open_clip:tiny", "version": bundle_version}
    index = {
        name: {"model_version": bundle_version, "factory": "Flat", "recall_at_10": 1.0, "count": 8}
        for name in ("text", "image")
    }
    return register_model(bundle, {"bundle_version": bundle_version, "metrics": metrics}, index, params)


def aliases(params) -> tuple[str, str]:
    registry = Registry(params["tracking_uri"], params["artifact_root"], params["model_name"])
    return registry.get(PRODUCTION).version, registry.get(CANDIDATE).version


def test_a_new_bundle_becomes_candidate_and_production_when_not_worse(params, tmp_path):
    first = register(params, tmp_path, "a", METRICS)
    assert (first["candidate"], first["production"], first["promoted"]) == ("1", "1", True)
    worse = register(params, tmp_path, "b", METRICS | {"coco_t2i_R@1": 0.29})
    assert (worse["candidate"], worse["production"], worse["promoted"]) == ("2", "1", False)
    assert aliases(params) == ("1", "2")


def test_rerunning_an_already_registered_bundle_leaves_the_aliases_alone(params, tmp_path):
    register(params, tmp_path, "a", METRICS)
    # What the tune pipeline does: a new version on top of 1, candidate, promoted (its coco metrics are equal).
    registry = Registry(params["tracking_uri"], params["artifact_root"], params["model_name"])
    tuned = registry.register(tmp_path / "bundles" / "a", "open_clip:tiny", "a+a1", METRICS)
    registry.set_alias(CANDIDATE, tuned.version)
    registry.set_alias(PRODUCTION, tuned.version)
    again = register(params, tmp_path, "a", METRICS)  # `kedro run` with nothing new
    assert aliases(params) == ("2", "2")
    assert again["promoted"] is False and "already version 1" in again["reason"]
    assert (again["candidate"], again["production"]) == ("2", "2")
    # An A/B test (production 1, candidate 2) survives the re-run too.
    registry.set_alias(PRODUCTION, "1")
    register(params, tmp_path, "a", METRICS)
    assert aliases(params) == ("1", "2")
