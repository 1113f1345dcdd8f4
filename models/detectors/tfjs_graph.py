"""A TF.js graph model (``model.json`` + weight shards) rewritten as an ONNX graph with numpy and ``onnx`` alone.

tf2onnx would need tensorflow (1.8 GB) plus patches at setup; the graphs Glimpse converts use a small set of
ops (convolutions with fused bias and activation, elementwise arithmetic, means, resizes, concatenation,
padding, transposes, max pooling), so each is mapped here by hand. Tensors stay in TensorFlow's NHWC layout;
each convolution, pooling or resize is wrapped in a pair of ``Transpose`` nodes, which onnxruntime's transpose
optimiser cancels across the elementwise ops between them at session start.

Only the part of the graph that ``outputs`` depends on is converted, so a model's post-processing (top-k,
gathers) can be left to tested numpy code. The batch dimension of the input is made dynamic.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]
_DTYPES = {"float32": np.float32, "int32": np.int32}


class UnsupportedGraphError(ValueError):
    """The graph uses an op (or an op setting) this converter does not map; the message names it."""


def read_weights(model_json: dict, folder: Path) -> dict[str, np.ndarray]:
    """Every weight of the manifest, dequantised to its original dtype (float16 and affine uint8/uint16)."""
    weights: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            dtype = _DTYPES.get(spec["dtype"])
            if dtype is None:
                raise UnsupportedGraphError(f"weight {spec['name']}: dtype {spec['dtype']} is not supported")
            if quant is None:
                stored = np.dtype(dtype)
            else:
                stored = np.dtype({"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}[quant["dtype"]])
            end = offset + stored.itemsize * count
            if end > len(data):
                raise UnsupportedGraphError(f"weight shards end before {spec['name']} ({len(data)} bytes)")
            values = np.frombuffer(data, stored, count, offset)
            offset = end
            if quant is not None and quant["dtype"] != "float16":
                values = values.astype(np.float32) * float(quant["scale"]) + float(quant["min"])
            weights[spec["name"]] = values.astype(dtype).reshape(shape)
        if offset != len(data):
            raise UnsupportedGraphError(f"weight shards hold {len(data)} bytes, the manifest describes {offset}")
    return weights


def _attr(node: dict, name: str, default=None):
    value = node.get("attr", {}).get(name)
    if value is None:
        return default
    if "list" in value:
        items = value["list"]
        if "i" in items:
            return [int(i) for i in items["i"]]
        if "s" in items:
            return [base64.b64decode(s).decode() for s in items["s"]]
        return []
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "i" in value:
        return int(value["i"])
    if "b" in value:
        return bool(value["b"])
    if "f" in value:
        return float(value["f"])
    return default


def _source(name: str) -> str:
    """TF input reference → ONNX tensor name ("x:0" and "x" are the same tensor; "x:1" the second output)."""
    base, _, index = name.partition(":")
    return base if index in ("", "0") else f"{base}:{index}"


class _Builder:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}

    def const(self, name: str) -> np.ndarray:
        if name not in self.weights:
            raise UnsupportedGraphError(f"{name} must be a constant for this converter")
        return self.weights[name]

    def initializer(self, name: str, value: np.ndarray) -> str:
        self.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(value), name)
        return name

    def add(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def nchw(self, op_name: str, x: str) -> str:
        return self.add("Transpose", [x], f"{op_name}/to_nchw", perm=NHWC_TO_NCHW)

    def nhwc(self, op_name: str, x: str, output: str) -> str:
        return self.add("Transpose", [x], output, perm=NCHW_TO_NHWC)

    def activation(self, name: str, x: str, fused: list[str]) -> str:
        for extra in fused:
            if extra == "Relu":
                x = self.add("Relu", [x], f"{name}/relu")
            elif extra == "Relu6":
                x = self.add("Clip", [x, self.zero, self.six], f"{name}/relu6")
            elif extra != "BiasAdd":
                raise UnsupportedGraphError(f"{name}: fused op {extra} is not supported")
        return x

    def conv(self, node: dict, depthwise: bool) -> None:
        name, inputs = node["name"], node["input"]
        if _attr(node, "data_format", "NHWC") != "NHWC":
            raise UnsupportedGraphError(f"{name}: only NHWC convolutions are supported")
        kernel = self.const(inputs[1])  # (kh, kw, cin, cout) or depthwise (kh, kw, cin, multiplier)
        kh, kw, cin, cout = kernel.shape
        if depthwise:
            weight = kernel.transpose(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw)  # out channel c * mult + m
            group, channels = cin, cin * cout
        else:
            weight, group, channels = kernel.transpose(3, 2, 0, 1), 1, cout
        padding = _attr(node, "padding", "VALID")
        if padding not in ("SAME", "VALID"):
            raise UnsupportedGraphError(f"{name}: padding {padding} is not supported")
        strides = _attr(node, "strides", [1, 1, 1, 1])
        dilations = _attr(node, "dilations", [1, 1, 1, 1])
        fused = _attr(node, "fused_ops", []) if node["op"].startswith(("_Fused", "Fused")) else []
        conv_inputs = [self.nchw(name, _source(inputs[0])), self.initializer(f"{name}/W", weight)]
        if "BiasAdd" in fused:
            bias = self.const(inputs[2]).reshape(channels)
            conv_inputs.append(self.initializer(f"{name}/B", bias))
        y = self.add(
            "Conv",
            conv_inputs,
            f"{name}/conv",
            kernel_shape=[kh, kw],
            strides=strides[1:3],
            dilations=dilations[1:3],
            group=group,
            auto_pad="SAME_UPPER" if padding == "SAME" else "VALID",  # TF's SAME pads the extra pixel after
        )
        self.nhwc(name, self.activation(name, y, fused), name)

    def max_pool(self, node: dict) -> None:
        name, inputs = node["name"], node["input"]
        padding = _attr(node, "padding", "VALID")
        if _attr(node, "data_format", "NHWC") != "NHWC" or padding not in ("SAME", "VALID"):
            raise UnsupportedGraphError(f"{name}: only NHWC max pooling with SAME or VALID padding is supported")
        y = self.add(
            "MaxPool",
            [self.nchw(name, _source(inputs[0]))],
            f"{name}/pool",
            kernel_shape=_attr(node, "ksize", [1, 1, 1, 1])[1:3],
            strides=_attr(node, "strides", [1, 1, 1, 1])[1:3],
            auto_pad="SAME_UPPER" if padding == "SAME" else "VALID",
        )
        self.nhwc(name, y, name)

    def resize(self, node: dict) -> None:
        name, inputs = node["name"], node["input"]
        if _attr(node, "align_corners", False):
            mode = "align_corners"
        elif _attr(node, "half_pixel_centers", False):
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        size = self.const(inputs[1]).astype(np.int64).reshape(2)
        x = self.nchw(name, _source(inputs[0]))
        shape = self.add("Shape", [x], f"{name}/shape", start=0, end=2)  # batch and channels stay
        sizes = self.add("Concat", [shape, self.initializer(f"{name}/hw", size)], f"{name}/sizes", axis=0)
        y = self.add("Resize", [x, "", "", sizes], f"{name}/resize", mode="linear", coordinate_transformation_mode=mode)
        self.nhwc(name, y, name)


def _output_shape(model_json: dict, tf_name: str) -> list[str | int]:
    """The signature's shape for an output with a dynamic batch; rank 4 (an NHWC map) if it is not listed."""
    listed = model_json.get("signature", {}).get("outputs", {}).get(tf_name.split(":")[0], {})
    dims = [int(d.get("size", -1)) for d in listed.get("tensorShape", {}).get("dim", [])] or [-1, -1, -1, -1]
    return ["batch" if i == 0 else (d if d > 0 else f"{tf_name}_{i}") for i, d in enumerate(dims)]


