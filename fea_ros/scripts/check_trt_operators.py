#!/usr/bin/env python3
"""Check every shipped ONNX model against TensorRT 10's ONNX operator support list, without TensorRT.

    python fea_ros/scripts/check_trt_operators.py             # table per model, exit 1 on a problem
    python fea_ros/scripts/check_trt_operators.py --markdown  # the MODELS.md section

The support list is onnx-tensorrt's docs/operators.md for TensorRT 10.15 ("supports operators in the
inclusive range of opset 9 to opset 24"). JetPack 6.1/6.2 ship TensorRT 10.3, whose parser covers opset 9 to
20 (TensorRT 10.0 notes; 10.9 went to 22, 10.13 to 24), so opsets are held to 9..20 here. Besides "is the
operator there", the restrictions the list states for operators these models use are checked on the
attributes (pooling rank and dilations, Resize modes, axes that must be build-time constants, ...).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import onnx
from onnx import helper

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
LIST_SOURCE = "onnx-tensorrt docs/operators.md, TensorRT 10.15 (opset 9-24)"
OPSET_RANGE = (9, 20)  # TensorRT 10.0-10.8 parsers, which include JetPack 6.1/6.2's 10.3

#: operators marked Y in the list
SUPPORTED = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh Attention AveragePool BatchNormalization BlackmanWindow
Cast CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DeformConv
DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample
GroupNormalization GRU HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity If ImageScaler
InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM
LpNormalization LpPool MatMul Max MaxPool Mean MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression
NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform
RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RMSNormalization RNN RoiAlign
RotaryEmbedding Round STFT ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin
Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh TensorScatter
ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split())

RESIZE_COORDINATES = {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}
RESIZE_NEAREST = {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"}


@dataclass
class ModelReport:
    name: str
    opsets: dict[str, int]
    ops: Counter
    problems: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # op -> what was checked on it


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    values = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        values[attribute.name] = value.decode() if isinstance(value, bytes) else value
    return values


def _check_pool(node: onnx.NodeProto, attrs: dict, constants: set[str]) -> list[str]:
    problems = []
    if len(attrs.get("kernel_shape", [])) not in (2, 3):
        problems.append("2D or 3D pooling only")
    if any(d != 1 for d in attrs.get("dilations", [])):
        problems.append("dilations must be empty or all ones")
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        problems.append(f"auto_pad {attrs['auto_pad']}")
    if node.op_type == "MaxPool" and len(node.output) > 1 and node.output[1]:
        problems.append("the Indices output is unsupported")
    return problems


def _check_resize(node: onnx.NodeProto, attrs: dict, constants: set[str]) -> list[str]:
    problems = []
    if attrs.get("mode", "nearest") not in ("nearest", "linear"):
        problems.append(f"mode {attrs['mode']} (only nearest, linear)")
    if attrs.get("coordinate_transformation_mode", "half_pixel") not in RESIZE_COORDINATES:
        problems.append(f"coordinate_transformation_mode {attrs['coordinate_transformation_mode']}")
    nearest_mode = attrs.get("nearest_mode", "round_prefer_floor")
    if attrs.get("mode", "nearest") == "nearest" and nearest_mode not in RESIZE_NEAREST:
        problems.append(f"nearest_mode {nearest_mode}")
    if attrs.get("antialias", 0):
        problems.append("antialias is unsupported")
    if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        problems.append("keep_aspect_ratio_policy must be stretch")
    return problems


def _axes_constant(node: onnx.NodeProto, attrs: dict, constants: set[str]) -> list[str]:
    if "axes" in attrs or len(node.input) < 2 or not node.input[1] or node.input[1] in constants:
        return []
    return ["axes must be a build-time constant"]


def _check_slice(node: onnx.NodeProto, attrs: dict, constants: set[str]) -> list[str]:
    # TensorRT 8.x required constant axes; 10.x lists no restriction. Held to the stricter rule.
    if len(node.input) >= 4 and node.input[3] and node.input[3] not in constants:
        return ["axes are computed at run time"]
    return []


def _check_dropout(node: onnx.NodeProto, attrs: dict, constants: set[str]) -> list[str]:
    if len(node.input) >= 3 and node.input[2] and node.input[2] not in constants:
        return ["is_training must be an initializer"]
    return []


def _check_pad(node: onnx.NodeProto, attrs: dict, constants: set[str]) -> list[str]:
    # Not a stated restriction; a runtime pads tensor would still parse but defeat fusion, so flag it.
    if len(node.input) >= 2 and node.input[1] and node.input[1] not in constants:
        return ["pads are computed at run time"]
    return []


CHECKS: dict[str, Callable[[onnx.NodeProto, dict, set[str]], list[str]]] = {
    "MaxPool": _check_pool, "AveragePool": _check_pool, "LpPool": _check_pool, "Resize": _check_resize,
    "ReduceMean": _axes_constant, "ReduceSum": _axes_constant, "ReduceMax": _axes_constant,
    "ReduceMin": _axes_constant, "ReduceProd": _axes_constant, "ReduceL2": _axes_constant,
    "Squeeze": _axes_constant, "Unsqueeze": _axes_constant, "Dropout": _check_dropout, "Pad": _check_pad,
    "Slice": _check_slice,
}
NOTES = {
    "MaxPool": "2D, dilations 1, no Indices output",
    "AveragePool": "2D, dilations 1",
    "Resize": "mode/coordinate/nearest modes in the supported sets, no antialias",
    "ReduceMean": "axes constant", "ReduceSum": "axes constant", "Squeeze": "axes constant",
    "Unsqueeze": "axes constant", "Pad": "pads constant", "Slice": "axes constant",
    "Reciprocal": "supported since TensorRT 8.5", "PRelu": "supported (FP32/FP16), no restriction listed",
}


def check_model(path: Path) -> ModelReport:
    model = onnx.load(str(path))
    opsets = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}
    graph = model.graph
    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    report = ModelReport(path.stem, opsets, Counter(node.op_type for node in graph.node))
    onnx_opset = opsets.get("ai.onnx", 0)
    if not OPSET_RANGE[0] <= onnx_opset <= OPSET_RANGE[1]:
        report.problems.append(f"opset {onnx_opset} outside {OPSET_RANGE[0]}..{OPSET_RANGE[1]}")
    for domain in opsets:
        if domain not in ("ai.onnx",):
            report.problems.append(f"custom operator domain '{domain}' needs a TensorRT plugin")
    for node in graph.node:
        if node.op_type not in SUPPORTED:
            report.problems.append(f"{node.op_type} ({node.name}) is not supported by TensorRT's ONNX parser")
            continue
        check = CHECKS.get(node.op_type)
        if check:
            for problem in check(node, _attributes(node), constants):
                report.problems.append(f"{node.op_type} {node.name}: {problem}")
    for init in graph.initializer:
        if init.data_type == onnx.TensorProto.DOUBLE:
            report.problems.append(f"initializer {init.name} is float64 (TensorRT casts DOUBLE down to FLOAT)")
    report.notes = {op: NOTES[op] for op in sorted(report.ops) if op in NOTES}
    for op, attribute, default in (("Pad", "mode", "constant"), ("Resize", "mode", "nearest"),
                                   ("Resize", "coordinate_transformation_mode", "half_pixel"),
                                   ("MaxPool", "auto_pad", "NOTSET"), ("MaxPool", "ceil_mode", 0),
                                   ("AveragePool", "ceil_mode", 0)):
        used = sorted({str(_attributes(n).get(attribute, default)) for n in graph.node if n.op_type == op})
        if used:
            report.notes[op] += f", {attribute} {'/'.join(used)}"
    return report


def shipped_models(models_dir: Path) -> list[Path]:
    manifest = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))
    return [models_dir / entry["file"] for entry in manifest["models"]]


def markdown(reports: list[ModelReport]) -> str:
    lines = ["## TensorRT operator support", "",
             f"Checked with `python fea_ros/scripts/check_trt_operators.py --markdown` against {LIST_SOURCE}; "
             f"opsets held to {OPSET_RANGE[0]}..{OPSET_RANGE[1]} (the range of TensorRT 10.0-10.8, which includes "
             "JetPack 6.1/6.2's TensorRT 10.3). Stated restrictions are checked on each node's attributes. "
             "This is a static check: the real parse and build run in `fea_ros/test/test_tensorrt.py` where "
             "TensorRT and a GPU exist (not yet run: no GPU was available when this was written).", "",
             "| model | opset | operators (count) | restrictions checked | result |", "|---|---|---|---|---|"]
    for report in reports:
        ops = ", ".join(f"{op} {count}" for op, count in sorted(report.ops.items()))
        notes = "; ".join(f"{op}: {text}" for op, text in report.notes.items()) or "-"
        result = "supported" if not report.problems else "**" + "; ".join(report.problems) + "**"
        lines.append(f"| {report.name} | {report.opsets.get('ai.onnx')} | {ops} | {notes} | {result} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--markdown", action="store_true", help="print the MODELS.md section")
    args = parser.parse_args(argv)
    reports = [check_model(path) for path in shipped_models(args.models_dir)]
    if args.markdown:
        print(markdown(reports), end="")
    else:
        for report in reports:
            status = "ok" if not report.problems else "PROBLEMS: " + "; ".join(report.problems)
            print(f"{report.name}: opset {report.opsets.get('ai.onnx')}, {sum(report.ops.values())} nodes, "
                  f"{len(report.ops)} operator types: {status}")
    return 1 if any(report.problems for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
