"""The Whisper graphs, traced with onnxscript's ``GraphBuilder`` from numpy weights (no torch).

Each graph is Python code run once: ``op.MatMul(x, w)`` appends a node, Python scalars and int lists become
typed, shared initializers, and layers are plain Python loops, so the ONNX file is the unrolled network with
the weights inside. onnxscript's ``@script`` functions fit less well: they compile Python into ONNX rather than
run it, so a ``for`` over the layers becomes a ``Loop`` node and a captured numpy weight a ``Constant`` node
followed by ``CastLike`` (checked with onnxscript 0.7.2), none of which the browser graphs need.

Matrices are stored fp16 and ``Cast`` to fp32 (onnxruntime folds the casts once at session start, so compute is
fp32); vectors (biases, layer norms) and the DFT / mel matrices are stored fp32. Only ops that onnxruntime-web's
wasm backend implements are used, at opset ``OPSET``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import onnx
import onnx_ir as ir
from onnxscript import GraphBuilder, OpBuilder

from .ctranslate2 import Weights, n_layers
from .dsp import HOP, N_FFT, N_MELS, N_SAMPLES, POSITION_SAMPLES, dft_kernels, mel_filters

OPSET = 17
IR_VERSION = 8  # the IR version released with opset 17 (onnx 1.12)
MAX_DECODER_TOKENS = 448
PRODUCER = "glimpse.accessibility.speech"
FLOAT, INT64 = ir.DataType.FLOAT, ir.DataType.INT64


def _trace(
    name: str,
    inputs: dict[str, tuple[ir.DataType, list]],
    outputs: dict[str, list],
    body: Callable[..., Sequence[ir.Value]],
) -> onnx.ModelProto:
    """Run ``body(op, *inputs)`` in a fresh graph; its results become the named float32 ``outputs``.

    The per-node type and shape annotations onnxscript records while tracing (value_info, metadata) are dropped:
    onnxruntime infers shapes itself, and the files then hold only nodes and weights.
    """
    graph = ir.Graph(
        [ir.val(key, dtype, shape) for key, (dtype, shape) in inputs.items()],
        [],
        nodes=[],
        opset_imports={"": OPSET},
        name=name,
    )
    results = body(GraphBuilder(graph).op, *graph.inputs)
    for value, (key, shape) in zip(results, outputs.items(), strict=True):
        value.name, value.type, value.shape = key, ir.TensorType(FLOAT), ir.Shape(shape)
        graph.outputs.append(value)
    model = ir.to_proto(ir.Model(graph, ir_version=IR_VERSION, producer_name=PRODUCER))
    del model.graph.value_info[:]
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.checker.check_model(model)
    return model


def _const(op: OpBuilder, name: str, array: np.ndarray) -> ir.Value:
    return op.initializer(ir.tensor(np.ascontiguousarray(array)), name)


def _weight(op: OpBuilder, name: str, array: np.ndarray) -> ir.Value:
    """A matrix stored fp16 (half the download) and cast to fp32 for compute; vectors are stored fp32."""
    array = np.asarray(array)
    if array.ndim < 2:
        return _const(op, name, array.astype(np.float32))
    return op.Cast(_const(op, name + "_fp16", array.astype(np.float16)), to=FLOAT)


def _linear(op: OpBuilder, x: ir.Value, w: np.ndarray, b: np.ndarray | None, name: str) -> ir.Value:
    """x @ w.T + b with a CTranslate2 [out, in] weight (stored transposed as [in, out])."""
    y = op.MatMul(x, _weight(op, name + ".weight", w.T))
    return y if b is None else op.Add(y, _weight(op, name + ".bias", b))


def _layer_norm(op: OpBuilder, x: ir.Value, v: Weights, prefix: str) -> ir.Value:
    gamma = _weight(op, prefix + ".gamma", v[prefix + "/gamma"])
    beta = _weight(op, prefix + ".beta", v[prefix + "/beta"])
    return op.LayerNormalization(x, gamma, beta, axis=-1, epsilon=1e-5)


def _gelu(op: OpBuilder, x: ir.Value) -> ir.Value:
    """Exact (erf) GELU, as Whisper uses: 0.5 x (1 + erf(x / sqrt 2))."""
    return op.Mul(op.Mul(x, 0.5), op.Add(op.Erf(op.Mul(x, 1.0 / math.sqrt(2.0))), 1.0))


def _heads(op: OpBuilder, x: ir.Value, heads_shape: list[int], perm: list[int]) -> ir.Value:
    """[B, T, dim] -> [B, T, H, dim / H] permuted by ``perm``."""
    return op.Transpose(op.Reshape(x, heads_shape), perm=perm)


def _attention(
    op: OpBuilder,
    x: ir.Value,
    v: Weights,
    prefix: str,
    n_heads: int,
    mask: ir.Value | None = None,
    kv: tuple[ir.Value, ir.Value] | None = None,
) -> ir.Value:
    """Multi-head attention in CTranslate2's layout (self: fused linear_0 = qkv, linear_1 = out;
    cross: linear_0 = q, linear_1 = fused kv, linear_2 = out). Cross-attention gets ``kv`` already projected."""
    dim = v[prefix + "/linear_0/weight"].shape[1]
    if kv is None:
        wq, wk, wv = np.split(v[prefix + "/linear_0/weight"], 3, axis=0)
        bq, _, bv = np.split(v[prefix + "/linear_0/bias"], 3)  # the key bias is zero (Whisper's k_proj has none)
        out = prefix + "/linear_1"
    else:
        wq, bq = v[prefix + "/linear_0/weight"], v[prefix + "/linear_0/bias"]
        out = prefix + "/linear_2"
    name = prefix.replace("/", ".")
    scale = np.float32(1.0 / math.sqrt(dim // n_heads))
    q = _linear(op, x, wq * scale, bq * scale, name + ".q")  # scale folded into the query projection
    if kv is None:
        kv = (_linear(op, x, wk, None, name + ".k"), _linear(op, x, wv, bv, name + ".v"))
    heads = [0, -1, n_heads, dim // n_heads]
    scores = op.MatMul(_heads(op, q, heads, [0, 2, 1, 3]), _heads(op, kv[0], heads, [0, 2, 3, 1]))
    if mask is not None:
        scores = op.Add(scores, mask)
    ctx = op.MatMul(op.Softmax(scores, axis=-1), _heads(op, kv[1], heads, [0, 2, 1, 3]))  # [B, H, Tq, Dh]
    ctx = op.Reshape(op.Transpose(ctx, perm=[0, 2, 1, 3]), [0, -1, dim])
    return _linear(op, ctx, v[out + "/weight"], v[out + "/bias"], name + ".out")


def _ffn(op: OpBuilder, x: ir.Value, v: Weights, prefix: str) -> ir.Value:
    name = prefix.replace("/", ".")
    h = _linear(op, x, v[prefix + "/linear_0/weight"], v[prefix + "/linear_0/bias"], name + ".fc1")
    return _linear(op, _gelu(op, h), v[prefix + "/linear_1/weight"], v[prefix + "/linear_1/bias"], name + ".fc2")


def _cross_kv(op: OpBuilder, encoded: ir.Value, v: Weights) -> ir.Value:
    """Keys and values of every decoder layer's cross-attention: [2 * layers, B, frames, dim] (k, v per layer)."""
    parts = []
    for i in range(n_layers(v, "decoder")):
        p = f"decoder/layer_{i}/attention"
        wk, wv = np.split(v[p + "/linear_1/weight"], 2, axis=0)
        _, bv = np.split(v[p + "/linear_1/bias"], 2)  # the key bias is zero
        name = p.replace("/", ".")
        parts.append(op.Unsqueeze(_linear(op, encoded, wk, None, name + ".k"), [0]))
        parts.append(op.Unsqueeze(_linear(op, encoded, wv, bv, name + ".v"), [0]))
    return op.Concat(*parts, axis=0)


