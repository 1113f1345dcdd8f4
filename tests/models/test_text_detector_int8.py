"""The int8 text detector build: calibration drawn the same every time, a quantised model that agrees with its
source, the same bytes on a rebuild, nothing written when the source is missing."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import models.text_detector_int8 as int8
from models.text_reader import DET_MODEL_FILE, packaged_model_dir


def tiny_detector(path) -> None:
    """A two-layer convolutional map with the real detector's input layout (N, 3, H, W), opset 11."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.3, (1, 4, 1, 1)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"]),
        helper.make_node("Sigmoid", ["c2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "h", "w"])],
        weights,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), path)


def run(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_calibration_pictures_are_drawn_the_same_every_time():
    first = [np.asarray(int8.calibration_picture(np.random.default_rng(3))) for _ in range(2)]
    other = np.asarray(int8.calibration_picture(np.random.default_rng(4)))
    assert np.array_equal(first[0], first[1])
    assert first[0].shape != other.shape or not np.array_equal(first[0], other)
    assert first[0].dtype == np.uint8 and first[0].ndim == 3


def test_calibration_inputs_hold_the_packaged_photos_and_the_drawn_ones():
    inputs = int8.calibration_inputs(drawn=2)
    assert len(inputs) == len(int8.packaged_photos()) + 2 >= 10
    for x in inputs:
        assert x.dtype == np.float32 and x.shape[:2] == (1, 3) and max(x.shape[2:]) <= 960
        assert x.shape[2] % 32 == 0 and x.shape[3] % 32 == 0 and -1.0 <= x.min() <= x.max() <= 1.0


def test_build_quantises_and_agrees_with_its_source(tmp_path, monkeypatch):
    monkeypatch.setattr(int8, "DRAWN_PICTURES", 2)
    source = tmp_path / "tiny.onnx"
    tiny_detector(source)
    target = int8.build(tmp_path / "out", source=source)
    model = onnx.load(str(target / "model.onnx"))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    card = json.loads((target / "card.json").read_text())
    assert card["spec"] == int8.NAME
    assert card["sha256"] == {"tiny.onnx": hashlib.sha256(source.read_bytes()).hexdigest()}
    x = int8.calibration_inputs(drawn=1)[-1]
    assert np.abs(run(target / "model.onnx", x) - run(source, x)).max() < 0.05
    first = (target / "model.onnx").read_bytes()
    int8.build(tmp_path / "out", source=source)
    assert (target / "model.onnx").read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [int8.NAME]  # no staging left behind


def test_a_missing_source_fails_and_writes_nothing(tmp_path):
    with pytest.raises(int8.TextDetectorBuildError, match="reinstall rapidocr"):
        int8.build(tmp_path / "out", source=tmp_path / "absent.onnx")
    assert not (tmp_path / "out").exists()


def test_the_built_detector_comes_from_the_installed_wheel():
    """make setup builds it (Makefile); a rapidocr upgrade must rebuild it."""
    card = json.loads((int8.BUILT / "card.json").read_text())
    wheel = packaged_model_dir() / DET_MODEL_FILE
    assert card["sha256"] == {DET_MODEL_FILE: hashlib.sha256(wheel.read_bytes()).hexdigest()}
