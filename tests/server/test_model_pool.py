"""Multi-model serving: two real versions, LRU / memory / idle eviction, alias switching under load."""

import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.registry import PRODUCTION, Registry
from server.main import create_app
from server.services.model_pool import ModelLoadError, ModelPool
from tests.fixtures.project import build_project, run_pipeline
from tests.fixtures.tiny_clip import TINY_ARCH, tiny_weights
from tests.server.conftest import settings_for


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-versions")
    params = build_project(folder, images=8)
    other = tiny_weights(folder / "models", seed=1)
    run_pipeline(folder, params | {"model": {"spec": f"open_clip:{TINY_ARCH}:{other}"}})
    registry = Registry(f"sqlite:///{folder}/data/mlflow/mlflow.db", folder / "data/mlflow/artifacts")
    assert [v.version for v in registry.versions()] == ["1", "2"]
    registry.set_alias(PRODUCTION, "1")
    return folder, registry


def pool_for(folder, registry, **kwargs):
    return ModelPool(registry, folder / "data/05_model_input/indexes", alias_refresh_s=0.0, **kwargs)


def test_lru_keeps_at_most_n_versions(two_versions):
    folder, registry = two_versions
    pool = pool_for(folder, registry, max_models=1)
    assert pool.get("1").version == "1"
    assert pool.get("2").version == "2"
    status = pool.status()
    assert [m.version for m in status.loaded] == ["2"] and status.evictions == 1


def test_memory_budget_evicts_least_recently_used(two_versions):
    folder, registry = two_versions
    pool = pool_for(folder, registry, max_models=5, memory_budget_bytes=1)
    pool.get("1")
    pool.get("2")
    assert [m.version for m in pool.status().loaded] == ["2"]  # the one in use always stays


def test_idle_versions_are_unloaded(two_versions):
    folder, registry = two_versions
    pool = pool_for(folder, registry, max_models=2, idle_ttl_s=0.05)
    pool.get("1")
    time.sleep(0.1)
    pool.get("2")
    assert pool.unload_idle() == ["1"]
    assert [m.version for m in pool.status().loaded] == ["2"]


def assert_only_version_1_is_unavailable(folder) -> None:
    """Through the app: version 1 answers 503 model_unavailable, version 2 still searches."""
    with TestClient(create_app(settings_for(folder))) as client:
        broken = client.get("/api/search", params={"q": "cat", "model": "1"})
        assert broken.status_code == 503 and broken.json()["error"] == "model_unavailable"
        assert client.get("/api/search", params={"q": "cat", "model": "2"}).status_code == 200


def test_a_broken_version_does_not_take_down_the_others(two_versions):
    folder, registry = two_versions
    v1 = registry.get("1").bundle_version
    index_dir = folder / "data/05_model_input/indexes" / v1
    hidden = index_dir.with_name(v1 + ".hidden")
    index_dir.rename(hidden)
    try:
        pool = pool_for(folder, registry)
        with pytest.raises(ModelLoadError, match="cannot be served"):
            pool.get("1")
        assert pool.get("2").version == "2"
        assert_only_version_1_is_unavailable(folder)
    finally:
        hidden.rename(index_dir)


