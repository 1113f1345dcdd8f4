"""A/B routing: a share of sessions gets the candidate, sticky per session; rates per version in the stats."""

import secrets
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.adapter import save_adapter
from models.bundle import BundleManifest
from models.registry import CANDIDATE, PRODUCTION, Registry
from server.core.session import COOKIE
from server.main import create_app
from server.services.experiment import Experiment, bucket
from server.services.model_pool import ModelPool
from tests.fixtures.project import build_project
from tests.server.conftest import settings_for


@pytest.fixture(scope="module")
def ab_project(tmp_path_factory):
    """A project whose production is version 1 and whose candidate (version 2) is version 1 plus a query adapter."""
    folder = tmp_path_factory.mktemp("ab")
    build_project(folder, images=8)
    registry = Registry(f"sqlite:///{folder}/data/mlflow/mlflow.db", folder / "data/mlflow/artifacts")
    base = registry.get("1")
    bundle = tmp_path_factory.mktemp("adapted") / "bundle"
    shutil.copytree(registry.bundle_path(base), bundle)
    dim = BundleManifest.load(bundle).dim
    save_adapter(bundle, np.random.default_rng(0).standard_normal((dim, dim)).astype(np.float32), {"test": True})
    tuned = registry.register(bundle, base.spec, f"{base.bundle_version}+atest", dict(base.metrics))
    registry.set_alias(PRODUCTION, "1")
    registry.set_alias(CANDIDATE, tuned.version)
    return folder, registry, tuned.version


def sessions(n: int) -> list[str]:
    return [secrets.token_urlsafe(16) for _ in range(n)]


# --- the split ----------------------------------------------------------------------------------------------------


def test_buckets_are_fixed_per_session_uniform_and_redrawn_for_a_new_candidate():
    people = sessions(20_000)
    first = np.array([bucket(s, "7") for s in people])
    assert np.array_equal(first, [bucket(s, "7") for s in people])  # sticky
    assert ((first >= 0) & (first < 1)).all()
    assert abs((first < 0.3).mean() - 0.3) < 0.02  # the share asked for, within sampling noise (σ ≈ 0.003)
    assert np.histogram(first, bins=10, range=(0, 1))[0].min() > 1800  # no empty or thin region
    second = np.array([bucket(s, "8") for s in people])
    both = ((first < 0.3) & (second < 0.3)).mean()
    assert abs(both - 0.09) < 0.02  # the next experiment's arm is independent of this one's


def test_share_must_be_a_fraction():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Experiment(default_model=PRODUCTION, candidate_alias=CANDIDATE, share=1.5)


# --- routing against a real pool -------------------------------------------------------------------------------


def pool_for(folder, registry) -> ModelPool:
    return ModelPool(registry, folder / "data/05_model_input/indexes", alias_refresh_s=0.0, max_models=3)


@pytest.mark.slow
def test_a_share_of_sessions_gets_the_candidate_and_keeps_it(ab_project):
    folder, registry, candidate = ab_project
    pool = pool_for(folder, registry)
    experiment = Experiment(default_model=PRODUCTION, candidate_alias=CANDIDATE, share=0.25)
    people = sessions(400)
    routed = {s: experiment.route(pool, s) for s in people}
    in_candidate = [s for s, r in routed.items() if r.arm == "candidate"]
    assert {r.model.version for s, r in routed.items() if r.arm == "candidate"} == {candidate}
    assert {r.model.version for s, r in routed.items() if r.arm == "control"} == {"1"}
    assert 0.17 < len(in_candidate) / len(people) < 0.33  # 0.25 ± 3.7 σ for 400 sessions
    for s in people[:50]:  # asked again, and with the default's name spelled out: same arm
        assert experiment.route(pool, s).arm == routed[s].arm
        assert experiment.route(pool, s, f" {PRODUCTION} ").arm == routed[s].arm
    # Naming a version or another alias is obeyed, not part of the experiment.
    for s in in_candidate[:5]:
        assert (experiment.route(pool, s, "1").model.version, experiment.route(pool, s, "1").arm) == ("1", None)
        assert experiment.route(pool, s, CANDIDATE).arm is None


@pytest.mark.slow
def test_no_experiment_without_a_share_a_candidate_or_a_different_candidate(ab_project):
    folder, registry, candidate = ab_project
    pool = pool_for(folder, registry)
    people = sessions(50)
    off = Experiment(default_model=PRODUCTION, candidate_alias=CANDIDATE, share=0.0)
    assert {(off.route(pool, s).model.version, off.route(pool, s).arm) for s in people} == {("1", None)}
    missing = Experiment(default_model=PRODUCTION, candidate_alias="no-such-alias", share=1.0)
    assert {missing.route(pool, s).arm for s in people} == {None}
    everyone = Experiment(default_model=PRODUCTION, candidate_alias=CANDIDATE, share=1.0)
    assert {everyone.route(pool, s).model.version for s in people} == {candidate}
    registry.set_alias(CANDIDATE, "1")  # the candidate was promoted or reset: production itself
    try:
        assert {everyone.route(pool, s).arm for s in people} == {None}
        assert everyone.arms(pool).candidate is None
    finally:
        registry.set_alias(CANDIDATE, candidate)


