"""Multi-model serving: two real versions, LRU / memory / idle eviction, alias switching under load."""

import threading
import time

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
    assert [m["version"] for m in status["loaded"]] == ["2"] and status["evictions"] == 1


def test_memory_budget_evicts_least_recently_used(two_versions):
    folder, registry = two_versions
    pool = pool_for(folder, registry, max_models=5, memory_budget_bytes=1)
    pool.get("1")
    pool.get("2")
    assert [m["version"] for m in pool.status()["loaded"]] == ["2"]  # the one in use always stays


def test_idle_versions_are_unloaded(two_versions):
    folder, registry = two_versions
    pool = pool_for(folder, registry, max_models=2, idle_ttl_s=0.05)
    pool.get("1")
    time.sleep(0.1)
    pool.get("2")
    assert pool.unload_idle() == ["1"]
    assert [m["version"] for m in pool.status()["loaded"]] == ["2"]


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
        with TestClient(create_app(settings_for(folder))) as client:
            broken = client.get("/api/search", params={"q": "cat", "model": "1"})
            assert broken.status_code == 503 and broken.json()["error"] == "model_unavailable"
            assert client.get("/api/search", params={"q": "cat", "model": "2"}).status_code == 200
    finally:
        hidden.rename(index_dir)


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

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for worker in workers:
            worker.start()
        for version in ["2", "1", "2", "1", "2"]:
            time.sleep(0.3)
            registry.set_alias(PRODUCTION, version)
        time.sleep(0.3)
        stop.set()
        for worker in workers:
            worker.join()
        after = client.get("/api/search", params={"q": "after"}).json()["model"]["version"]
    registry.set_alias(PRODUCTION, "1")
    assert failures == []
    assert len(answered) > 20 and {"1", "2"} <= set(answered)
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
