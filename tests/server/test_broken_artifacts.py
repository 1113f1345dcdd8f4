"""A damaged or missing artifact at server start: the real uvicorn process stays up, says what is wrong and what to
do, answers searches 503 (JSON, no stack trace), and becomes ready once the file is repaired, without a restart.

Each case copies the built scratch project, damages one file, starts the server and waits for /healthz only.
Then: /healthz 200; /readyz 503 naming the file (relative to the project) and the command that rebuilds it;
text search, image search and the HTML search page 503 (and a vote, when the registry or the feature store is
what is broken: a vote does not need the index); nothing in any body that looks like a stack trace. The repair
is what an operator would do: re-run the pipeline stage that writes the file (its incremental skip must notice
the damage), or put the file back. /readyz is then 200 and a search answers, from the same process.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.fixtures.project import run_pipeline
from tests.fixtures.server_process import start_server

pytestmark = pytest.mark.slow

TRACE_MARKS = ("Traceback", 'File "', ".py", ".cpp", "faiss::", "sqlite3.", "Error in ")


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.log", "feedback"))
    return target


def index_file(folder: Path) -> Path:
    import json

    version = json.loads((folder / "data/05_model_input/indexes/current.json").read_text())["model_version"]
    return folder / "data/05_model_input/indexes" / version / "text" / "index.faiss"


def some_image_id(folder: Path) -> str:
    return str(pd.read_parquet(folder / "data/03_primary/images.parquet")["image_id"].iloc[0])


def assert_no_trace(response: httpx.Response) -> None:
    for mark in TRACE_MARKS:
        assert mark not in response.text, f"{mark!r} in the answer: {response.text[:500]}"


def assert_clean_503(response: httpx.Response, code: str) -> None:
    """503, JSON ``{"error": code, "message": …}``, no stack trace."""
    assert response.status_code == 503, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert_no_trace(response)
    body = response.json()
    assert set(body) >= {"error", "message"} and body["error"] == code, body


def assert_not_ready_but_alive(client: httpx.Client, folder: Path, *, names: str, fix: str, code: str) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    problems = ready.json()["problems"]
    assert len(problems) == 1 and names in problems[0] and fix in problems[0], problems
    assert str(folder) not in problems[0]  # the file is named relative to the project
    assert_no_trace(ready)
    assert_clean_503(client.get("/api/search", params={"q": "a photo"}), code)
    assert_clean_503(client.post("/api/search/image", data={"image_id": some_image_id(folder)}), code)
    if code == "not_ready":  # a vote needs the registry and the feature store, not the index
        vote = {"image_id": some_image_id(folder), "vote": 1, "query": "a photo", "model_version": "1"}
        assert_clean_503(client.post("/api/feedback", json=vote), "not_ready")
    page = client.get("/search", params={"q": "a photo"}, headers={"accept": "text/html"})
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert_no_trace(page)


def assert_ready_and_searching(client: httpx.Client) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "problems": []}
    found = client.get("/api/search", params={"q": "a photo", "k": 3})
    assert found.status_code == 200 and len(found.json()["results"]) == 3


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def scramble(path: Path) -> None:
    path.write_bytes(os.urandom(max(path.stat().st_size, 4096)))


def delete(path: Path) -> None:
    path.unlink()


ONLINE = "data/07_feature_store/online.db"
FEATURE_REGISTRY = "data/07_feature_store/registry.db"
MODEL_REGISTRY = "data/mlflow/mlflow.db"
REINDEX, REPUBLISH, RERUN = "kedro run --pipelines index", "kedro run --pipelines publish", "run the pipeline"
# file (relative to the project, or a function of it), damage, what the problem says, the fix it names, the 503
# code of the search API, and the repair: "restore" the file, or run that pipeline
CASES = [
    pytest.param(index_file, truncate, "/text cannot be read", REINDEX, "model_unavailable", "index",
                 id="index-truncated"),
    pytest.param(index_file, scramble, "/text cannot be read", REINDEX, "model_unavailable", "restore",
                 id="index-random-bytes"),
    pytest.param(ONLINE, delete, f"{ONLINE} is missing", REPUBLISH, "not_ready", "publish",
                 id="online-store-deleted"),
    pytest.param(ONLINE, scramble, f"{ONLINE} cannot be read", REPUBLISH, "not_ready", "publish",
                 id="online-store-random-bytes"),
    pytest.param(FEATURE_REGISTRY, delete, f"{FEATURE_REGISTRY} is missing", REPUBLISH, "not_ready", "restore",
                 id="feature-registry-deleted"),
    pytest.param(MODEL_REGISTRY, delete, f"{MODEL_REGISTRY} is missing", RERUN, "not_ready", "restore",
                 id="model-registry-deleted"),
    pytest.param(MODEL_REGISTRY, scramble, f"{MODEL_REGISTRY} cannot be read", RERUN, "not_ready", "restore",
                 id="model-registry-random-bytes"),
]  # fmt: skip


@pytest.mark.parametrize(("target", "damage", "names", "fix", "code", "repair"), CASES)
def test_a_broken_artifact_at_start_is_not_ready_then_repaired_without_restart(
    project, tmp_path, target, damage, names, fix, code, repair
):
    source, params = project
    folder = copy_project(source, tmp_path / "project")
    path = target(folder) if callable(target) else folder / target
    saved = path.read_bytes()
    damage(path)
    server = start_server(folder, tmp_path / "uvicorn.log", wait_for="/healthz")
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            assert_not_ready_but_alive(client, folder, names=names, fix=fix, code=code)
            if repair == "restore":
                path.write_bytes(saved)
            else:
                run_pipeline(folder, params, pipelines=[repair])
            assert_ready_and_searching(client)
        assert server.proc.poll() is None
    finally:
        server.stop()
    assert "Traceback" not in server.log_tail(100_000)  # every failure was expected and reported, none escaped


def test_the_online_store_deleted_while_serving_is_noticed_and_rebuilt_without_restart(project, tmp_path):
    source, params = project
    folder = copy_project(source, tmp_path / "project")
    server = start_server(folder, tmp_path / "uvicorn.log")  # ready
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            assert_ready_and_searching(client)
            (folder / "data/07_feature_store/online.db").unlink()
            assert_not_ready_but_alive(
                client, folder, names="online.db is missing", fix="kedro run --pipelines publish", code="not_ready"
            )
            run_pipeline(folder, params, pipelines=["publish"])
            assert_ready_and_searching(client)
    finally:
        server.stop()


def test_missing_offline_tables_do_not_stop_queries_and_the_next_publish_rebuilds_them(project, tmp_path):
    """The server reads only the online store: missing offline parquet files are a warning, not unreadiness."""
    source, params = project
    folder = copy_project(source, tmp_path / "project")
    offline = folder / "data/07_feature_store/offline"
    for table in offline.glob("*.parquet"):
        table.unlink()
    server = start_server(folder, tmp_path / "uvicorn.log", wait_for="/healthz")
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["problems"] == []
            warnings = ready.json()["warnings"]
            assert len(warnings) == 5 and all("kedro run --pipelines publish" in w for w in warnings)
            assert "data/07_feature_store/offline/image_metadata.parquet" in " ".join(warnings)
            assert client.get("/api/search", params={"q": "a photo"}).status_code == 200
            run_pipeline(folder, params, pipelines=["publish"])  # inputs unchanged: it must still notice
            assert sorted(p.name for p in offline.glob("*.parquet")) == [
                "image_description.parquet",
                "image_embedding.parquet",
                "image_metadata.parquet",
                "image_sightings.parquet",
                "image_thumbnail.parquet",
            ]
            assert_ready_and_searching(client)
    finally:
        server.stop()