def test_a_damaged_manifest_makes_its_version_unavailable_not_the_server(two_versions):
    """A manifest cut short (or from an export this server cannot read) is a 503 for that version, never a 500."""
    folder, registry = two_versions
    manifest = registry.bundle_path(registry.get("1")) / "manifest.json"
    saved = manifest.read_bytes()
    manifest.write_bytes(saved[: len(saved) // 2])
    try:
        with pytest.raises(ModelLoadError, match=r"manifest .* is damaged or incomplete"):
            pool_for(folder, registry).get("1")
        assert_only_version_1_is_unavailable(folder)
    finally:
        manifest.write_bytes(saved)


def test_moving_production_under_load_fails_no_request(two_versions):
    folder, registry = two_versions
    registry.set_alias(PRODUCTION, "1")
    answered: list[str] = []
    failures: list[str] = []
    stop = threading.Event()
    with TestClient(create_app(settings_for(folder))) as client:
        assert client.get("/api/search", params={"q": "warm"}).json()["model"]["version"] == "1"

        def hammer():
            while not stop.is_set():
                response = client.get("/api/search", params={"q": "a photo", "k": 5})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    answered.append(response.json()["model"]["version"])

        def after_more_answers(count: int) -> None:
            """Paced by answers, not the clock: every alias move happens under load, however slow the machine."""
            target, deadline = len(answered) + count, time.monotonic() + 60
            while len(answered) < target and not failures and time.monotonic() < deadline:
                time.sleep(0.01)

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for worker in workers:
            worker.start()
        for version in ["2", "1", "2", "1", "2"]:
            after_more_answers(5)
            registry.set_alias(PRODUCTION, version)
        after_more_answers(5)
        stop.set()
        for worker in workers:
            worker.join()
        after = client.get("/api/search", params={"q": "after"}).json()["model"]["version"]
    registry.set_alias(PRODUCTION, "1")
    assert failures == []
    assert len(answered) >= 30 and {"1", "2"} <= set(answered)
    assert after == "2"


def test_same_version_is_loaded_once_under_concurrency(two_versions):
    folder, registry = two_versions
    pool = pool_for(folder, registry)
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(pool.get("2"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(model) for model in loaded}) == 1


@pytest.fixture(scope="module")
def adapted_version(two_versions, tmp_path_factory):
    """Version 1's bundle plus a query adapter, registered as a version of its own (as the tune pipeline does)."""
    import shutil

    from models.adapter import save_adapter
    from models.bundle import BundleManifest

    _, registry = two_versions
    base = registry.get("1")
    bundle = tmp_path_factory.mktemp("adapted") / "bundle"
    shutil.copytree(registry.bundle_path(base), bundle)
    dim = BundleManifest.load(bundle).dim
    weights = np.random.default_rng(0).standard_normal((dim, dim)).astype(np.float32)
    save_adapter(bundle, weights, {"test": True})
    entry = registry.register(bundle, base.spec, f"{base.bundle_version}+atest", dict(base.metrics))
    return entry, bundle


def test_an_adapter_changes_text_queries_only_and_reuses_the_base_index(two_versions, adapted_version):
    folder, registry = two_versions
    entry, _ = adapted_version
    pool = pool_for(folder, registry, max_models=3)
    base, tuned = pool.get("1"), pool.get(entry.version)
    assert tuned.adapted and not base.adapted
    assert tuned.bundle_version == base.bundle_version and tuned.index_version == base.index_version
    assert next(m for m in pool.status().loaded if m.version == entry.version).adapted is True
    query = ["a red car on a street"]
    assert not np.allclose(tuned.text.encode_texts(query), base.text.encode_texts(query))
    np.testing.assert_allclose(np.linalg.norm(tuned.text.encode_texts(query), axis=1), 1.0, rtol=1e-5)
    # Through the API: text results are re-scored by the adapter, image queries (image→image space) are not.
    with TestClient(create_app(settings_for(folder))) as client:

        def search(version: str, **params) -> list[tuple[str, float]]:
            if "image_id" in params:
                response = client.post("/api/search/image", params={"model": version, "k": 5}, data=params)
            else:
                response = client.get("/api/search", params=params | {"model": version, "k": 5})
            assert response.status_code == 200, response.text
            assert response.json()["model"]["version"] == version
            return [(r["image_id"], round(r["score"], 5)) for r in response.json()["results"]]

        assert search(entry.version, q="a red car") != search("1", q="a red car")
        some_image = search("1", q="a photo")[0][0]
        assert search(entry.version, image_id=some_image) == search("1", image_id=some_image)


def test_a_corrupt_adapter_makes_only_its_version_unavailable(two_versions, adapted_version):
    folder, registry = two_versions
    entry, _ = adapted_version
    adapter = registry.bundle_path(registry.get(entry.version)) / "adapter.npy"
    saved = adapter.read_bytes()
    adapter.write_bytes(b"garbage")
    try:
        pool = pool_for(folder, registry)
        with pytest.raises(ModelLoadError, match=r"adapter\.npy cannot be read"):
            pool.get(entry.version)
        assert pool.get("1").version == "1"
    finally:
        adapter.write_bytes(saved)
