"""A `kedro run` killed mid-run resumes, and the resumed project holds the same artifacts as an uninterrupted run.

One scratch project is run with `kedro run` (a real process) and SIGKILLed four times at exact moments, each
run resuming from what the previous one left: mid-export (the ONNX bundle half written), between the ingest
node's saves (the file table written, the images table not), mid-publish (Feast applying / materialising) and
mid-register (an MLflow run created, its bundle half copied, no model version yet). A fifth run completes.
Every artifact is then compared with an uninterrupted run of the same inputs in another folder.

What "the same" means, per artifact:

- tables (listing, files, images, rejects, embeddings, descriptions): equal row for row; embeddings, features
  and class probabilities bit for bit. Only ``images.ingested_at`` (when the row was made) may differ.
- the ONNX bundle, and its copy in the registry: the same files, byte for byte.
- indexes: ``index.faiss`` and ``ids.npy`` byte for byte, ``meta.json`` equal but for ``build_seconds``.
- JSON reports: equal but for times (``published_at``, ``build_seconds``), the absolute ``store_root`` and the
  publish ``fingerprint`` (a hash over ``ingested_at``).
- feature store: offline tables equal but for ``event_timestamp`` (derived from run times); every feature of
  every image read back from the online store equal; the registry defines the same views with the same
  features (not its bytes: Feast stamps it with a uuid and a time).
- model registry: the same versions (number, spec, bundle version, aliases, metrics, tags). The MLflow *run* a
  killed register left behind stays in the experiment (MLflow's, not ours to delete); no version points to it.
- no temporary file or staging folder left anywhere under data/ or models/.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.project import PROJECT_ROOT, copy_inputs, prepare_project

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

KEDRO = Path(sys.executable).parent / "kedro"
KILL_SWITCH = PROJECT_ROOT / "tests" / "fixtures" / "kill_switch.py"
BROKEN_JPEG = b"\xff\xd8\xff\xe0 not really a jpeg"

TABLES = {
    "listing": "data/02_intermediate/image_listing.parquet",
    "files": "data/02_intermediate/ingested_files.parquet",
    "images": "data/03_primary/images.parquet",
    "rejects": "data/02_intermediate/ingest_rejects.parquet",
    "embeddings": "data/04_feature/image_embeddings.parquet",
    "descriptions": "data/04_feature/image_descriptions.parquet",
}
# (audit event, path substring, nth, what the kill interrupts); one run each, in this order
KILLS = [
    ("open", "models/onnx/.", 1, "mid-export: the ONNX bundle half written in its staging folder"),
    ("os.rename", "data/03_primary/images.parquet", 1, "ingest: files table saved, images table not yet"),
    ("sqlite3.connect", "data/07_feature_store/online.db", 1, "mid-publish: Feast apply / materialise"),
    ("open", "data/mlflow/artifacts/", 1, "mid-register: MLflow run created, bundle half copied"),
]


def kedro_params(params: dict) -> str:
    return f"model.spec={params['model']['spec']},evaluate.coco_root={params['evaluate']['coco_root']}"


def kedro_run(folder: Path, params: dict, kill: tuple | None = None) -> subprocess.CompletedProcess:
    args = ["run", "--params", kedro_params(params)]
    if kill is None:
        cmd = [str(KEDRO), *args]
    else:
        event, needle, nth, _ = kill
        cmd = [sys.executable, str(KILL_SWITCH), event, needle, str(nth), "--", *args]
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    params = prepare_project(folder, images=12)
    (folder / "data/01_raw/demo/set0/broken.jpg").write_bytes(BROKEN_JPEG)
    done = kedro_run(folder, params)
    assert done.returncode == 0, done.stderr[-5000:]
    return folder, params


# ---------------------------------------------------------------------------------------------------- reading


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def read_json(folder: Path, relative: str, drop: tuple[str, ...] = ()) -> dict:
    data = json.loads((folder / relative).read_text())
    for key in drop:
        data.pop(key, None)
    return data


def without_build_time(summary: dict) -> dict:
    return {name: {k: v for k, v in meta.items() if k != "build_seconds"} for name, meta in summary.items()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files and staging folders (dot-named, ``*.tmp``, ``*.old``) under data/ and models/."""
    found = []
    for top in ("data", "models"):
        for p in (folder / top).rglob("*"):
            if p.name.startswith(".") or p.name.endswith((".tmp", ".old")):
                found.append(p.relative_to(folder).as_posix())
    return sorted(found)


def online_features(folder: Path, ids: list[str], version: str) -> dict:
    from feature_repo import schema as views
    from feature_repo.store import open_store

    store = open_store(folder / "data/07_feature_store")
    features = (
        [f"{views.METADATA}:{f}" for f in views.METADATA_FEATURES]
        + [f"{views.THUMBNAIL}:thumbnail"]
        + [f"{views.DESCRIPTION}:{f}" for f in views.DESCRIPTION_FEATURES]
    )
    rows = store.get_online_features(features=features, entity_rows=[{"image_id": i} for i in ids]).to_dict()
    embedded = store.get_online_features(
        features=[f"{views.EMBEDDING}:embedding"],
        entity_rows=[{"image_id": i, "model_version": version} for i in ids],
    ).to_dict()
    rows["embedding"] = embedded["embedding"]
    views_defined = sorted(
        (v.name, sorted((f.name, str(f.dtype)) for f in v.features), sorted(v.entities))
        for v in store.list_feature_views()
    )
    return {"rows": rows, "views": views_defined}