def _log_mel(op: OpBuilder, audio: ir.Value) -> ir.Value:
    """audio [B, n] -> log-mel [B, 80, frames], Whisper's ``log_mel_spectrogram`` over a window of ``n`` samples.

    The input's length is the window: it is trimmed to 30 s and zero-padded only up to a whole number of encoder
    positions (320 samples = 2 mel frames; at least one position), so ``frames = 2 * max(1, ceil(min(n, 480000)
    / 320))``. For ``n = 480000`` this is exactly ``log_mel_spectrogram(pad_or_trim(audio))`` (3000 frames); the
    caller picks a shorter window by zero-padding its audio to that length. The normalisation's maximum is taken
    over the window, as Whisper takes it over its 30 s (zero padding, -10 before the clamp, holds it only in a
    silent window, so padding more or less leaves it unchanged).
    """
    trimmed = op.Slice(audio, [0], [N_SAMPLES], [1])
    n = op.Gather(op.Shape(trimmed), [1])  # [1]
    # Whole encoder positions: max(1, ceil(n / 320)) (integer Div truncates; n >= 0), then pad up to them.
    positions = op.Max(op.Div(op.Add(n, [POSITION_SAMPLES - 1]), [POSITION_SAMPLES]), [1])
    missing = op.Sub(op.Mul(positions, [POSITION_SAMPLES]), n)
    padded = op.Pad(trimmed, op.Concat([0, 0, 0], missing, axis=0), mode="constant")  # [B, 320 * positions]
    # STFT framing with center=True: reflect-pad n_fft // 2 on both sides.
    framed = op.Pad(op.Unsqueeze(padded, [1]), [0, 0, N_FFT // 2, 0, 0, N_FFT // 2], mode="reflect")
    spec = op.Conv(framed, _const(op, "stft_dft_kernels", dft_kernels()), strides=[HOP], kernel_shape=[N_FFT])
    # The centred STFT gives length / 160 + 1 frames; Whisper drops the last one.
    power = op.Slice(op.Mul(spec, spec), [0], [-1], [2])  # [B, 402, frames]: re^2 and im^2 rows
    filters = mel_filters()
    mel_bank = _const(op, "mel_filters_x2", np.concatenate([filters, filters], axis=1))  # [80, 402]: re^2 + im^2
    mel = op.MatMul(mel_bank, power)  # [B, 80, frames]
    log_spec = op.Mul(op.Log(op.Max(mel, 1e-10)), 1.0 / math.log(10.0))
    peak = op.ReduceMax(log_spec, axes=[1, 2], keepdims=1)
    log_spec = op.Max(log_spec, op.Sub(peak, 8.0))
    return op.Div(op.Add(log_spec, 4.0), 4.0)


def build_log_mel_model() -> onnx.ModelProto:
    """The encoder's front end alone (``audio`` -> ``log_mel`` [B, 80, frames]), for tests and inspection."""
    return _trace(
        "whisper_log_mel",
        {"audio": (FLOAT, ["batch", "n_samples"])},
        {"log_mel": ["batch", N_MELS, "mel_frames"]},
        lambda op, audio: [_log_mel(op, audio)],
    )


def build_encoder_model(v: Weights) -> onnx.ModelProto:
    """``audio`` -> ``encoder_output`` and ``cross_kv``, every decoder layer's cross-attention keys and values.

    The audio's length is the window (see :func:`_log_mel`): 30 s gives Whisper's 1500 positions, a shorter
    zero-padded input ``window / 320`` positions (whisper.cpp's ``audio_ctx``) with the first positional
    embeddings, and a proportionally cheaper encoder and cross-attention.
    """
    n_heads = int(v["encoder/num_heads"])
    dim = v["encoder/conv1/weight"].shape[0]

    def body(op: OpBuilder, audio: ir.Value) -> list[ir.Value]:
        x = _log_mel(op, audio)
        for conv, stride in (("conv1", 1), ("conv2", 2)):  # two 3-wide convolutions, the second halves the frames
            weight = _weight(op, f"encoder.{conv}.weight", v[f"encoder/{conv}/weight"])
            bias = _weight(op, f"encoder.{conv}.bias", v[f"encoder/{conv}/bias"])
            x = _gelu(op, op.Conv(x, weight, bias, kernel_shape=[3], pads=[1, 1], strides=[stride]))
        x = op.Transpose(x, perm=[0, 2, 1])  # [B, frames, 384]: frames = window / 320 samples, 1500 for 30 s
        positions = _weight(op, "encoder.positions", v["encoder/position_encodings/encodings"])  # [1500, 384]
        x = op.Add(x, op.Slice(positions, [0], op.Gather(op.Shape(x), [1]), [0]))  # the window's first positions
        for i in range(n_layers(v, "encoder")):
            p = f"encoder/layer_{i}"
            h = _layer_norm(op, x, v, p + "/self_attention/layer_norm")
            x = op.Add(x, _attention(op, h, v, p + "/self_attention", n_heads))
            x = op.Add(x, _ffn(op, _layer_norm(op, x, v, p + "/ffn/layer_norm"), v, p + "/ffn"))
        x = _layer_norm(op, x, v, "encoder/layer_norm")
        return [x, _cross_kv(op, x, v)]

    n_kv = 2 * n_layers(v, "decoder")
    return _trace(
        "whisper_tiny_en_encoder",
        {"audio": (FLOAT, ["batch", "n_samples"])},
        {"encoder_output": ["batch", "frames", dim], "cross_kv": [n_kv, "batch", "frames", dim]},
        body,
    )


def build_decoder_model(v: Weights) -> onnx.ModelProto:
    """``tokens`` and ``cross_kv`` -> ``logits`` for the token after the last one (no self-attention cache)."""
    n_heads = int(v["decoder/num_heads"])
    vocab, dim = v["decoder/embeddings/weight"].shape

    def body(op: OpBuilder, tokens: ir.Value, cross_kv: ir.Value) -> list[ir.Value]:
        embedding = _weight(op, "decoder.embeddings", v["decoder/embeddings/weight"])  # [vocab, dim], tied
        n_tokens = op.Gather(op.Shape(tokens), [1])  # [1]
        positions = _weight(op, "decoder.positions", v["decoder/position_encodings/encodings"])
        x = op.Add(op.Gather(embedding, tokens, axis=0), op.Slice(positions, [0], n_tokens, [0]))  # [B, T, dim]
        # Causal mask [T, T]: -1e9 where key index > query index.
        steps = op.Range(0, op.Squeeze(n_tokens, [0]), 1)
        mask = op.Where(op.Less(op.Unsqueeze(steps, [1]), op.Unsqueeze(steps, [0])), -1e9, 0.0)
        for i in range(n_layers(v, "decoder")):
            p = f"decoder/layer_{i}"
            h = _layer_norm(op, x, v, p + "/self_attention/layer_norm")
            x = op.Add(x, _attention(op, h, v, p + "/self_attention", n_heads, mask=mask))
            h = _layer_norm(op, x, v, p + "/attention/layer_norm")
            # Scalar indices drop the axis ([B, frames, dim]); a [1] index would keep it and mix the batch's rows.
            kv = (op.Gather(cross_kv, 2 * i, axis=0), op.Gather(cross_kv, 2 * i + 1, axis=0))
            x = op.Add(x, _attention(op, h, v, p + "/attention", n_heads, kv=kv))
            x = op.Add(x, _ffn(op, _layer_norm(op, x, v, p + "/ffn/layer_norm"), v, p + "/ffn"))
        # Only the last position's scores are needed: the next token.
        last = op.Squeeze(op.Slice(x, [-1], [int(np.iinfo(np.int64).max)], [1]), [1])
        x = _layer_norm(op, last, v, "decoder/layer_norm")  # [B, dim]
        return [op.Gemm(x, embedding, transB=1)]  # tied output projection

    n_kv = 2 * n_layers(v, "decoder")
    return _trace(
        "whisper_tiny_en_decoder",
        {"tokens": (INT64, ["batch", "n_tokens"]), "cross_kv": (FLOAT, [n_kv, "batch", "frames", dim])},
        {"logits": ["batch", vocab]},
        body,
    )
