"""The TF.js graph → ONNX converter, on small graphs the test writes, against numpy references of TF's ops."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from models.detectors.tfjs_graph import UnsupportedGraphError, convert, read_weights


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(values: list[int]) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


class GraphWriter:
    """Writes model.json + one weight shard, the way tensorflowjs_converter lays them out."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.weights: list[tuple[str, np.ndarray, str | None]] = []

    def const(self, name: str, value: np.ndarray, quantize: str | None = None) -> str:
        self.nodes.append({"name": name, "op": "Const", "attr": {}})
        self.weights.append((name, np.asarray(value), quantize))
        return name

    def node(self, name: str, op: str, inputs: list[str], **attr) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def write(self, folder: Path, outputs: dict[str, list[int]]) -> Path:
        manifest, blob = [], b""
        for name, value, quantize in self.weights:
            entry = {
                "name": name,
                "shape": list(value.shape),
                "dtype": "int32" if value.dtype.kind == "i" else "float32",
            }
            if quantize == "float16":
                entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
                blob += value.astype(np.float16).tobytes()
            elif quantize == "uint8":
                low, high = float(value.min()), float(value.max())
                scale = (high - low) / 255
                entry["quantization"] = {"dtype": "uint8", "scale": scale, "min": low, "original_dtype": "float32"}
                blob += np.round((value - low) / scale).astype(np.uint8).tobytes()
            else:
                blob += value.astype(np.int32 if value.dtype.kind == "i" else np.float32).tobytes()
            manifest.append(entry)
        (folder / "group1-shard1of1.bin").write_bytes(blob)
        model = {
            "format": "graph-model",
            "signature": {
                "outputs": {
                    k: {"name": k, "tensorShape": {"dim": [{"size": str(d)} for d in v]}} for k, v in outputs.items()
                }
            },
            "modelTopology": {"node": self.nodes},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": manifest}],
        }
        path = folder / "model.json"
        path.write_text(json.dumps(model))
        return path


def same_pad(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """TF's SAME padding for NHWC: the odd extra pixel goes after."""
    pads = []
    for n in x.shape[1:3]:
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))


