"""bench/scaling.py at a tiny size (a tiny model, a dozen coco-mini photos), so the benchmark cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import scaling

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> str:
    from models.encoders.open_clip_encoder import OpenClipEncoder
    from models.onnx_export import export_bundle
    from tests.fixtures.tiny_clip import TINY_ARCH, tiny_weights

    folder = tmp_path_factory.mktemp("scaling")
    encoder = OpenClipEncoder(f"open_clip:{TINY_ARCH}:{tiny_weights(folder)}")
    export_bundle(encoder, folder / "bundle")
    return str(folder / "bundle")


def test_every_measurement_runs_and_embeds_every_image(tiny_bundle, monkeypatch):
    monkeypatch.setattr(scaling, "PARTITION", 4)
    monkeypatch.setattr(scaling, "BATCH", 2)
    paths = scaling.photo_paths(12)
    assert len(paths) == 12 and all(Path(p).is_file() for p in paths)
    assert scaling.embed_job(paths, tiny_bundle, 1) == 12
    cost = scaling.breakdown(paths, tiny_bundle, count=6)
    assert set(cost) == {"read", "decode", "resize", "model"} and all(ms > 0 for ms in cost.values())
    local = scaling.in_process(1, paths, tiny_bundle, rounds=1)
    assert local["threads"] == 1 and local["img_s"] > 0
    cluster = scaling.on_cluster(1, paths, tiny_bundle, rounds=1)  # asserts every image was embedded
    assert cluster["workers"] == 1 and cluster["img_s"] > 0
