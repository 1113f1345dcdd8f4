"""The ingest pipeline run through Kedro itself (catalog, parameters, runners) in a scratch project."""

import shutil

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import ParallelRunner, SequentialRunner

from models.evaluation import coco_root
from tests.fixtures.images import encode, photo, truncated_jpeg, write


@pytest.fixture
def scratch_project(tmp_path, project_root, monkeypatch):
    """A copy of the project's configuration, so outputs land in tmp_path/data, not the repo."""
    shutil.copy(project_root / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(project_root / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "models" / "onnx").mkdir(parents=True)
    for seed in range(4):
        write(tmp_path / "data/01_raw/demo/set" / f"{seed}.jpg", encode(photo(seed=seed), "JPEG"))
    write(tmp_path / "data/01_raw/demo/broken.jpg", truncated_jpeg())
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    return tmp_path


def run(project, runner=None, **params):
    with KedroSession.create(project_path=project, runtime_params=params or None) as session:
        session.run(pipeline_names=["ingest"], runner=runner or SequentialRunner())


@pytest.mark.parametrize("runner", [SequentialRunner, ParallelRunner], ids=["sequential", "parallel"])
def test_ingest_pipeline_writes_its_tables(scratch_project, runner):
    run(scratch_project, runner())
    images = pd.read_parquet(scratch_project / "data/03_primary/images.parquet")
    rejects = pd.read_parquet(scratch_project / "data/02_intermediate/ingest_rejects.parquet")
    files = pd.read_parquet(scratch_project / "data/02_intermediate/ingested_files.parquet")
    assert sorted(images["path"]) == [f"set/{i}.jpg" for i in range(4)]
    assert rejects["path"].tolist() == ["broken.jpg"]
    assert len(files) == 4


def test_rerun_is_idempotent_and_incremental(scratch_project):
    run(scratch_project)
    first = pd.read_parquet(scratch_project / "data/03_primary/images.parquet")
    write(scratch_project / "data/01_raw/demo/set/new.png", encode(photo(seed=42), "PNG"))
    run(scratch_project)
    second = pd.read_parquet(scratch_project / "data/03_primary/images.parquet")
    assert len(second) == len(first) + 1
    kept = second[second["image_id"].isin(first["image_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first)


def test_root_is_overridable_at_run_time(scratch_project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    write(elsewhere / "only.gif", encode(photo(seed=9), "GIF"))
    run(scratch_project, ingest={"root": str(elsewhere)})
    images = pd.read_parquet(scratch_project / "data/03_primary/images.parquet")
    assert images["path"].tolist() == ["only.gif"]


@pytest.mark.slow
def test_full_pipeline_with_a_tiny_model_is_incremental(scratch_project, tmp_path_factory, monkeypatch):
    """ingest → export_onnx → embed → evaluate → register, then a rerun that redoes nothing."""
    import json

    from models.registry import Registry
    from tests.fixtures.tiny_clip import TINY_ARCH, tiny_weights

    weights = tiny_weights(tmp_path_factory.mktemp("tiny"))
    spec = f"open_clip:{TINY_ARCH}:{weights}"
    coco = coco_root()
    params = {"model": {"spec": spec}, "evaluate": {"coco_root": str(coco)}}

    def run_all():
        with KedroSession.create(project_path=scratch_project, runtime_params=params) as session:
            session.run(runner=SequentialRunner())

    run_all()
    bundle = json.loads((scratch_project / "data/06_models/model_bundle.json").read_text())
    assert bundle["spec"] == spec and (scratch_project / bundle["folder"] / "text.onnx").exists()
    embeddings = pd.read_parquet(scratch_project / "data/04_feature/image_embeddings.parquet")
    images = pd.read_parquet(scratch_project / "data/03_primary/images.parquet")
    assert sorted(embeddings["image_id"]) == sorted(images["image_id"])
    assert {len(v) for v in embeddings["embedding"]} == {32}
    evaluation = json.loads((scratch_project / "data/08_reporting/evaluation.json").read_text())
    if coco.exists():
        assert evaluation["metrics"]["coco_queries"] == 400 and evaluation["metrics"]["coco_gallery"] == 160
    from models.index import VectorIndex

    index_root = scratch_project / "data/05_model_input/indexes" / bundle["version"]
    text_index = VectorIndex.load(index_root / "text")
    image_index = VectorIndex.load(index_root / "image")
    assert text_index.meta.model_version == image_index.meta.model_version == bundle["version"]
    assert sorted(text_index.ids) == sorted(images["image_id"]) and text_index.meta.kind == "flat"
    from feature_repo.store import open_store

    store = open_store(scratch_project / "data/07_feature_store")
    first_id = images["image_id"].iloc[0]
    online = store.get_online_features(
        features=["image_metadata:path", "image_thumbnail:thumbnail", "image_embedding:embedding"],
        entity_rows=[{"image_id": first_id, "model_version": bundle["version"]}],
    ).to_dict()
    assert online["path"] == [images["path"].iloc[0]] and online["thumbnail"][0] == images["thumbnail"].iloc[0]
    assert len(online["embedding"][0]) == 32
    registration = json.loads((scratch_project / "data/06_models/registration.json").read_text())
    assert registration["production"] == registration["candidate"] == "1"
    registry = Registry(f"sqlite:///{scratch_project}/data/mlflow/mlflow.db", scratch_project / "data/mlflow/artifacts")
    production = registry.get("production")
    assert production.bundle_version == bundle["version"]
    assert production.tags["index_text"] == "Flat" and production.tags["index_text_recall_at_10"] == "1.0000"

    stamp = {p: p.stat().st_mtime_ns for p in scratch_project.rglob("*.onnx")}
    assert len(stamp) == 6  # text, int8 text (queries) and image in the bundle, and their copies in the registry
    write(scratch_project / "data/01_raw/demo/set/extra.png", encode(photo(seed=77), "PNG"))
    run_all()
    assert {p: p.stat().st_mtime_ns for p in scratch_project.rglob("*.onnx")} == stamp  # no re-export
    again = pd.read_parquet(scratch_project / "data/04_feature/image_embeddings.parquet")
    assert len(again) == len(embeddings) + 1
    kept = again[again["image_id"].isin(embeddings["image_id"])].sort_values("image_id", ignore_index=True)
    np.testing.assert_array_equal(
        np.stack(kept["embedding"]), np.stack(embeddings.sort_values("image_id")["embedding"])
    )
    assert len(registry.versions()) == 1  # same bundle, same registry version
    assert VectorIndex.load(index_root / "text").meta.count == len(again)
    published = json.loads((scratch_project / "data/07_feature_store/publication.json").read_text())
    assert published["rows"]["image_metadata"] == len(again)
