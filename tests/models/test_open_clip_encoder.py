"""open_clip encoders, exercised end to end with a tiny randomly initialised model the tests build."""

import time

import numpy as np
import pytest

from models.encoders import ModelUnavailableError, load_encoder
from models.encoders.open_clip_encoder import parse_spec, resolve_weights
from tests.fixtures.texts import varied_texts
from tests.fixtures.tiny_clip import TINY_ARCH


def test_spec_parsing():
    assert parse_spec("open_clip:ViT-B-32:laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")
    assert parse_spec("open_clip:ViT-B-32:/w/x.bin") == ("ViT-B-32", "/w/x.bin")
    for bad in ("open_clip:ViT-B-32", "clip:ViT:x", "open_clip::x"):
        with pytest.raises(ValueError, match="open_clip spec"):
            parse_spec(bad)


def test_tiny_model_outputs(tiny_clip):
    from PIL import Image

    assert tiny_clip.dim == 32 and tiny_clip.spec.startswith(f"open_clip:{TINY_ARCH}:")
    texts = tiny_clip.encode_texts(["a cat", "a dog", ""])
    images = tiny_clip.encode_images([Image.new("RGB", (50, 40), "red"), Image.new("RGBA", (20, 30))])
    for out, rows in ((texts, 3), (images, 2)):
        assert out.dtype == np.float32 and out.shape == (rows, 32)
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_tokenizer_file_matches_open_clip_on_varied_strings(tiny_clip):
    import open_clip

    reference = open_clip.get_tokenizer(TINY_ARCH)
    texts = varied_texts(200)
    expected = reference(texts).numpy()
    ids, mask = tiny_clip.tokenizer(texts)
    for row, text in enumerate(texts):
        n = int(mask[row].sum())
        assert ids[row, :n].tolist() == expected[row, :n].tolist(), text
        assert not expected[row, n:].any(), text


def test_dynamic_sequence_equals_full_context(tiny_clip):
    """Slicing positions and mask to the input length changes nothing (causal mask, EOT pooling)."""
    import open_clip
    import torch

    texts = varied_texts(40)
    tokens = open_clip.get_tokenizer(TINY_ARCH)(texts)
    with torch.inference_mode():
        full = torch.nn.functional.normalize(tiny_clip.model.encode_text(tokens), dim=-1).numpy()
    np.testing.assert_allclose(tiny_clip.encode_texts(texts), full, atol=1e-5)


def test_missing_weights_file_is_clear(tmp_path):
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        resolve_weights("ViT-B-32", str(tmp_path / "nope.bin"))


def test_unknown_arch_and_tag(tmp_path):
    with pytest.raises(ValueError, match="unknown open_clip architecture"):
        resolve_weights("No-Such-Arch", "x")
    with pytest.raises(ValueError, match="known tags"):
        resolve_weights("ViT-B-32", "no_such_tag")


@pytest.mark.slow
def test_a_custom_architecture_is_registered_from_its_json_beside_the_weights(tiny_clip_spec):
    """A fresh process (a Dask worker, say) knows nothing of the test architecture until it reads TINY.json."""
    import subprocess
    import sys

    weights = tiny_clip_spec.split(":", 2)[2]
    code = (
        "import open_clip\n"
        "from models.encoders.open_clip_encoder import resolve_weights\n"
        f"assert {TINY_ARCH!r} not in open_clip.list_models()\n"
        f"print(resolve_weights({TINY_ARCH!r}, {weights!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == weights, done.stderr[-2000:]


def test_hub_tag_fails_fast_offline(monkeypatch):
    import open_clip  # noqa: F401 - its import time is not what this test measures

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="open_clip:ViT-B-32:/path/to/weights"):
        load_encoder("open_clip:ViT-B-32:laion2b_s34b_b79k")
    assert time.perf_counter() - started < 1.0


def test_hub_tag_fails_fast_when_the_hub_is_unreachable(monkeypatch):
    """Not offline by configuration, but nothing answers: the probe gives up within its timeout."""
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # as if huggingface_hub had been imported online
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="did not answer"):
        resolve_weights("ViT-B-32", "laion2b_s34b_b79k")
    assert time.perf_counter() - started < 1.5


def test_unknown_spec_kind():
    with pytest.raises(ValueError, match="unknown encoder spec"):
        load_encoder("tensorflow:whatever")