def conv_ref(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    k = w.shape[0]
    p = same_pad(x, k, stride)
    oh, ow = math.ceil(x.shape[1] / stride), math.ceil(x.shape[2] / stride)
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = p[:, i * stride : i * stride + k, j * stride : j * stride + k, :]
            out[:, i, j] = np.einsum("nhwc,hwco->no", patch, w)
    return out


def depthwise_ref(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    k, mult = w.shape[0], w.shape[3]
    p = same_pad(x, k, 1)
    out = np.zeros((*x.shape[:3], x.shape[3] * mult), np.float64)
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            patch = p[:, i : i + k, j : j + k, :]
            out[:, i, j] = np.einsum("nhwc,hwcm->ncm", patch, w).reshape(x.shape[0], -1)
    return out


def resize_ref(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """tf.image.resize_bilinear with align_corners=False, half_pixel_centers=False (the TF1 default)."""
    out = np.zeros((x.shape[0], h, w, x.shape[3]))
    sy, sx = x.shape[1] / h, x.shape[2] / w
    for i in range(h):
        for j in range(w):
            fy, fx = i * sy, j * sx
            y0, x0 = int(fy), int(fx)
            y1, x1 = min(y0 + 1, x.shape[1] - 1), min(x0 + 1, x.shape[2] - 1)
            dy, dx = fy - y0, fx - x0
            top = x[:, y0, x0] * (1 - dx) + x[:, y0, x1] * dx
            bottom = x[:, y1, x0] * (1 - dx) + x[:, y1, x1] * dx
            out[:, i, j] = top * (1 - dy) + bottom * dy
    return out


def small_graph(rng: np.random.Generator) -> tuple[GraphWriter, dict[str, np.ndarray]]:
    """input (n, 8, 8, 3) (even: SAME pads one side only) → fused conv s2 + relu → depthwise ×2 + bias →
    relu6 → squeeze-excite (mean, mul) → bilinear upsampling → concatenated with itself shifted → 1×1 conv →
    sigmoid."""
    g = GraphWriter()
    p = {
        "w1": rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32),
        "b1": rng.normal(0, 0.1, 4).astype(np.float32),
        "dw": rng.normal(0, 0.5, (3, 3, 4, 2)).astype(np.float32),
        "db": rng.normal(0, 0.1, 8).astype(np.float32),
        "w2": rng.normal(0, 0.5, (1, 1, 8, 3)).astype(np.float32),
    }
    g.node(
        "images",
        "Placeholder",
        [],
        shape={"shape": {"dim": [{"size": "-1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}},
    )
    g.const("w1", p["w1"], "float16")
    g.const("b1", p["b1"])
    g.node(
        "conv1", "_FusedConv2D", ["images", "w1", "b1"],
        strides=_ints([1, 2, 2, 1]), padding=_s("SAME"), data_format=_s("NHWC"), dilations=_ints([1, 1, 1, 1]),
        fused_ops={"list": {"s": [base64.b64encode(b"BiasAdd").decode(), base64.b64encode(b"Relu").decode()]}},
    )  # fmt: skip
    g.const("dw", p["dw"], "uint8")
    g.const("db", p["db"])
    g.node(
        "dw1", "FusedDepthwiseConv2dNative", ["conv1", "dw", "db"],
        strides=_ints([1, 1, 1, 1]), padding=_s("SAME"), data_format=_s("NHWC"),
        fused_ops={"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}},
    )  # fmt: skip
    g.node("relu6", "Relu6", ["dw1"])
    g.const("axes", np.array([1, 2], np.int32))
    g.node("mean", "Mean", ["relu6", "axes"], keep_dims={"b": True})
    g.node("se", "Mul", ["relu6", "mean"])
    g.const("size", np.array([10, 10], np.int32))
    g.node("up", "ResizeBilinear", ["se", "size"], align_corners={"b": False}, half_pixel_centers={"b": False})
    g.const("half", np.array(0.5, np.float32))
    g.node("shift", "Sub", ["up", "half"])
    g.const("axis", np.array(-1, np.int32))
    g.node("cat", "ConcatV2", ["up", "shift", "axis"], N={"i": "2"})
    g.const("w2", np.concatenate([p["w2"], p["w2"]], axis=2))
    g.node("head", "Conv2D", ["cat", "w2"], strides=_ints([1, 1, 1, 1]), padding=_s("VALID"), data_format=_s("NHWC"))
    g.node("out", "Sigmoid", ["head"])
    g.node("unused", "TopKV2", ["out", "axis"])  # post-processing the outputs do not need is left out
    return g, p


def reference(x: np.ndarray, p: dict[str, np.ndarray], dw: np.ndarray) -> np.ndarray:
    w1 = p["w1"].astype(np.float16).astype(np.float64)
    a = np.maximum(conv_ref(x, w1, 2) + p["b1"], 0)
    b = np.clip(depthwise_ref(a, dw) + p["db"], 0, 6)
    se = b * b.mean(axis=(1, 2), keepdims=True)
    up = resize_ref(se, 10, 10)
    cat = np.concatenate([up, up - 0.5], axis=-1)
    w2 = np.concatenate([p["w2"], p["w2"]], axis=2)
    return 1 / (1 + np.exp(-np.einsum("nhwc,co->nhwo", cat, w2[0, 0])))


def test_a_small_graph_converts_to_the_same_numbers_as_tf_ops(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    writer, params = small_graph(rng)
    path = writer.write(tmp_path, {"out": [-1, 10, 10, 3]})
    dw = read_weights(json.loads(path.read_text()), tmp_path)["dw"].astype(np.float64)  # as dequantised
    assert np.abs(dw - params["dw"]).max() < 0.01  # uint8 affine quantisation, read back
    model = convert(path, {"out": "scores"})
    assert {n.op_type for n in model.graph.node}.isdisjoint({"TopK"})
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)  # batch 2: the batch dimension is dynamic
    (got,) = session.run(None, {"images": x})
    want = reference(x.astype(np.float64), params, dw)
    assert got.shape == (2, 10, 10, 3)
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_an_op_it_does_not_map_is_named(tmp_path: Path) -> None:
    g = GraphWriter()
    g.node(
        "images",
        "Placeholder",
        [],
        shape={"shape": {"dim": [{"size": "1"}, {"size": "4"}, {"size": "4"}, {"size": "1"}]}},
    )
    g.node("odd", "Erf", ["images"])
    path = g.write(tmp_path, {"odd": [1, 4, 4, 1]})
    with pytest.raises(UnsupportedGraphError, match="odd: op Erf"):
        convert(path, {"odd": "y"})


def test_short_or_long_weight_shards_are_refused(tmp_path: Path) -> None:
    g = GraphWriter()
    g.node(
        "images",
        "Placeholder",
        [],
        shape={"shape": {"dim": [{"size": "1"}, {"size": "4"}, {"size": "4"}, {"size": "1"}]}},
    )
    g.const("k", np.ones((2, 2), np.float32))
    g.node("y", "Mul", ["images", "k"])
    path = g.write(tmp_path, {"y": [1, 4, 4, 2]})
    shard = tmp_path / "group1-shard1of1.bin"
    data = shard.read_bytes()
    shard.write_bytes(data[:-4])
    with pytest.raises(UnsupportedGraphError, match="end before k"):
        convert(path, {"y": "y"})
    shard.write_bytes(data + b"\0\0\0\0")
    with pytest.raises(UnsupportedGraphError, match="manifest describes 16"):
        convert(path, {"y": "y"})


def test_a_layers_model_is_not_taken_for_a_graph(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": "layers-model", "modelTopology": {}}))
    with pytest.raises(UnsupportedGraphError, match=r"not a TF\.js graph model"):
        convert(path, {"x": "y"})


def test_padding_transposes_leaky_relu_and_max_pooling_convert_as_tf_computes_them(tmp_path: Path) -> None:
    """The ops of a graph exported from PyTorch through ONNX (NanoDet's): an NCHW input transposed to NHWC,
    explicit zero and constant padding, a VALID convolution, a leaky ReLU, 3 × 3 max pooling with stride 2
    (VALID and SAME), and a transpose back to NCHW."""
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.5, (3, 3, 2, 3)).astype(np.float32)
    g = GraphWriter()
    g.node(
        "input",
        "Placeholder",
        [],
        shape={"shape": {"dim": [{"size": "1"}, {"size": "2"}, {"size": "9"}, {"size": "9"}]}},
    )
    g.const("to_nhwc", np.array([0, 2, 3, 1], np.int32))
    g.node("nhwc", "Transpose", ["input", "to_nhwc"])
    g.const("pads", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    g.node("padded", "Pad", ["nhwc", "pads"])
    g.const("w", w)
    g.node("conv", "Conv2D", ["padded", "w"], strides=_ints([1, 1, 1, 1]), padding=_s("VALID"), data_format=_s("NHWC"))
    g.node("leaky", "LeakyRelu", ["conv"], alpha={"f": 0.1})
    g.const("pads2", np.array([[0, 0], [0, 1], [0, 1], [0, 0]], np.int32))
    g.const("low", np.array(-5.0, np.float32))
    g.node("padded2", "PadV2", ["leaky", "pads2", "low"])
    pool = {"ksize": _ints([1, 3, 3, 1]), "strides": _ints([1, 2, 2, 1]), "data_format": _s("NHWC")}
    g.node("pool", "MaxPool", ["padded2"], padding=_s("VALID"), **pool)
    g.node("pool_same", "MaxPool", ["leaky"], padding=_s("SAME"), **pool)
    g.const("to_nchw", np.array([0, 3, 1, 2], np.int32))
    g.node("out", "Transpose", ["pool", "to_nchw"])
    g.node("out_same", "Transpose", ["pool_same", "to_nchw"])
    path = g.write(tmp_path, {"out": [1, 3, 4, 4], "out_same": [1, 3, 5, 5]})
    session = ort.InferenceSession(
        convert(path, {"out": "pooled", "out_same": "pooled_same"}).SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    x = rng.normal(0, 1, (2, 2, 9, 9)).astype(np.float32)
    got, got_same = session.run(None, {"input": x})

    nhwc = x.transpose(0, 2, 3, 1).astype(np.float64)
    conv = conv_ref(nhwc, w, 1)  # SAME with a 3 × 3 kernel = one pixel of zeros each side, then VALID
    leaky = np.where(conv > 0, conv, 0.1 * conv)
    padded = np.pad(leaky, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=-5.0)

    def pool_ref(a: np.ndarray) -> np.ndarray:
        n = (a.shape[1] - 3) // 2 + 1
        return np.stack(
            [
                np.stack([a[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max(axis=(1, 2)) for j in range(n)], 1)
                for i in range(n)
            ],
            1,
        )

    np.testing.assert_allclose(got, pool_ref(padded).transpose(0, 3, 1, 2), atol=1e-5)
    # SAME pooling of 9 pixels by 3 with stride 2: 5 outputs, one pixel of padding that never wins each side
    same = np.pad(leaky, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    np.testing.assert_allclose(got_same, pool_ref(same).transpose(0, 3, 1, 2), atol=1e-5)
