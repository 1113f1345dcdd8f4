"""A file or a folder is replaced whole or not at all (models/atomic.py), and what a killed write left beside
its target is removed by the next write of that target."""

from __future__ import annotations

import os

import pytest

from models.atomic import atomic_path, atomic_write, remove_leftovers, staged_folder


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_completed_write_replaces_the_file_with_the_permissions_open_would_give(tmp_path):
    target = tmp_path / "out" / "doc.json"
    with atomic_write(target, "w", encoding="utf-8") as handle:
        handle.write("first")
    with atomic_write(target) as handle:
        handle.write(b"second")
    assert target.read_bytes() == b"second" and names(target.parent) == ["doc.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_write(target) as handle:
        handle.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and names(tmp_path) == ["table.parquet"]


def test_a_library_writes_to_the_path_it_is_given(tmp_path):
    target = tmp_path / "words.sqlite"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".words.sqlite.") and not target.exists()
        tmp.write_text("written by a library")
    assert target.read_text() == "written by a library" and names(tmp_path) == ["words.sqlite"]


def test_the_next_write_removes_what_a_killed_one_left(tmp_path):
    target = tmp_path / "doc.json"
    (tmp_path / ".doc.json.abc123").write_text("half")  # a temporary file of a killed write
    (tmp_path / ".doc.json.def456").mkdir()  # a staging folder of a killed one
    (tmp_path / ".other.json.abc123").write_text("not ours")
    with atomic_write(target) as handle:
        handle.write(b"new")
    assert names(tmp_path) == [".other.json.abc123", "doc.json"]
    remove_leftovers(tmp_path / "missing" / "x.json")  # a folder that does not exist: nothing to do


def test_a_completed_build_replaces_the_folder(tmp_path):
    target = tmp_path / "out" / "model"
    target.mkdir(parents=True)
    (target / "old.onnx").write_text("old")
    with staged_folder(target) as staging:
        (staging / "sub").mkdir()
        (staging / "sub" / "new.onnx").write_text("new")
        assert names(target) == ["old.onnx"]  # the old folder is served until the new one is complete
    assert names(target) == ["sub"] and (target / "sub" / "new.onnx").read_text() == "new"
    assert names(target.parent) == ["model"]  # neither the staging folder nor the old one is left
    assert oct(target.stat().st_mode & 0o777) == "0o755"


def test_a_failed_build_leaves_the_old_folder_and_no_staging(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.onnx").write_text("old")
    with pytest.raises(RuntimeError, match="conversion failed"), staged_folder(target) as staging:
        (staging / "half.onnx").write_text("half")
        raise RuntimeError("conversion failed")
    assert names(target) == ["old.onnx"]
    assert names(tmp_path) == ["model"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path):
    target = tmp_path / "index"
    target.mkdir()
    (target / "index.faiss").write_text("old")
    with pytest.raises(FileNotFoundError), staged_folder(target) as staging:
        staging.rmdir()  # removed behind its back: renaming it into place fails after the old one moved aside
    assert (target / "index.faiss").read_text() == "old"
    assert names(tmp_path) == ["index"]
