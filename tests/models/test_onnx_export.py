"""ONNX bundles: parity with torch on ≥ 200 varied strings and real images, and a torch-free query path."""

import json
import subprocess
import sys

import numpy as np
import pytest

from models.bundle import BundleManifest
from models.evaluation import coco_root
from models.onnx_export import compare
from models.runtime import OnnxImageEncoder, OnnxTextEncoder
from tests.conftest import PROJECT_ROOT
from tests.fixtures.images import photo
from tests.fixtures.texts import varied_texts

TEXTS = varied_texts(200)


def test_tiny_clip_text_parity(tiny_clip, tiny_bundle):
    parity = compare(tiny_clip.encode_texts(TEXTS), OnnxTextEncoder(tiny_bundle).encode_texts(TEXTS))
    assert parity.rows == 200 and parity.holds(0.9999), parity


def test_tiny_clip_image_parity_and_dynamic_batch(tiny_clip, tiny_bundle):
    onnx = OnnxImageEncoder(tiny_bundle)
    images = [photo(60 + 7 * i, 40 + 3 * i, seed=i) for i in range(5)]
    for batch in (images[:1], images):
        parity = compare(tiny_clip.encode_images(batch), onnx.encode_images(batch))
        assert parity.holds(0.9999), parity


@pytest.mark.slow
def test_default_model_text_parity_on_200_strings(default_encoder, default_bundle):
    parity = compare(default_encoder.encode_texts(TEXTS), OnnxTextEncoder(default_bundle).encode_texts(TEXTS))
    assert parity.rows == 200 and parity.holds(0.9999), parity


def test_the_int8_query_graph_stays_close_to_full_precision(default_bundle):
    """Queries are encoded with text.int8.onnx: the same directions, not the same numbers."""
    full, queries = OnnxTextEncoder(default_bundle), OnnxTextEncoder(default_bundle, queries=True)
    assert (full.file, queries.file) == ("text.onnx", "text.int8.onnx")
    parity = compare(full.encode_texts(TEXTS), queries.encode_texts(TEXTS))
    assert parity.min_cosine >= 0.97 and not parity.holds(0.9999), parity  # quantised, and close


def test_queries_are_worded_by_the_bundles_prompt(tiny_bundle, default_bundle):
    """ConSE's bundle words a query like its class prompts; a bundle without a prompt encodes it as typed."""
    conse = OnnxTextEncoder(default_bundle, queries=True)
    assert conse.manifest.text.query_prompt == "a photo of {}"
    queries = ["a dog on a beach", "{} braces stay {0}", ""]
    np.testing.assert_array_equal(
        conse.encode_queries(queries), conse.encode_texts([f"a photo of {q}" for q in queries])
    )
    assert not np.allclose(conse.encode_queries(queries[:1]), conse.encode_texts(queries[:1]))
    clip = OnnxTextEncoder(tiny_bundle)
    assert clip.manifest.text.query_prompt == "{}"
    np.testing.assert_array_equal(clip.encode_queries(queries), clip.encode_texts(queries))


