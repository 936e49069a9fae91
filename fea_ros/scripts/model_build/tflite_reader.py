"""Read a .tflite flatbuffer (with the `tflite` package) into plain tensors and operators."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tflite

TFLITE_DTYPES = {
    tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
    tflite.TensorType.INT32: np.int32, tflite.TensorType.INT64: np.int64, tflite.TensorType.UINT8: np.uint8,
    tflite.TensorType.INT8: np.int8, tflite.TensorType.INT16: np.int16, tflite.TensorType.BOOL: np.bool_,
}
OPERATOR_NAMES = {value: name for name, value in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}
OPTION_CLASSES = {
    "CONV_2D": tflite.Conv2DOptions, "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
    "MAX_POOL_2D": tflite.Pool2DOptions, "AVERAGE_POOL_2D": tflite.Pool2DOptions,
    "ADD": tflite.AddOptions, "SUB": tflite.SubOptions, "MUL": tflite.MulOptions, "DIV": tflite.DivOptions,
    "MEAN": tflite.ReducerOptions, "SUM": tflite.ReducerOptions,
    "STRIDED_SLICE": tflite.StridedSliceOptions, "CONCATENATION": tflite.ConcatenationOptions,
}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any
    data: np.ndarray | None  # constant contents, else None


@dataclass
class Operator:
    kind: str  # BuiltinOperator name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: Any  # the tflite *Options object, or None


@dataclass
class TfliteGraph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def _buffer_data(model: tflite.Model, raw: bytes, tensor: tflite.Tensor, dtype: Any) -> np.ndarray | None:
    buffer = model.Buffers(tensor.Buffer())
    if buffer is None:
        return None
    offset = buffer.Offset() if hasattr(buffer, "Offset") else 0
    if offset > 1:  # large models keep buffers after the flatbuffer
        data = np.frombuffer(raw, dtype=np.uint8, count=buffer.Size(), offset=offset)
    elif buffer.DataLength() > 0:
        data = buffer.DataAsNumpy()
    else:
        return None
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    return np.frombuffer(data.tobytes(), dtype=dtype).reshape(shape).copy()


def read_tflite(raw: bytes) -> TfliteGraph:
    model = tflite.Model.GetRootAsModel(raw, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"only single-subgraph tflite models are supported (this one has {model.SubgraphsLength()})")
    graph = model.Subgraphs(0)
    tensors = []
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        if tensor.Type() not in TFLITE_DTYPES:
            raise ValueError(f"tensor {tensor.Name().decode()} has unsupported tflite type {tensor.Type()}")
        dtype = TFLITE_DTYPES[tensor.Type()]
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        tensors.append(Tensor(index, tensor.Name().decode(), shape, dtype, _buffer_data(model, raw, tensor, dtype)))
    operators = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = OPERATOR_NAMES.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        options = None
        table = op.BuiltinOptions()
        if kind in OPTION_CLASSES and table is not None:
            options = OPTION_CLASSES[kind]()
            options.Init(table.Bytes, table.Pos)
        operators.append(Operator(kind, [int(i) for i in op.InputsAsNumpy()], [int(i) for i in op.OutputsAsNumpy()],
                                  options))
    return TfliteGraph(tensors, operators, [int(i) for i in graph.InputsAsNumpy()],
                       [int(i) for i in graph.OutputsAsNumpy()])