def registry_state(folder: Path) -> tuple[list[dict], dict[str, dict[str, str]]]:
    from models.registry import Registry

    registry = Registry(f"sqlite:///{folder}/data/mlflow/mlflow.db", folder / "data/mlflow/artifacts")
    versions, bundles = [], {}
    for v in registry.versions():
        versions.append(
            {
                "version": v.version,
                "spec": v.spec,
                "bundle_version": v.bundle_version,
                "aliases": sorted(v.aliases),
                "metrics": v.metrics,
                "tags": v.tags,
            }
        )
        bundles[v.version] = files_under(registry.bundle_path(v))
    return versions, bundles


def offline_tables(folder: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for path in sorted((folder / "data/07_feature_store/offline").glob("*.parquet")):
        table = pd.read_parquet(path).drop(columns=["event_timestamp"])
        keys = [c for c in ("image_id", "model_version") if c in table.columns]
        out[path.name] = table.sort_values(keys, ignore_index=True)
    return out


# ---------------------------------------------------------------------------------------------------- the test


def test_a_run_killed_four_times_resumes_to_the_uninterrupted_artifacts(reference, tmp_path):
    source, params = reference
    folder = tmp_path / "killed"
    copy_inputs(source, folder)

    for kill in KILLS:
        killed = kedro_run(folder, params, kill)
        assert killed.returncode == -9 and "KILL-SWITCH" in killed.stderr, (
            f"the run was to be killed {kill[3]}, it ended with {killed.returncode}:\n{killed.stderr[-5000:]}"
        )
        if kill[1] == "data/03_primary/images.parquet":  # the state this kill is about
            assert (folder / TABLES["files"]).exists() and not (folder / TABLES["images"]).exists()
    final = kedro_run(folder, params)
    assert final.returncode == 0, final.stderr[-8000:]

    assert leftovers(folder) == []

    # tables
    for name, relative in TABLES.items():
        want, got = pd.read_parquet(source / relative), pd.read_parquet(folder / relative)
        if name == "images":
            want, got = want.drop(columns=["ingested_at"]), got.drop(columns=["ingested_at"])
        if name == "embeddings":
            for column in ("embedding", "features", "class_probabilities", "classes"):
                a, b = np.stack(want.pop(column)), np.stack(got.pop(column))
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"embeddings.{column} differ"
        pd.testing.assert_frame_equal(got, want, obj=name)
    assert len(pd.read_parquet(folder / TABLES["images"])) == 12
    assert pd.read_parquet(folder / TABLES["rejects"])["path"].tolist() == ["set0/broken.jpg"]

    # the ONNX bundle, the indexes and the JSON reports
    bundle = read_json(source, "data/06_models/model_bundle.json")
    assert read_json(folder, "data/06_models/model_bundle.json") == bundle
    assert files_under(folder / bundle["folder"]) == files_under(source / bundle["folder"])
    version = bundle["version"]
    for name in ("text", "image"):
        relative = f"data/05_model_input/indexes/{version}/{name}"
        for file in ("index.faiss", "ids.npy"):
            assert sha256(folder / relative / file) == sha256(source / relative / file), f"{relative}/{file}"
        assert read_json(folder, f"{relative}/meta.json", ("build_seconds",)) == read_json(
            source, f"{relative}/meta.json", ("build_seconds",)
        )
    assert read_json(folder, "data/05_model_input/indexes/current.json") == {"model_version": version}
    assert without_build_time(read_json(folder, "data/05_model_input/index_summary.json")) == without_build_time(
        read_json(source, "data/05_model_input/index_summary.json")
    )
    for relative in ("data/08_reporting/evaluation.json", "data/06_models/registration.json"):
        assert read_json(folder, relative) == read_json(source, relative), relative
    volatile = ("published_at", "store_root", "fingerprint")
    assert read_json(folder, "data/07_feature_store/publication.json", volatile) == read_json(
        source, "data/07_feature_store/publication.json", volatile
    )

    # the feature store
    want_offline, got_offline = offline_tables(source), offline_tables(folder)
    assert sorted(got_offline) == sorted(want_offline)
    for name, table in want_offline.items():
        pd.testing.assert_frame_equal(got_offline[name], table, obj=name)
    ids = sorted(pd.read_parquet(source / TABLES["images"])["image_id"])
    assert online_features(folder, ids, version) == online_features(source, ids, version)

    # the model registry
    assert registry_state(folder) == registry_state(source)

    # and the same files, but for the MLflow artifact folders (named by run id)
    def listing(root: Path) -> set[str]:
        return {
            p.relative_to(root).as_posix()
            for top in ("data", "models")
            for p in (root / top).rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith("data/mlflow/")
        }

    assert listing(folder) == listing(source)