def convert(model_json_path: Path, outputs: dict[str, str]) -> onnx.ModelProto:
    """The ONNX graph of ``model_json_path`` up to ``outputs`` ({TF tensor name: ONNX output name})."""
    model_json_path = Path(model_json_path)
    model_json = json.loads(model_json_path.read_text())
    if model_json.get("format") != "graph-model":
        raise UnsupportedGraphError(f"{model_json_path} is not a TF.js graph model")
    weights = read_weights(model_json, model_json_path.parent)
    nodes = {node["name"]: node for node in model_json["modelTopology"]["node"]}
    needed: list[str] = []
    seen: set[str] = set()
    stack = [name.split(":")[0] for name in outputs]
    while stack:  # the nodes the outputs depend on, each after its inputs
        name = stack[-1]
        if name in seen:
            stack.pop()
            continue
        if name not in nodes:
            raise UnsupportedGraphError(f"the graph has no node {name}")
        pending = [
            i.split(":")[0]
            for i in nodes[name].get("input", [])
            if not i.startswith("^") and i.split(":")[0] not in seen
        ]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        seen.add(name)
        needed.append(name)

    builder = _Builder(weights)
    builder.zero = builder.initializer("const/zero", np.array(0, np.float32))
    builder.six = builder.initializer("const/six", np.array(6, np.float32))
    graph_inputs = []
    for name in needed:
        node = nodes[name]
        op, inputs = node["op"], [_source(i) for i in node.get("input", []) if not i.startswith("^")]
        if op == "Const":
            builder.initializer(name, builder.const(name))
        elif op == "Placeholder":
            dims = [int(d.get("size", -1)) for d in node["attr"]["shape"]["shape"].get("dim", [])]
            shape = ["batch" if i == 0 else (d if d > 0 else f"{name}_{i}") for i, d in enumerate(dims)]
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        elif op in ("Conv2D", "_FusedConv2D"):
            builder.conv(node, depthwise=False)
        elif op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            builder.conv(node, depthwise=True)
        elif op in ("Add", "AddV2", "Mul", "Sub"):
            builder.add({"AddV2": "Add"}.get(op, op), inputs, name)
        elif op in ("Relu", "Sigmoid", "Identity"):
            builder.add(op, inputs[:1], name)
        elif op == "LeakyRelu":
            builder.add("LeakyRelu", inputs[:1], name, alpha=float(_attr(node, "alpha", 0.2)))
        elif op == "Transpose":
            builder.add("Transpose", inputs[:1], name, perm=[int(a) for a in builder.const(inputs[1])])
        elif op in ("Pad", "PadV2"):
            pads = builder.const(inputs[1]).astype(np.int64)  # (rank, 2): before and after, per axis
            value = builder.const(inputs[2]) if op == "PadV2" else np.zeros((), np.float32)
            pad_inputs = [
                inputs[0],
                builder.initializer(f"{name}/pads", np.concatenate([pads[:, 0], pads[:, 1]])),
                builder.initializer(f"{name}/value", np.asarray(value, np.float32).reshape(())),
            ]
            builder.add("Pad", pad_inputs, name, mode="constant")
        elif op == "MaxPool":
            builder.max_pool(node)
        elif op == "Relu6":
            builder.add("Clip", [inputs[0], builder.zero, builder.six], name)
        elif op == "Mean":
            axes = [int(a) for a in np.atleast_1d(builder.const(inputs[1]))]
            builder.add("ReduceMean", inputs[:1], name, axes=axes, keepdims=int(_attr(node, "keep_dims", False)))
        elif op == "ConcatV2":
            axis = int(builder.const(inputs[-1]))
            builder.add("Concat", inputs[:-1], name, axis=axis)
        elif op == "ResizeBilinear":
            builder.resize(node)
        else:
            raise UnsupportedGraphError(f"{name}: op {op} is not supported by this converter")
    for tf_name, onnx_name in outputs.items():
        builder.add("Identity", [_source(tf_name)], onnx_name)
    used = {i for n in builder.nodes for i in n.input}
    graph = helper.make_graph(
        builder.nodes,
        model_json_path.stem,
        graph_inputs,
        [
            helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, _output_shape(model_json, tf_name))
            for tf_name, onnx_name in outputs.items()
        ],
        [tensor for name, tensor in builder.initializers.items() if name in used],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="glimpse")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
