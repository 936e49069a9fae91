"""A minimal tflite -> ONNX converter for MediaPipe's fp16-weighted FaceMesh v2 and MLP-Mixer blendshape graphs.

tflite2onnx cannot read these (fp16 DEQUANTIZE weights, MEAN/SUM/STRIDED_SLICE/SQUARED_DIFFERENCE), so this
converts them directly with onnx.helper:
* fp16 weights behind DEQUANTIZE are folded into float32 initializers (exactly what DEQUANTIZE computes);
* tflite is NHWC; convolution and pooling outputs are kept NCHW and the NCHW layout is carried through
  layout-agnostic ops (PRelu, elementwise, Pad, Sigmoid), so FaceMesh v2 becomes a plain NCHW graph. Ops that
  depend on the axis order (Reshape, Mean, Sum, Transpose, StridedSlice) get their input back in NHWC;
* TF "SAME" padding is computed statically from the tensor shapes (asymmetric pads where needed).
Supported: DEQUANTIZE CONV_2D DEPTHWISE_CONV_2D MAX_POOL_2D AVERAGE_POOL_2D PRELU ADD SUB MUL DIV
SQUARED_DIFFERENCE LOGISTIC NEG SQRT RSQRT RELU PAD RESHAPE MEAN SUM TRANSPOSE STRIDED_SLICE CONCATENATION.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model_build.tflite_reader import Operator, TfliteGraph, read_tflite

OPSET = 17
NHWC, NCHW = "NHWC", "NCHW"
TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)
ACTIVATIONS = {0: None, 1: "Relu", 6: "Sigmoid"}
BINARY = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul", "DIV": "Div"}
UNARY = {"LOGISTIC": "Sigmoid", "NEG": "Neg", "SQRT": "Sqrt", "RELU": "Relu", "TANH": "Tanh"}


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def nhwc_constant_to_nchw(value: np.ndarray) -> np.ndarray:
    """A constant that broadcasts against an NHWC rank-4 tensor, rearranged to broadcast against NCHW."""
    return value.reshape((1,) * (4 - value.ndim) + value.shape).transpose(TO_NCHW)


class Converter:
    def __init__(self, graph: TfliteGraph, nchw_input: bool) -> None:
        self.graph = graph
        self.nchw_input = nchw_input
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.constants: dict[int, np.ndarray] = {t.index: t.data for t in graph.tensors if t.data is not None}
        self.layout: dict[int, str] = {}
        self.names: dict[int, str] = {}
        used: set[str] = set()
        for tensor in graph.tensors:
            name = tensor.name or f"t{tensor.index}"
            while name in used:
                name += "_"
            used.add(name)
            self.names[tensor.index] = name
        self.counter = 0
        self.transposed: dict[tuple[int, str], str] = {}

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}__{self.counter}"

    def const(self, value: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.initializers[name] = np.ascontiguousarray(value)
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str] | None = None, hint: str = "", **attrs) -> str:
        outputs = outputs or [self.fresh(hint or op)]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=self.fresh(f"{op}_{outputs[0]}"), **attrs))
        return outputs[0]

    def shape(self, index: int) -> tuple[int, ...]:
        return self.graph.tensors[index].shape

    def value(self, index: int, layout: str) -> str:
        """The ONNX name of tensor `index` in `layout` (constants are materialised; activations transposed)."""
        if index in self.constants:
            data = self.constants[index]
            if layout == NCHW and data.ndim <= 4:
                data = nhwc_constant_to_nchw(data) if data.ndim > 0 else data
            return self.const(data.astype(np.float32) if data.dtype == np.float16 else data, self.names[index])
        have = self.layout.get(index, NHWC)
        if have == layout or len(self.shape(index)) != 4:
            return self.names[index]
        key = (index, layout)
        if key not in self.transposed:  # one Transpose per tensor and layout, shared by all consumers
            perm = TO_NCHW if layout == NCHW else TO_NHWC
            self.transposed[key] = self.node("Transpose", [self.names[index]], hint=f"{self.names[index]}_{layout}",
                                             perm=perm)
        return self.transposed[key]

    def output(self, op: Operator, produced: str, layout: str, activation: int = 0) -> None:
        target = self.names[op.outputs[0]]
        if activation not in ACTIVATIONS:
            raise ValueError(f"fused activation {activation} is not supported")
        if ACTIVATIONS[activation]:
            produced = self.node(ACTIVATIONS[activation], [produced])
        self.node("Identity", [produced], [target])
        self.layout[op.outputs[0]] = layout

    def working_layout(self, indices: list[int]) -> str:
        """NCHW if any rank-4 activation operand is NCHW and every operand can follow it, else NHWC."""
        activations = [i for i in indices if i >= 0 and i not in self.constants]
        if any(self.layout.get(i, NHWC) == NCHW for i in activations) and all(
                len(self.shape(i)) == 4 for i in activations) and all(
                self.constants[i].ndim <= 4 for i in indices if i in self.constants):
            return NCHW
        return NHWC

    def convert(self, op: Operator) -> None:
        kind = op.kind
        if kind == "DEQUANTIZE":
            if op.inputs[0] not in self.constants:
                raise ValueError("DEQUANTIZE of a run-time tensor is not supported")
            self.constants[op.outputs[0]] = self.constants[op.inputs[0]].astype(np.float32)
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            self.conv(op)
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            self.pool(op)
        elif kind in BINARY or kind == "SQUARED_DIFFERENCE":
            layout = self.working_layout(op.inputs)
            a, b = (self.value(i, layout) for i in op.inputs)
            if kind == "SQUARED_DIFFERENCE":
                difference = self.node("Sub", [a, b])
                self.output(op, self.node("Mul", [difference, difference]), layout)
            else:
                self.output(op, self.node(BINARY[kind], [a, b]), layout, op.options.FusedActivationFunction())
        elif kind == "PRELU":
            layout = self.working_layout(op.inputs[:1])
            self.output(op, self.node("PRelu", [self.value(op.inputs[0], layout), self.value(op.inputs[1], layout)]),
                        layout)
        elif kind in UNARY or kind == "RSQRT":
            layout = self.working_layout(op.inputs)
            x = self.value(op.inputs[0], layout)
            result = self.node("Reciprocal", [self.node("Sqrt", [x])]) if kind == "RSQRT" else self.node(UNARY[kind], [x])
            self.output(op, result, layout)
        elif kind == "PAD":
            self.pad(op)
        elif kind == "RESHAPE":
            shape = np.asarray(self.shape(op.outputs[0]), np.int64)
            self.output(op, self.node("Reshape", [self.value(op.inputs[0], NHWC), self.const(shape, "shape")]), NHWC)
        elif kind == "TRANSPOSE":
            perm = [int(p) for p in self.constants[op.inputs[1]]]
            self.output(op, self.node("Transpose", [self.value(op.inputs[0], NHWC)], perm=perm), NHWC)
        elif kind in ("MEAN", "SUM"):
            self.reduce(op)
        elif kind == "STRIDED_SLICE":
            self.strided_slice(op)
        elif kind == "CONCATENATION":
            layout = self.working_layout(op.inputs)
            rank = len(self.shape(op.outputs[0]))
            axis = op.options.Axis() % rank
            if layout == NCHW:
                axis = TO_NCHW.index(axis)
            inputs = [self.value(i, layout) for i in op.inputs]
            self.output(op, self.node("Concat", inputs, axis=axis), layout, op.options.FusedActivationFunction())
        else:
            raise ValueError(f"tflite operator {kind} is not supported by this converter")

    def conv(self, op: Operator) -> None:
        options = op.options
        weights = self.constants[op.inputs[1]]
        in_shape = self.shape(op.inputs[0])
        if op.kind == "CONV_2D":
            kernel = weights.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            group = 1
        else:
            channels = in_shape[3]
            kernel = weights.transpose(3, 0, 1, 2)  # 1,H,W,C*M -> C*M,1,H,W
            group = channels
        strides = [options.StrideH(), options.StrideW()]
        dilations = [options.DilationHFactor(), options.DilationWFactor()]
        if (op.kind == "CONV_2D" and kernel.shape[2:] == (1, 1) and strides == [1, 1]
                and self.layout.get(op.inputs[0], NHWC) == NHWC):
            # a 1x1 conv on an NHWC tensor (the MLP-Mixer's token/channel MLPs) is a MatMul over the last axis;
            # as a Conv it would need a Transpose on each side
            self.pointwise_as_matmul(op, kernel[:, :, 0, 0])
            return
        pads = [0, 0, 0, 0]
        if options.Padding() == 0:  # SAME
            top, bottom = same_pads(in_shape[1], kernel.shape[2], strides[0], dilations[0])
            left, right = same_pads(in_shape[2], kernel.shape[3], strides[1], dilations[1])
            pads = [top, left, bottom, right]
        inputs = [self.value(op.inputs[0], NCHW), self.const(kernel.astype(np.float32), self.names[op.inputs[1]])]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            inputs.append(self.const(self.constants[op.inputs[2]].astype(np.float32), self.names[op.inputs[2]]))
        result = self.node("Conv", inputs, kernel_shape=list(kernel.shape[2:]), strides=strides, dilations=dilations,
                           pads=pads, group=group)
        self.output(op, result, NCHW, options.FusedActivationFunction())

    def pointwise_as_matmul(self, op: Operator, matrix: np.ndarray) -> None:
        x = self.value(op.inputs[0], NHWC)
        result = self.node("MatMul", [x, self.const(np.ascontiguousarray(matrix.T).astype(np.float32),
                                                    self.names[op.inputs[1]])])
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = self.constants[op.inputs[2]].astype(np.float32)
            result = self.node("Add", [result, self.const(bias, self.names[op.inputs[2]])])
        self.output(op, result, NHWC, op.options.FusedActivationFunction())

    def pool(self, op: Operator) -> None:
        options = op.options
        in_shape = self.shape(op.inputs[0])
        kernel = [options.FilterHeight(), options.FilterWidth()]
        strides = [options.StrideH(), options.StrideW()]
        pads = [0, 0, 0, 0]
        if options.Padding() == 0:
            top, bottom = same_pads(in_shape[1], kernel[0], strides[0])
            left, right = same_pads(in_shape[2], kernel[1], strides[1])
            pads = [top, left, bottom, right]
        x = self.value(op.inputs[0], NCHW)
        if op.kind == "MAX_POOL_2D":
            result = self.node("MaxPool", [x], kernel_shape=kernel, strides=strides, pads=pads)
        else:  # TF averages over the valid (unpadded) window only
            result = self.node("AveragePool", [x], kernel_shape=kernel, strides=strides, pads=pads,
                               count_include_pad=0)
        self.output(op, result, NCHW, options.FusedActivationFunction())

    def pad(self, op: Operator) -> None:
        layout = self.working_layout(op.inputs[:1])
        paddings = np.asarray(self.constants[op.inputs[1]], np.int64)
        if layout == NCHW:
            paddings = paddings[list(TO_NCHW)]
        pads = np.concatenate([paddings[:, 0], paddings[:, 1]]).astype(np.int64)
        x = self.value(op.inputs[0], layout)
        self.output(op, self.node("Pad", [x, self.const(pads, "pads")], mode="constant"), layout)

    def reduce(self, op: Operator) -> None:
        rank = len(self.shape(op.inputs[0]))
        axes = sorted({int(a) % rank for a in np.atleast_1d(self.constants[op.inputs[1]])})
        keep = int(bool(op.options.KeepDims())) if op.options is not None else 0
        x = self.value(op.inputs[0], NHWC)
        if op.kind == "MEAN":
            result = self.node("ReduceMean", [x], axes=axes, keepdims=keep)
        else:
            result = self.node("ReduceSum", [x, self.const(np.asarray(axes, np.int64), "axes")], keepdims=keep)
        self.output(op, result, NHWC)

    def strided_slice(self, op: Operator) -> None:
        options = op.options
        if options.EllipsisMask() or options.NewAxisMask():
            raise ValueError("STRIDED_SLICE with ellipsis/new-axis masks is not supported")
        begin, end, strides = (np.asarray(self.constants[i], np.int64).copy() for i in op.inputs[1:4])
        in_shape = self.shape(op.inputs[0])
        big = np.iinfo(np.int64).max
        for axis in range(len(begin)):
            if options.BeginMask() & (1 << axis):
                begin[axis] = 0 if strides[axis] > 0 else big
            if options.EndMask() & (1 << axis):
                end[axis] = big if strides[axis] > 0 else -big
            if options.ShrinkAxisMask() & (1 << axis):
                end[axis] = begin[axis] + 1 if begin[axis] != -1 else in_shape[axis]
        axes = np.arange(len(begin), dtype=np.int64)
        x = self.value(op.inputs[0], NHWC)
        result = self.node("Slice", [x, self.const(begin, "starts"), self.const(end, "ends"),
                                     self.const(axes, "axes"), self.const(strides, "steps")])
        shrink = [a for a in range(len(begin)) if options.ShrinkAxisMask() & (1 << a)]
        if shrink:
            result = self.node("Squeeze", [result, self.const(np.asarray(shrink, np.int64), "squeeze_axes")])
        self.output(op, result, NHWC)

    def run(self, keep_outputs: list[str] | None) -> onnx.ModelProto:
        graph = self.graph
        inputs = []
        for index in graph.inputs:
            shape = list(self.shape(index))
            if self.nchw_input and len(shape) == 4:
                self.layout[index] = NCHW
                shape = [shape[i] for i in TO_NCHW]
            inputs.append(helper.make_tensor_value_info(self.names[index], TensorProto.FLOAT, shape))
        for op in graph.operators:
            self.convert(op)
        outputs = []
        for index in graph.outputs:
            name = self.names[index]
            if keep_outputs is not None and name not in keep_outputs:
                continue
            if self.layout.get(index, NHWC) == NCHW and len(self.shape(index)) == 4:
                internal = f"{name}__nchw"
                for node in self.nodes:
                    node.input[:] = [internal if n == name else n for n in node.input]
                    node.output[:] = [internal if n == name else n for n in node.output]
                self.node("Transpose", [internal], [name], perm=TO_NHWC)
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(self.shape(index))))
        onnx_graph = helper.make_graph(self.nodes, "tflite", inputs, outputs,
                                       [numpy_helper.from_array(v, k) for k, v in self.initializers.items()])
        model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8  # loadable by the older ONNX Runtime / TensorRT parsers on JetPack, like the torch exports
        return model


def convert_tflite(raw: bytes, nchw_input: bool = True, keep_outputs: list[str] | None = None,
                   rename: Mapping[str, str] | None = None) -> onnx.ModelProto:
    """ONNX model of a tflite flatbuffer; `keep_outputs` (tflite names) drops the others."""
    from model_build.onnx_tools import prune, rename_io, simplify_layout

    model = Converter(read_tflite(raw), nchw_input).run(keep_outputs)
    simplify_layout(model)
    prune(model)
    if rename:
        inputs = {k: v for k, v in rename.items() if k in {i.name for i in model.graph.input}}
        outputs = {k: v for k, v in rename.items() if k in {o.name for o in model.graph.output}}
        rename_io(model, inputs, outputs)
    return model