@pytest.mark.slow
def test_a_candidate_that_cannot_load_falls_back_to_production(ab_project):
    folder, registry, candidate = ab_project
    adapter = registry.bundle_path(registry.get(candidate)) / "adapter.npy"
    saved = adapter.read_bytes()
    adapter.write_bytes(b"garbage")
    try:
        pool = pool_for(folder, registry)
        everyone = Experiment(default_model=PRODUCTION, candidate_alias=CANDIDATE, share=1.0)
        routed = everyone.route(pool, "s" * 22)
        assert (routed.model.version, routed.arm) == ("1", None)
    finally:
        adapter.write_bytes(saved)


# --- through the app: API, pages, stats ------------------------------------------------------------------------


def new_visitor(client: TestClient) -> str:
    """Forget the cookie so the next request is a new anonymous session; returns the session it gets."""
    client.cookies.clear()
    client.get("/")
    return client.cookies[COOKIE]


@pytest.mark.slow
def test_api_and_pages_route_by_session_and_stats_give_rates_per_version(ab_project, tmp_path):
    folder, _, candidate = ab_project
    settings = settings_for(folder, ab_candidate_share=0.5, feedback_db=tmp_path / "feedback.db")
    with TestClient(create_app(settings)) as client:
        seen: dict[str, set[str]] = {"control": set(), "candidate": set()}
        arms: dict[str, str] = {}
        for _ in range(24):
            session = new_visitor(client)
            answers = [client.get("/api/search", params={"q": "a red car", "k": 3}).json() for _ in range(2)]
            assert answers[0]["model"]["arm"] == answers[1]["model"]["arm"]  # sticky
            arm, version = answers[0]["model"]["arm"], answers[0]["model"]["version"]
            seen[arm].add(version)
            arms[session] = arm
            assert bucket(session, candidate) < 0.5 if arm == "candidate" else bucket(session, candidate) >= 0.5
            # The page answers the same session from the same version; its vote form names that version.
            page = client.get("/search", params={"q": "a red car", "k": 3})
            assert page.headers["X-Glimpse-Model-Version"] == version
            assert f'name="model_version" value="{version}"' in page.text
            vote = {"query": "a red car", "image_id": answers[0]["results"][0]["image_id"], "vote": "up"}
            assert client.post("/api/feedback", json=vote | {"model_version": version}).status_code == 201
            explicit = client.get("/api/search", params={"q": "a red car", "k": 3, "model": "1"}).json()["model"]
            assert (explicit["version"], explicit["arm"]) == ("1", None)
        assert seen == {"control": {"1"}, "candidate": {candidate}}
        stats = client.get("/api/feedback/stats").json()
    n_candidate = sum(arm == "candidate" for arm in arms.values())
    n_control = len(arms) - n_candidate
    by_version = {v["model_version"]: v for v in stats["versions"]}
    # Per session: 2 API searches + 1 page search in its arm, 1 explicit search of version 1.
    assert by_version[candidate]["searches"] == 3 * n_candidate
    assert by_version["1"]["searches"] == 3 * n_control + len(arms)
    assert by_version[candidate]["votes"] == by_version[candidate]["up"] == n_candidate
    assert by_version[candidate]["votes_per_search"] == pytest.approx(1 / 3, abs=1e-4)
    assert by_version["1"]["up_per_search"] == pytest.approx(n_control / (4 * n_control + n_candidate), abs=1e-4)
    assert stats["ab"] == {
        "candidate_share": 0.5,
        "candidate_alias": CANDIDATE,
        "control": "1",
        "candidate": candidate,
        "running": True,
    }


@pytest.mark.slow
def test_searches_served_survive_a_restart_and_uploads_are_not_counted(ab_project, tmp_path):
    folder, _, _ = ab_project
    settings = settings_for(folder, feedback_db=tmp_path / "feedback.db", served_flush_s=3600)
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            assert client.get("/api/search", params={"q": "a dog"}).status_code == 200
        some_image = client.get("/api/search", params={"q": "a dog"}).json()["results"][0]["image_id"]
        assert client.post("/api/search/image", data={"image_id": some_image}).status_code == 200
        png = (folder / "data/01_raw/demo/set1/photo1.png").read_bytes()
        upload = client.post("/api/search/image", files={"file": ("p.png", png, "image/png")})
        assert upload.status_code == 200 and upload.json()["model"]["arm"] is None
        assert client.app.state.served.pending() == 5  # not written yet: the flush interval is an hour
    with TestClient(create_app(settings)) as client:  # the first app flushed on shutdown
        assert {v["model_version"]: v["searches"] for v in client.get("/api/feedback/stats").json()["versions"]} == {
            "1": 5
        }
