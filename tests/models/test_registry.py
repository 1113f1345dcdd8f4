"""The MLflow registry on a real SQLite store: registration, aliases, promotion, loading by alias."""

import pytest

from models.registry import CANDIDATE, PRODUCTION, Registry
from models.runtime import OnnxTextEncoder


@pytest.fixture
def registry(tmp_path):
    return Registry(f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "artifacts", "glimpse-test")


METRICS = {"coco_t2i_R@1": 0.30, "coco_t2i_R@5": 0.70, "coco_t2i_R@10": 0.80}
KEYS = list(METRICS)


def test_register_alias_and_load_by_alias(registry, tiny_bundle):
    version = registry.register(tiny_bundle, "open_clip:tiny", "v-one", METRICS)
    assert version.version == "1" and version.metrics["coco_t2i_R_at_10"] == pytest.approx(0.80)
    promoted, reason = registry.promote_if_not_worse(version.version, KEYS)
    assert promoted and "first production" in reason
    production = registry.get(PRODUCTION)
    assert production.version == "1" and production.spec == "open_clip:tiny"
    encoder = OnnxTextEncoder(registry.bundle_path(production))
    assert encoder.encode_texts(["hello"]).shape == (1, 32)


def test_registration_is_idempotent(registry, tiny_bundle):
    first = registry.register(tiny_bundle, "open_clip:tiny", "same", METRICS)
    again = registry.register(tiny_bundle, "open_clip:tiny", "same", METRICS)
    assert first.version == again.version and len(registry.versions()) == 1


def test_worse_candidate_is_not_promoted(registry, tiny_bundle):
    good = registry.register(tiny_bundle, "open_clip:tiny", "good", METRICS)
    registry.promote_if_not_worse(good.version, KEYS)
    worse = registry.register(tiny_bundle, "open_clip:tiny", "worse", METRICS | {"coco_t2i_R@10": 0.79})
    registry.set_alias(CANDIDATE, worse.version)
    promoted, reason = registry.promote_if_not_worse(worse.version, KEYS)
    assert not promoted and "R_at_10 0.7900 < 0.8000" in reason
    assert registry.get(PRODUCTION).version == good.version
    assert registry.get(CANDIDATE).version == worse.version


def test_equal_or_better_candidate_is_promoted(registry, tiny_bundle):
    base = registry.register(tiny_bundle, "open_clip:tiny", "base", METRICS)
    registry.promote_if_not_worse(base.version, KEYS)
    better = registry.register(tiny_bundle, "open_clip:tiny", "better", METRICS | {"coco_t2i_R@1": 0.35})
    promoted, _ = registry.promote_if_not_worse(better.version, KEYS)
    assert promoted and registry.get(PRODUCTION).version == better.version


def test_tolerance_allows_noise(registry, tiny_bundle):
    base = registry.register(tiny_bundle, "open_clip:tiny", "base", METRICS)
    registry.promote_if_not_worse(base.version, KEYS)
    close = registry.register(tiny_bundle, "open_clip:tiny", "close", METRICS | {"coco_t2i_R@5": 0.695})
    promoted, _ = registry.promote_if_not_worse(close.version, KEYS, tolerance=0.01)
    assert promoted


def test_unknown_alias_or_version(registry, tiny_bundle):
    registry.register(tiny_bundle, "open_clip:tiny", "x", METRICS)
    with pytest.raises(KeyError):
        registry.get("staging")
    with pytest.raises(KeyError):
        registry.get("99")
