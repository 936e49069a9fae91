"""Every shipped ONNX model uses only operators TensorRT 10's ONNX parser supports, within its restrictions.

The checker itself is tested on small real ONNX graphs that break one rule each.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_fidelity_support import MODELS_DIR  # (puts fea_ros/scripts on sys.path)

# Not a module-level importorskip: launch_testing's pytest plugin (colcon test) imports every test module while
# collecting, and a module-level skip there skips the whole test folder.
try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import check_trt_operators as checker
except ImportError as missing:
    onnx = None
    MISSING = f"the onnx package (a dev dependency) reads the model graphs: {missing}"
pytestmark = pytest.mark.skipif(onnx is None, reason=MISSING if onnx is None else "")

SHIPPED = checker.shipped_models(MODELS_DIR) if onnx is not None else sorted(MODELS_DIR.glob("*.onnx"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_model_parses_with_tensorrt_10(path: Path) -> None:
    report = checker.check_model(path)
    assert report.problems == []
    assert sum(report.ops.values()) > 10  # the graph was really read


def save(tmp_path: Path, nodes: list, inputs: list, outputs: list, initializers: list = (),
         opset: int = 17, domains: tuple = ()) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=imports)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return path


def image(name: str = "x") -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, 8, 8])


def test_unsupported_operator_is_named(tmp_path: Path) -> None:
    path = save(tmp_path, [helper.make_node("Unique", ["x"], ["y"], name="u")], [image()],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    assert checker.check_model(path).problems == ["Unique (u) is not supported by TensorRT's ONNX parser"]


def test_opset_newer_than_jetpack_tensorrt_is_flagged(tmp_path: Path) -> None:
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [image()], [image("y")], opset=21)
    assert checker.check_model(path).problems == ["opset 21 outside 9..20"]


def test_resize_cubic_and_antialias_are_flagged(tmp_path: Path) -> None:
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="r", mode="cubic", antialias=1)
    path = save(tmp_path, [node], [image()], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                [scales], opset=18)
    problems = checker.check_model(path).problems
    assert problems == ["Resize r: mode cubic (only nearest, linear)", "Resize r: antialias is unsupported"]


def test_pool_dilations_and_indices_are_flagged(tmp_path: Path) -> None:
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], name="p", kernel_shape=[2, 2], dilations=[2, 2])
    path = save(tmp_path, [node], [image()], [image("y"), helper.make_tensor_value_info("i", TensorProto.INT64,
                                                                                       None)])
    assert checker.check_model(path).problems == ["MaxPool p: dilations must be empty or all ones",
                                                  "MaxPool p: the Indices output is unsupported"]


def test_runtime_axes_and_custom_domains_are_flagged(tmp_path: Path) -> None:
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("ReduceMean", ["x", "s"], ["y"], name="m")]
    path = save(tmp_path, nodes, [image()], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                opset=18, domains=("com.microsoft",))
    assert checker.check_model(path).problems == [
        "custom operator domain 'com.microsoft' needs a TensorRT plugin",
        "ReduceMean m: axes must be a build-time constant"]


def test_slice_with_runtime_axes_is_flagged(tmp_path: Path) -> None:
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([2], np.int64), "ends")
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "starts", "ends"], ["head"]),
             helper.make_node("Slice", ["x", "starts", "ends", "head"], ["y"], name="cut")]
    path = save(tmp_path, nodes, [image()], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                [starts, ends])
    assert checker.check_model(path).problems == ["Slice cut: axes are computed at run time"]


def test_constant_axes_and_float32_weights_pass(tmp_path: Path) -> None:
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)
    path = save(tmp_path, [node], [image()], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                [axes], opset=18)
    assert checker.check_model(path).problems == []
    weights = numpy_helper.from_array(np.ones((1,), np.float64), "w")
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [image()], [image("y")], [weights])
    assert checker.check_model(path).problems == ["initializer w is float64 (TensorRT casts DOUBLE down to FLOAT)"]


def test_markdown_has_one_row_per_model_and_the_source() -> None:
    text = checker.markdown([checker.check_model(path) for path in SHIPPED])
    assert text.startswith("## TensorRT operator support\n")
    assert "TensorRT 10.15" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    assert [row.split(" | ")[0][2:] for row in rows] == [p.stem for p in SHIPPED]
    assert all(row.endswith("| supported |") for row in rows)


def test_script_exit_status() -> None:
    assert checker.main(["--models-dir", str(MODELS_DIR)]) == 0
