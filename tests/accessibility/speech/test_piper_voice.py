"""The Piper voice prepared for the browser (fp16 weights) and the Python reference synthesiser."""

from __future__ import annotations

import json
import os
import wave

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from accessibility.speech import piper_voice
from accessibility.speech.synthesise import Synthesiser, espeak_available, split_sentences, write_wav

pytestmark = pytest.mark.slow

DESCRIPTION = "A tabby cat is sleeping on a grey sofa. The room looks bright and calm."

needs_espeak = pytest.mark.skipif(
    not espeak_available() and os.geteuid() != 0, reason="Debian espeak-ng not installed (make setup as root)"
)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("voice")
    return out, piper_voice.build(out)


@pytest.fixture(scope="session")
def synth(built):
    return Synthesiser.from_dir(built[0], threads=2)


def test_build_writes_content_addressed_files_and_manifest(built):
    out, result = built
    manifest = json.loads((out / piper_voice.MANIFEST_NAME).read_text())
    assert manifest == {k: v for k, v in result.items() if k not in ("check", "seconds", "skipped")}
    for entry in manifest["files"].values():
        data = (out / entry["path"]).read_bytes()
        assert len(data) == entry["bytes"]
        assert piper_voice._sha256(data) == entry["sha256"]
        assert entry["path"].split(".")[1] == entry["sha256"][:12]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [manifest["files"]["model"]["path"], manifest["files"]["config"]["path"], piper_voice.MANIFEST_NAME]
    )  # no temporary folder left behind
    config = json.loads((out / manifest["files"]["config"]["path"]).read_text())
    assert config["sample_rate"] == 22050
    assert config["espeak_voice"] == "en-us"
    assert {"^", "$", "_", " ", ".", ",", "ɐ", "ˈ"} <= set(config["phoneme_id_map"])
    assert set(config["inference"]) == {"noise_scale", "length_scale", "noise_w"}


def test_fp16_file_is_about_half_and_keeps_float32_io(built):
    out, result = built
    ratio = result["files"]["model"]["bytes"] / result["source"]["bytes"]
    assert 0.45 < ratio < 0.55, ratio
    model = onnx.load(out / result["files"]["model"]["path"])
    assert [(i.name, i.type.tensor_type.elem_type) for i in model.graph.input] == [
        ("input", TensorProto.INT64),
        ("input_lengths", TensorProto.INT64),
        ("scales", TensorProto.FLOAT),
    ]
    assert [(o.name, o.type.tensor_type.elem_type) for o in model.graph.output] == [("output", TensorProto.FLOAT)]
    fp16 = sum(int(np.prod(i.dims)) for i in model.graph.initializer if i.data_type == TensorProto.FLOAT16)
    fp32 = sum(int(np.prod(i.dims)) for i in model.graph.initializer if i.data_type == TensorProto.FLOAT)
    assert fp16 > 0.99 * (fp16 + fp32)


def test_fp16_audio_matches_fp32(built):
    _, result = built
    assert len(result["check"]) == len(piper_voice.CHECK_PHONEMES)
    for r in result["check"]:
        print(f"correlation {r['correlation']:.4f} SNR {r['snr_db']:.1f} dB  {r['phonemes']}")
        assert r["samples_fp32"] == r["samples_fp16"]  # same durations
        assert r["correlation"] > 0.99
        assert r["snr_db"] > 20


def test_build_is_deterministic_and_skips_when_up_to_date(built, tmp_path):
    out, _ = built
    again = piper_voice.build(tmp_path, check=False)
    assert not again["skipped"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in out.iterdir())
    for p in out.iterdir():
        assert (tmp_path / p.name).read_bytes() == p.read_bytes(), p.name
    assert piper_voice.build(tmp_path)["skipped"]


def test_phonemes_to_ids_follows_piper():
    id_map = {"^": [1], "$": [2], "_": [0], "a": [14], "ˈ": [120], "b": [15]}
    assert piper_voice.phonemes_to_ids("ˈab", id_map) == [1, 0, 120, 0, 14, 0, 15, 0, 2]
    assert piper_voice.phonemes_to_ids("a?b", id_map) == [1, 0, 14, 0, 15, 0, 2]  # unknown symbols dropped


def test_split_sentences():
    assert split_sentences("A cat. It sleeps!  Is it happy?\nYes") == ["A cat.", "It sleeps!", "Is it happy?", "Yes"]
    assert split_sentences("  ") == []


@needs_espeak
def test_phonemes_keep_clause_and_sentence_punctuation(synth):
    assert synth.phonemes("A cat, sleeping on a sofa. Is it happy?") == [
        "ɐ kˈæt, slˈiːpɪŋ ˌɔn ɐ sˈoʊfə.",
        "ɪz ɪt hˈæpi?",
    ]


@needs_espeak
def test_reference_synthesiser_speaks_a_description(synth, tmp_path):
    audio = synth.synthesise(DESCRIPTION)
    assert audio.dtype == np.float32
    seconds = len(audio) / synth.sample_rate
    frames = audio[: len(audio) // 441 * 441].reshape(-1, 441)  # 20 ms
    voiced = float(np.mean(np.sqrt((frames**2).mean(axis=1)) > 0.01))
    rms = float(np.sqrt(np.mean(audio**2)))
    print(f"{seconds:.2f} s, RMS {rms:.3f}, peak {np.abs(audio).max():.3f}, voiced {voiced:.2f}")
    assert 1.0 < seconds < 10.0
    assert rms > 0.02
    assert np.mean(np.abs(audio) >= 0.999) < 0.001  # not clipped
    assert 0.3 < voiced < 0.95  # speech with pauses, not silence or noise
    path = tmp_path / "description.wav"
    write_wav(path, audio, synth.sample_rate)
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (22050, 1, len(audio))


@needs_espeak
def test_fp16_voice_sounds_like_the_package_voice(synth):
    reference = Synthesiser.from_package(threads=2)
    quiet = {"noise_scale": 0.0, "noise_w": 0.0}
    a = reference.synthesise(DESCRIPTION, **quiet)
    b = synth.synthesise(DESCRIPTION, **quiet)
    assert piper_voice.similarity(a, b)["correlation"] > 0.98
