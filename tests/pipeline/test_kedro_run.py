"""The ingest pipeline run through Kedro itself (catalog, parameters, runners) in a scratch project."""

import shutil

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import ParallelRunner, SequentialRunner

from tests.fixtures.images import encode, photo, truncated_jpeg, write


@pytest.fixture
def scratch_project(tmp_path, project_root, monkeypatch):
    """A copy of the project's configuration, so outputs land in tmp_path/data, not the repo."""
    shutil.copy(project_root / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(project_root / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
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
