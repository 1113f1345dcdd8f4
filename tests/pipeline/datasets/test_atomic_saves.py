"""Every dataset the catalog writes is saved atomically: a process killed mid-write leaves the previous file.

The kill is real and lands inside the write: the child process saves with RLIMIT_FSIZE lowered and SIGXFSZ at
its default action, so the kernel kills it the moment the file being written passes the limit (part of the new
bytes on disk, the rest never written). The parent then checks the target still holds the previous content, that
a later run reading it as its own previous output gets that content, and that the next save removes the partial
temporary file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DatasetError

from models.index import VectorIndex
from pipeline.datasets import JsonFile, ParquetTable, VectorIndexes
from tests.fixtures.project import PROJECT_ROOT

LIMIT = 64 * 1024  # bytes any file of the child may reach

CHILD = """
import pickle, resource, signal, sys
from pipeline.datasets import JsonFile, ParquetTable, VectorIndexes
kind, path, payload = sys.argv[1], sys.argv[2], sys.argv[3]
dataset = {"parquet": ParquetTable, "json": JsonFile, "index": VectorIndexes}[kind](path)
with open(payload, "rb") as handle:
    data = pickle.load(handle)
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the default action terminates the process
resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_BYTES, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
dataset.save(data)
""".replace("MAX_BYTES", str(LIMIT))


def save_in_a_child_killed_mid_write(tmp_path: Path, kind: str, path: Path, data) -> None:
    import pickle

    payload = tmp_path / "payload.pickle"
    payload.write_bytes(pickle.dumps(data))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path), str(payload)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGXFSZ, f"expected a SIGXFSZ kill, got {done.returncode}:\n{done.stderr}"


def partial_leftovers(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.rglob(f".{name}.*")]


def big_frame(rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"image_id": [f"{i:032x}" for i in range(rows)], "blob": [rng.bytes(256) for _ in range(rows)]})


def test_parquet_table_killed_mid_write_keeps_the_previous_table(tmp_path):
    target = tmp_path / "data" / "images.parquet"
    old = pd.DataFrame({"image_id": ["a", "b"], "blob": [b"1", b"2"]})
    ParquetTable(str(target)).save(old)
    save_in_a_child_killed_mid_write(tmp_path, "parquet", target, big_frame())
    [partial] = partial_leftovers(target.parent, target.name)
    assert 0 < partial.stat().st_size <= LIMIT  # the kill came while the new table was being written
    pd.testing.assert_frame_equal(ParquetTable(str(target)).load(), old)
    pd.testing.assert_frame_equal(ParquetTable(str(target), missing_ok=True).load(), old)  # the next run's cache
    new = big_frame(10)
    ParquetTable(str(target)).save(new)
    pd.testing.assert_frame_equal(ParquetTable(str(target)).load(), new)
    assert sorted(p.name for p in target.parent.iterdir()) == ["images.parquet"]


def test_json_file_killed_mid_write_keeps_the_previous_document(tmp_path):
    target = tmp_path / "data" / "publication.json"
    JsonFile(str(target)).save({"fingerprint": "old"})
    big = {"fingerprint": "new", "rows": ["x" * 100 for _ in range(5000)]}
    save_in_a_child_killed_mid_write(tmp_path, "json", target, big)
    [partial] = partial_leftovers(target.parent, target.name)
    assert 0 < partial.stat().st_size <= LIMIT
    assert JsonFile(str(target)).load() == {"fingerprint": "old"}
    assert JsonFile(str(target), missing_ok=True).load() == {"fingerprint": "old"}
    JsonFile(str(target)).save({"fingerprint": "newer"})
    assert json.loads(target.read_text()) == {"fingerprint": "newer"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["publication.json"]


def indexes(count: int, version: str = "v1") -> dict[str, VectorIndex]:
    rng = np.random.default_rng(count)
    vectors = rng.standard_normal((count, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"{i:032x}" for i in range(count)]
    return {name: VectorIndex.build(vectors, ids, version) for name in ("text", "image")}


def test_vector_indexes_killed_mid_write_keep_the_previous_indexes(tmp_path):
    root = tmp_path / "indexes"
    VectorIndexes(str(root)).save(indexes(5))
    save_in_a_child_killed_mid_write(tmp_path, "index", root, indexes(4000))  # ~0.5 MB per index.faiss
    assert partial_leftovers(root / "v1", "text")  # the staging folder of the text index, half written
    loaded = VectorIndexes(str(root), missing_ok=True).load()
    assert {name: index.meta.count for name, index in loaded.items()} == {"text": 5, "image": 5}
    VectorIndexes(str(root)).save(indexes(7))
    assert VectorIndexes(str(root)).load()["text"].meta.count == 7
    assert sorted(p.name for p in (root / "v1").iterdir()) == ["image", "text"]
    assert sorted(p.name for p in root.iterdir()) == ["current.json", "v1"]


# --- a previous output damaged on disk is not trusted -------------------------------------------------------


def test_an_unreadable_previous_table_is_ignored_not_trusted(tmp_path):
    target = tmp_path / "images.parquet"
    ParquetTable(str(target)).save(big_frame(50))
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])  # truncated behind the dataset's back
    assert ParquetTable(str(target), missing_ok=True).load().empty  # the node rebuilds it
    with pytest.raises(DatasetError, match=r"images\.parquet"):
        ParquetTable(str(target)).load()


def test_an_unreadable_previous_document_is_ignored_not_trusted(tmp_path):
    target = tmp_path / "evaluation.json"
    target.write_text('{"bundle_version": "abc", "metr')
    assert JsonFile(str(target), missing_ok=True).load() is None
    with pytest.raises(DatasetError, match=r"evaluation\.json"):
        JsonFile(str(target)).load()


@pytest.mark.parametrize("damage", ["truncate", "random", "delete_folder"])
def test_unreadable_previous_indexes_are_rebuilt_not_trusted(tmp_path, damage):
    root = tmp_path / "indexes"
    VectorIndexes(str(root)).save(indexes(50))
    index_file = root / "v1" / "text" / "index.faiss"
    if damage == "truncate":
        index_file.write_bytes(index_file.read_bytes()[:1000])
    elif damage == "random":
        index_file.write_bytes(os.urandom(index_file.stat().st_size))
    else:
        import shutil

        shutil.rmtree(root / "v1" / "text")
    assert VectorIndexes(str(root), missing_ok=True).load() is None
    with pytest.raises(DatasetError):
        VectorIndexes(str(root)).load()


def test_the_catalog_writes_only_through_atomic_datasets():
    """kedro's own json.JSONDataset truncates its file before writing: a run killed then left a file no later
    run could parse. Every entry of the catalog must be one of ours."""
    catalog = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog.yml").read_text())
    ours = {"pipeline.datasets.ParquetTable", "pipeline.datasets.JsonFile", "pipeline.datasets.VectorIndexes"}
    assert {name: entry["type"] for name, entry in catalog.items() if entry["type"] not in ours} == {}
