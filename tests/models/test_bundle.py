"""The bundle manifest: fields a newer export adds are ignored, a damaged manifest is a clear ValueError."""

import json
import re

import pytest

from models.bundle import MANIFEST, BundleManifest, ImageSpec, TextSpec, content_version


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
        lambda raw: json.dumps(raw | {"text": raw["text"] | {"query_prompt": "a photo of"}}),  # no place for it
        lambda raw: json.dumps(raw | {"text": raw["text"] | {"query_prompt": "{} and {0}"}}),  # other braces
        lambda raw: json.dumps(raw | {"text": raw["text"] | {"query_prompt": 3}}),
    ],
)
def test_a_damaged_manifest_is_a_value_error_naming_the_file(manifest, damage):
    manifest.write_text(damage(json.loads(manifest.read_text())))
    with pytest.raises(ValueError, match=re.escape(f"manifest {manifest} is damaged or incomplete")):
        BundleManifest.load(manifest.parent)


def test_a_missing_manifest_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        BundleManifest.load(tmp_path)


def test_the_query_prompt_round_trips_and_older_bundles_encode_queries_as_typed(manifest, tmp_path):
    assert BundleManifest.load(manifest.parent).text.query_prompt == "{}"  # a manifest written before it
    folder = tmp_path / "prompted"
    folder.mkdir()
    BundleManifest("spec:y", 8, "v2", TextSpec(query_prompt="a photo of {}"), None, format=3).save(folder)
    assert BundleManifest.load(folder).text.query_prompt == "a photo of {}"


def test_the_version_covers_the_files_and_the_settings(tmp_path):
    (tmp_path / "a.onnx").write_bytes(b"weights")
    plain = content_version(tmp_path, ["a.onnx"])
    assert plain == content_version(tmp_path, ["a.onnx"])
    assert content_version(tmp_path, ["a.onnx"], settings="query_prompt=a photo of {}") != plain
    (tmp_path / "a.onnx").write_bytes(b"weights!")
    assert content_version(tmp_path, ["a.onnx"]) != plain
