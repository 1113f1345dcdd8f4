"""The bundle manifest: fields a newer export adds are ignored, a damaged manifest is a clear ValueError."""

import json
import re

import pytest

from models.bundle import MANIFEST, BundleManifest, ImageSpec, TextSpec


@pytest.fixture
def manifest(tmp_path):
    BundleManifest(
        "spec:x", 8, "v1", TextSpec(query_file="text.int8.onnx"), ImageSpec(classes="c.json"), format=2
    ).save(tmp_path)
    return tmp_path / MANIFEST


def test_a_manifest_round_trips(manifest):
    loaded = BundleManifest.load(manifest.parent)
    assert (loaded.text.query_file, loaded.image.classes, loaded.format) == ("text.int8.onnx", "c.json", 2)


def test_keys_a_newer_export_adds_are_ignored(manifest):
    raw = json.loads(manifest.read_text())
    raw["text"]["future_file"] = "text.fp16.onnx"
    raw["image"]["future_option"] = True
    raw["new_top_level"] = 1
    manifest.write_text(json.dumps(raw))
    loaded = BundleManifest.load(manifest.parent)
    assert (loaded.spec, loaded.text.file, loaded.image.file) == ("spec:x", "text.onnx", "image.onnx")


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: "{" + json.dumps(raw)[:40],  # truncated
        lambda raw: json.dumps({k: v for k, v in raw.items() if k != "dim"}),  # a required key missing
        lambda raw: json.dumps(raw | {"dim": "wide"}),  # a wrong type
        lambda raw: json.dumps(raw | {"text": ["text.onnx"]}),  # a section of the wrong shape
        lambda raw: json.dumps([raw]),  # not an object
    ],
)
def test_a_damaged_manifest_is_a_value_error_naming_the_file(manifest, damage):
    manifest.write_text(damage(json.loads(manifest.read_text())))
    with pytest.raises(ValueError, match=re.escape(f"manifest {manifest} is damaged or incomplete")):
        BundleManifest.load(manifest.parent)


def test_a_missing_manifest_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        BundleManifest.load(tmp_path)
