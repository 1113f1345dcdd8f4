"""A model folder is swapped in whole or not at all."""

from __future__ import annotations

import pytest

from models.staging import staged_folder


def test_a_completed_build_replaces_the_folder(tmp_path):
    target = tmp_path / "out" / "model"
    target.mkdir(parents=True)
    (target / "old.onnx").write_text("old")
    with staged_folder(target) as staging:
        (staging / "new.onnx").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.onnx"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["model"]
    assert oct(target.stat().st_mode & 0o777) == "0o755"


def test_a_failed_build_leaves_the_old_folder_and_no_staging(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.onnx").write_text("old")
    with pytest.raises(RuntimeError, match="conversion failed"), staged_folder(target) as staging:
        (staging / "half.onnx").write_text("half")
        raise RuntimeError("conversion failed")
    assert [p.name for p in target.iterdir()] == ["old.onnx"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
