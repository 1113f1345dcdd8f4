"""The pluggable transformers captioner, on tiny random BLIP and GIT models built offline by the tests."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from accessibility.captioner import (
    CaptionerUnavailableError,
    TransformersCaptioner,
    clean_caption,
    load_captioner,
)
from tests.fixtures.tiny_captioner import FAMILIES, build_tiny_captioner

ABSENT_HUB_ID = "glimpse-tests/no-such-captioner"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny models run thousands of very small ops; on 2 shared vCPUs a second OpenMP thread sometimes
    stalls them for seconds. One thread is both faster and steadier for these tests."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=FAMILIES)
def tiny_folder(request, tmp_path_factory):
    return build_tiny_captioner(tmp_path_factory.mktemp(f"tiny-{request.param}") / request.param, request.param)


@pytest.fixture(scope="module")
def captioner(tiny_folder):
    return TransformersCaptioner(str(tiny_folder), max_new_tokens=8, batch_size=2)


def _noise(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _mixed_images() -> list[Image.Image]:
    rgba = _noise(1).convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 96))
    palette = _noise(2).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    transparent_palette = palette.copy()
    transparent_palette.info["transparency"] = 0
    sixteen_bit = Image.fromarray(np.arange(40 * 48, dtype=np.uint16).reshape(40, 48) * 30)  # mode I;16
    return [
        _noise(0),
        rgba,
        _noise(3).convert("L"),
        palette,
        transparent_palette,
        _noise(4).convert("LA"),
        _noise(5).convert("CMYK"),
        _noise(6).convert("1"),
        sixteen_bit,
        Image.new("RGB", (1, 1), (200, 30, 30)),
        Image.new("RGBA", (1, 1), (0, 0, 0, 0)),
    ]


def test_importing_the_module_loads_neither_torch_nor_transformers():
    code = "import sys, accessibility.captioner; print('torch' in sys.modules, 'transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_captions_every_image_mode_one_string_each_deterministically(captioner):
    images = _mixed_images()
    first = captioner.caption(images)
    assert len(first) == len(images)
    assert all(isinstance(text, str) for text in first)
    assert all(text == text.strip() and "  " not in text and "\n" not in text for text in first)
    assert captioner.caption(images) == first


def test_batches_keep_the_order_of_the_images(captioner):
    a, b, c = _noise(10), _noise(11), _noise(12)
    together = captioner.caption([a, b, c])  # batch_size 2: one full batch and one partial
    assert together == captioner.caption([a]) + captioner.caption([b]) + captioner.caption([c])
    assert captioner.caption([b, a]) == [together[1], together[0]]
    assert len(set(together)) > 1, "the tiny model should caption different images differently"


def test_no_images_no_captions(captioner):
    assert captioner.caption([]) == []


def test_name_is_the_folder_name(captioner, tiny_folder):
    assert captioner.name == tiny_folder.name


def test_a_prompt_the_model_echoes_is_removed(tiny_folder):
    import torch

    prompted = TransformersCaptioner(str(tiny_folder), max_new_tokens=6, prompt="a picture of")
    image = _noise(20)
    pixels = prompted.processor(images=[image], return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        ids = prompted.model.generate(
            pixel_values=pixels, input_ids=prompted._prompt_ids(1), max_new_tokens=6, do_sample=False, num_beams=1
        )
    raw = prompted._tokenizer.batch_decode(ids, skip_special_tokens=True)[0]
    assert raw.startswith("a picture of")
    assert prompted.caption([image]) == [clean_caption(raw, "a picture of")]


def test_load_captioner_forms(tiny_folder, tmp_path):
    for spec in (None, "", "none", " None "):
        assert load_captioner(spec) is None
    for spec in ("blip:/models/x", "hf:", "Salesforce/blip-image-captioning-base"):
        with pytest.raises(ValueError, match=re.escape("hf:/path/to/folder")):
            load_captioner(spec)
    loaded = load_captioner(f"hf:{tiny_folder}")
    assert isinstance(loaded, TransformersCaptioner)
    assert loaded.name == tiny_folder.name
    with pytest.raises(CaptionerUnavailableError, match="does not exist"):
        load_captioner(f"hf:{tmp_path / 'missing'}")


def test_a_folder_without_a_model_is_unavailable(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(CaptionerUnavailableError, match=re.escape("describe.captioner: hf:/path/to/folder")):
        TransformersCaptioner(str(tmp_path))


def test_uncached_hub_id_fails_fast_offline(monkeypatch):
    """HF_HUB_OFFLINE in the environment is enough, whatever huggingface_hub read when it was imported."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    started = time.perf_counter()
    with pytest.raises(CaptionerUnavailableError) as raised:
        load_captioner(f"hf:{ABSENT_HUB_ID}")
    assert time.perf_counter() - started < 5.0
    message = str(raised.value)
    assert "HF_HUB_OFFLINE is set" in message
    assert "save_pretrained" in message
    assert "describe.captioner: hf:/path/to/folder" in message
    assert "conf/base/parameters.yml" in message


def test_uncached_hub_id_fails_fast_when_the_hub_does_not_answer(monkeypatch):
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    started = time.perf_counter()
    with pytest.raises(CaptionerUnavailableError, match="did not answer"):
        TransformersCaptioner(ABSENT_HUB_ID)
    assert time.perf_counter() - started < 5.0


def test_arguments_are_checked(tiny_folder):
    with pytest.raises(ValueError, match="at least 1"):
        TransformersCaptioner(str(tiny_folder), batch_size=0)


def test_clean_caption():
    assert clean_caption("  a dog\n on   grass ") == "a dog on grass"
    assert clean_caption("A picture of a dog", "a picture of") == "a dog"
    assert clean_caption("a picture of", "a picture of") == ""
    assert clean_caption("a dog", "a picture of") == "a dog"