def test_views_make_one_embedding_and_the_centre_gives_features_and_classes(tiny_bundle):
    encoder = OnnxImageEncoder(tiny_bundle)
    size = encoder.preprocess.size
    views = np.random.default_rng(0).uniform(-1, 1, (2, 5, 3, size, size)).astype(np.float32)
    each = encoder.run(views.reshape(10, 3, size, size))
    out = encoder.run_views(views)
    mixed = each.embeddings[0::5] + each.embeddings.reshape(2, 5, -1)[:, 1:].mean(axis=1)
    np.testing.assert_allclose(out.embeddings, mixed / np.linalg.norm(mixed, axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(out.features, each.features[0::5], atol=1e-6)
    np.testing.assert_allclose(out.probabilities, each.probabilities[0::5], atol=1e-6)
    one = encoder.run_views(views[:, :1])  # a single view: the same as run
    np.testing.assert_allclose(one.embeddings, each.embeddings[0::5], atol=1e-6)


def test_the_default_bundle_embeds_corner_views(default_bundle):
    manifest = BundleManifest.load(default_bundle)
    assert manifest.image.preprocess["corner_crop"] == 0.8
    assert OnnxImageEncoder(default_bundle).preprocess.view_count == 5


@pytest.mark.slow
def test_default_model_image_parity_on_real_photos(default_encoder, default_bundle):
    paths = sorted((coco_root() / "train2017").glob("*.jpg"))[:16]
    if not paths:
        pytest.skip("coco-mini not present")
    onnx = OnnxImageEncoder(default_bundle)
    pixels = np.stack([onnx.preprocess.load(p.read_bytes()) for p in paths])
    outputs = onnx.run(pixels)
    assert compare(default_encoder.encode_pixels(pixels), outputs.embeddings).holds(0.9999)
    assert compare(default_encoder.image_features(pixels), outputs.features).holds(0.9999)
    reference = default_encoder.class_probabilities(pixels)
    assert outputs.probabilities.shape == (16, 1000)
    np.testing.assert_allclose(outputs.probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert np.abs(reference - outputs.probabilities).max() < 1e-4
    assert (reference.argmax(axis=1) == outputs.probabilities.argmax(axis=1)).all()


def test_bundle_names_the_classes_as_wordnet_ids(default_bundle):
    onnx = OnnxImageEncoder(default_bundle)
    assert len(onnx.class_ids) == len(onnx.class_names) == 1000
    assert onnx.class_ids[281] == "n02123045" and onnx.class_names[281] == "tabby cat"


def test_tiny_clip_gives_zero_shot_class_probabilities(tiny_clip, tiny_bundle):
    onnx = OnnxImageEncoder(tiny_bundle)
    pixels = onnx.preprocess.batch([photo(50, 50, seed=s) for s in range(3)])
    probabilities = onnx.run(pixels).probabilities
    assert probabilities.shape == (3, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert np.abs(tiny_clip.class_probabilities(pixels) - probabilities).max() < 1e-4


def test_manifest_records_spec_version_and_preprocessing(default_encoder, default_bundle):
    manifest = BundleManifest.load(default_bundle)
    assert manifest.spec == default_encoder.spec and manifest.dim == 384 and len(manifest.version) == 12
    raw = json.loads((default_bundle / "manifest.json").read_text())
    assert raw["image"]["preprocess"]["mean"] == [0.5, 0.5, 0.5]
    assert raw["format"] == 4 and raw["image"]["classes"] == "classes.json"
    assert raw["text"]["query_prompt"] == "a photo of {}"
    assert sorted(p.name for p in default_bundle.iterdir()) == [
        "classes.json",
        "image.onnx",
        "manifest.json",
        "text.int8.onnx",
        "text.onnx",
        "tokenizer.json",
    ]


def test_missing_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.json"):
        OnnxTextEncoder(tmp_path)


def test_text_query_path_imports_no_torch(default_bundle):
    """The server's text path: tokenizer + onnxruntime + numpy, in a fresh interpreter."""
    script = (
        "import sys\n"
        "from models.runtime import OnnxTextEncoder\n"
        f"encoder = OnnxTextEncoder({str(default_bundle)!r}, queries=True)\n"
        "vector = encoder.encode_texts(['a red car'])\n"
        "assert vector.shape == (1, 384), vector.shape\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'open_clip', 'timm'))\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_bundle_export_is_atomic(tiny_clip, tmp_path, monkeypatch):
    """A failing export leaves no half-written bundle behind (and an existing one untouched)."""
    from models import onnx_export

    target = tmp_path / "bundle"
    target.mkdir()
    (target / "manifest.json").write_text("{}")

    def broken(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx_export, "export_onnx", broken)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        onnx_export.export_bundle(tiny_clip, target)
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert (target / "manifest.json").read_text() == "{}"


def test_models_package_stays_independent():
    """docs/architecture.md: models imports nothing else of ours."""
    offenders = []
    for path in (PROJECT_ROOT / "models").rglob("*.py"):
        text = path.read_text()
        for name in ("pipeline", "server", "accessibility"):
            if f"from {name}" in text or f"import {name}" in text:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)} imports {name}")
    assert offenders == []
