"""Graph surgery shared by every converter: rename graph I/O, reshape outputs, canonical byte-stable save.

Converters (tflite2onnx in particular) emit initializers and value_info in set-iteration order, so the same
input gives different bytes from run to run. `canonical_bytes` sorts everything that has no meaning
(initializers, value_info, independent nodes), drops doc strings and fixes the producer fields; two
conversions of the same weights then serialise to identical bytes and can be compared by sha256.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

PRODUCER_NAME = "fea_ros build_models"
PRODUCER_VERSION = "1"


def _replace_tensor_name(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for collection in (graph.input, graph.output, graph.value_info):
        for info in collection:
            if info.name == old:
                info.name = new


def rename_io(model: onnx.ModelProto, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> None:
    """Rename graph inputs/outputs (old name -> new name); every reference follows."""
    graph = model.graph
    known = {i.name for i in graph.input} | {o.name for o in graph.output}
    for old, new in list(inputs.items()) + list(outputs.items()):
        if old not in known:
            raise ValueError(f"graph has no input/output {old!r} (has: {sorted(known)})")
        _replace_tensor_name(graph, old, new)


def reshape_output(model: onnx.ModelProto, output: str, shape: Sequence[int]) -> None:
    """Append a Reshape so graph output `output` gets `shape` and keeps its name."""
    graph = model.graph
    producer = next((node for node in graph.node if output in node.output), None)
    if producer is not None and producer.op_type == "Reshape":
        # fold into the existing Reshape instead of chaining a second one
        shape_name = f"{output}__shape"
        graph.initializer.append(numpy_helper.from_array(np.asarray(shape, dtype=np.int64), shape_name))
        producer.input[1] = shape_name
        _set_output_shape(graph, output, shape)
        return
    inner = f"{output}__before_reshape"
    _replace_tensor_name(graph, output, inner)
    shape_name = f"{output}__shape"
    graph.initializer.append(numpy_helper.from_array(np.asarray(shape, dtype=np.int64), shape_name))
    graph.node.append(helper.make_node("Reshape", [inner, shape_name], [output], name=f"{output}__reshape"))
    for info in graph.output:
        if info.name == inner:
            info.name = output
    _set_output_shape(graph, output, shape)


def _set_output_shape(graph: onnx.GraphProto, output: str, shape: Sequence[int]) -> None:
    for info in graph.output:
        if info.name == output:
            dims = info.type.tensor_type.shape
            dims.ClearField("dim")
            for size in shape:
                dims.dim.add().dim_value = int(size)


def set_batch_dim(model: onnx.ModelProto, symbol: str = "N") -> None:
    """Make the first dimension of every graph input/output symbolic (batchable)."""
    for info in list(model.graph.input) + list(model.graph.output):
        dims = info.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = symbol


def batch_reshapes(model: onnx.ModelProto) -> None:
    """Let every constant-shape Reshape that starts with a batch of 1 take any batch (1 -> -1).

    The converted MediaPipe graphs only mix values within one sample (convolutions, per-sample reductions
    on axes >= 1), so a dynamic batch axis needs nothing else than these shapes and ``set_batch_dim``.
    """
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] not in initializers:
            continue
        shape = numpy_helper.to_array(initializers[node.input[1]]).copy()
        if shape.ndim == 1 and len(shape) >= 2 and shape[0] == 1 and -1 not in shape[1:]:
            shape[0] = -1
            name = f"{node.input[1]}__batched"
            if name not in initializers:
                initializers[name] = numpy_helper.from_array(shape.astype(np.int64), name)
                graph.initializer.append(initializers[name])
            node.input[1] = name
    prune(model)


def expand_constant_concat_inputs(model: onnx.ModelProto) -> None:
    """A constant of batch 1 concatenated with a batched tensor (an MLP-Mixer's extra token) is repeated N times.

    Concat needs equal sizes on every other axis, so the constant gets an Expand to the batch of the first
    non-constant input (Shape -> Slice [0:1] -> Concat with the constant's other dims).
    """
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    added: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "Concat" or all(name in initializers for name in node.input):
            continue
        axis = next(a.i for a in node.attribute if a.name == "axis")
        batched = next(name for name in node.input if name not in initializers)
        for position, name in enumerate(node.input):
            if name not in initializers or initializers[name].dims[0] != 1 or axis == 0:
                continue
            rest = f"{name}__dims_after_batch"
            graph.initializer.extend([
                numpy_helper.from_array(np.asarray(initializers[name].dims[1:], np.int64), rest),
                numpy_helper.from_array(np.asarray([0], np.int64), f"{name}__zero"),
                numpy_helper.from_array(np.asarray([1], np.int64), f"{name}__one")])
            added += [
                helper.make_node("Shape", [batched], [f"{name}__batched_shape"], name=f"{name}__shape"),
                helper.make_node("Slice", [f"{name}__batched_shape", f"{name}__zero", f"{name}__one"],
                                 [f"{name}__batch"], name=f"{name}__batch_slice"),
                helper.make_node("Concat", [f"{name}__batch", rest], [f"{name}__target"], axis=0,
                                 name=f"{name}__target_concat"),
                helper.make_node("Expand", [name, f"{name}__target"], [f"{name}__expanded"],
                                 name=f"{name}__expand")]
            node.input[position] = f"{name}__expanded"
    # Expand nodes before their consumers: canonicalise sorts the graph topologically anyway
    nodes = added + list(graph.node)
    graph.ClearField("node")
    graph.node.extend(nodes)


def drop_batch_squeeze(model: onnx.ModelProto, output: str) -> None:
    """Remove a trailing ``Slice [0:1] -> Squeeze(0)`` before graph output ``output`` (keep the batch axis)."""
    graph = model.graph
    squeeze = next(node for node in graph.node if output in node.output)
    if squeeze.op_type != "Squeeze":
        raise ValueError(f"{output} is produced by {squeeze.op_type}, not Squeeze")
    source = squeeze.input[0]
    producer = next((node for node in graph.node if source in node.output), None)
    if producer is not None and producer.op_type == "Slice":
        source = producer.input[0]
    _replace_tensor_name(graph, source, output)
    graph.node.remove(squeeze)
    if producer is not None and producer.op_type == "Slice":
        graph.node.remove(producer)
    prune(model)


def fold_constants(model: onnx.ModelProto) -> None:
    """Replace every node whose inputs are all constants by its value (onnx.reference evaluates it).

    The TorchScript exporter leaves small pad/shape subgraphs (ConstantOfShape, Concat, Slice, Cast ...) that
    only ever compute the same constant; folding them leaves the plain Conv/Pad/... graph TensorRT likes.
    """
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kept: list[onnx.NodeProto] = []
    opset = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    for node in graph.node:
        inputs = [name for name in node.input if name]
        if node.domain not in ("", "ai.onnx") or not all(name in constants for name in inputs):
            kept.append(node)
            continue
        single = helper.make_model(
            helper.make_graph([node], "fold", [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
                                               for n in inputs],
                              [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
                               for n in node.output]), opset_imports=opset)
        values = ReferenceEvaluator(single).run(None, {n: constants[n] for n in inputs})
        for name, value in zip(node.output, values):
            constants[name] = np.asarray(value)
    graph_outputs = {o.name for o in graph.output}
    used = {name for node in kept for name in node.input} | graph_outputs
    graph.ClearField("node")
    graph.node.extend(kept)
    initializers = [numpy_helper.from_array(constants[name], name) for name in sorted(constants) if name in used]
    graph.ClearField("initializer")
    graph.initializer.extend(initializers)


def _consumers_rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]


def simplify_layout(model: onnx.ModelProto) -> None:
    """Drop Identity nodes, cancel Transpose pairs, and turn Transposes that only move size-1 axes into Reshapes."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    inputs = {i.name for i in graph.input}
    changed = True
    while changed:
        changed = False
        producers = {out: node for node in graph.node for out in node.output}
        for node in list(graph.node):
            if node.op_type == "Identity":
                source, target = node.input[0], node.output[0]
                if target not in outputs:
                    _consumers_rename(graph, target, source)
                elif source in producers and source not in outputs and source not in inputs:
                    _replace_tensor_name(graph, source, target)
                else:
                    continue
                graph.node.remove(node)
                changed = True
                break
            if node.op_type == "Transpose" and node.input[0] in producers:
                parent = producers[node.input[0]]
                if parent.op_type != "Transpose":
                    continue
                first = list(helper.get_attribute_value(parent.attribute[0]))
                second = list(helper.get_attribute_value(node.attribute[0]))
                if [first[i] for i in second] == list(range(len(first))) and node.output[0] not in outputs:
                    _consumers_rename(graph, node.output[0], parent.input[0])
                    graph.node.remove(node)
                    changed = True
                    break
    inferred = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "Transpose" or node.input[0] not in shapes:
            continue
        shape = shapes[node.input[0]]
        perm = list(helper.get_attribute_value(node.attribute[0]))
        moved = [axis for axis in perm if shape[axis] != 1]
        if 0 in shape or moved != sorted(moved):
            continue
        target = [shape[axis] for axis in perm]
        shape_name = f"{node.output[0]}__shape"
        graph.initializer.append(numpy_helper.from_array(np.asarray(target, np.int64), shape_name))
        graph.node.remove(node)
        graph.node.insert(index, helper.make_node("Reshape", [node.input[0], shape_name], list(node.output),
                                                  name=node.name + "_as_reshape"))


def fold_pads(model: onnx.ModelProto) -> None:
    """Merge a constant spatial Pad into the Conv (zero pad) or MaxPool (-inf pad) that alone consumes it.

    TF 'SAME' padding of stride-2 layers is asymmetric; the exporters write it as a separate Pad, but ONNX
    Conv/MaxPool take asymmetric pads directly, which saves a copy of the activation per layer.
    """
    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    outputs = {o.name for o in graph.output}
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        users = consumers[pad.output[0]]
        if len(users) != 1 or pad.output[0] in outputs or pad.input[1] not in constants:
            continue
        user = users[0]
        mode = next((helper.get_attribute_value(a) for a in pad.attribute if a.name == "mode"), b"constant")
        value = float(constants[pad.input[2]]) if len(pad.input) > 2 and pad.input[2] else 0.0
        pads = constants[pad.input[1]].astype(np.int64)
        rank = len(pads) // 2
        fits = {"Conv": value == 0.0, "MaxPool": value == float("-inf")}.get(user.op_type, False)
        attrs = {a.name: helper.get_attribute_value(a) for a in user.attribute}
        if (mode != b"constant" or not fits or rank != 4 or np.any(pads < 0) or np.any(pads[[0, 1, 4, 5]])
                or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
            continue
        old = list(attrs.get("pads", [0, 0, 0, 0]))
        new = [old[0] + int(pads[2]), old[1] + int(pads[3]), old[2] + int(pads[6]), old[3] + int(pads[7])]
        for attribute in list(user.attribute):
            if attribute.name == "pads":
                user.attribute.remove(attribute)
        user.attribute.append(helper.make_attribute("pads", new))
        user.input[0] = pad.input[0]
        graph.node.remove(pad)


def decompose_prelu(model: onnx.ModelProto) -> None:
    """Rewrite per-channel PRelu(x, a) on NCHW tensors as DW(x, a) + DW(Relu(x), 1 - a), DW = 1x1 depthwise Conv.

    ONNX Runtime's CPU PRelu is an unvectorised broadcast loop outside its NCHWc layout: on FaceMesh v2
    (69 PRelus) it was half the run time. Conv, Relu and Add all stay in NCHWc, so the mesh runs ~2.7x faster
    (best of 50, one thread: 14.6 -> 5.4 ms). The result differs from PRelu by float rounding only (x>0:
    a*x + (1-a)*x); the fidelity tests bound it. TensorRT fuses these layers as well.
    """
    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    rewritten: list[onnx.NodeProto] = []
    for node in graph.node:
        slope = constants.get(node.input[1]) if node.op_type == "PRelu" else None
        if slope is None or slope.size != max(slope.shape, default=1) or slope.ndim not in (3, 4) \
                or slope.size != slope.shape[-3]:
            rewritten.append(node)
            continue
        x, y = node.input[0], node.output[0]
        channels = slope.size
        weights = slope.reshape(channels, 1, 1, 1).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(weights, f"{y}__neg_scale"))
        graph.initializer.append(numpy_helper.from_array((1.0 - weights).astype(np.float32), f"{y}__pos_scale"))
        depthwise = {"group": channels, "kernel_shape": [1, 1]}
        rewritten += [
            helper.make_node("Relu", [x], [f"{y}__relu"], name=f"{node.name}__relu"),
            helper.make_node("Conv", [x, f"{y}__neg_scale"], [f"{y}__scaled"], name=f"{node.name}__scale",
                             **depthwise),
            helper.make_node("Conv", [f"{y}__relu", f"{y}__pos_scale"], [f"{y}__rest"], name=f"{node.name}__rest",
                             **depthwise),
            helper.make_node("Add", [f"{y}__scaled", f"{y}__rest"], [y], name=f"{node.name}__add"),
        ]
    graph.ClearField("node")
    graph.node.extend(rewritten)


def prune(model: onnx.ModelProto) -> None:
    """Remove nodes and initializers that no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    graph.ClearField("node")
    graph.node.extend(reversed(kept))
    initializers = [t for t in graph.initializer if t.name in needed]
    graph.ClearField("initializer")
    graph.initializer.extend(initializers)


def _sorted_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Topological order, ties broken by the node's first output name, so input order does not matter."""
    producer = {out: index for index, node in enumerate(graph.node) for out in node.output if out}
    dependants: dict[int, list[int]] = defaultdict(list)
    waiting = [0] * len(graph.node)
    for index, node in enumerate(graph.node):
        parents = {producer[name] for name in node.input if name in producer}
        waiting[index] = len(parents)
        for parent in parents:
            dependants[parent].append(index)

    def key(index: int) -> tuple[str, str, int]:
        node = graph.node[index]
        return (node.output[0] if node.output else "", node.name, index)

    ready = [key(i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[onnx.NodeProto] = []
    while ready:
        index = heapq.heappop(ready)[2]
        order.append(graph.node[index])
        for child in dependants[index]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, key(child))
    if len(order) != len(graph.node):
        raise ValueError("graph has a cycle or dangling producer; cannot order it")
    return order


def canonicalise(model: onnx.ModelProto, doc: str) -> onnx.ModelProto:
    """A copy with a canonical node/initializer/value_info order, fixed producer fields and shapes inferred."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    nodes = _sorted_nodes(graph)
    graph.ClearField("node")
    graph.node.extend(nodes)
    for node in graph.node:
        node.ClearField("doc_string")
    referenced = {name for node in graph.node for name in node.input}
    initializers = sorted((t for t in graph.initializer if t.name in referenced), key=lambda t: t.name)
    graph.ClearField("initializer")
    graph.initializer.extend(initializers)
    graph.ClearField("value_info")
    model = shape_inference.infer_shapes(model, strict_mode=True)
    value_info = sorted(model.graph.value_info, key=lambda v: v.name)
    model.graph.ClearField("value_info")
    model.graph.value_info.extend(value_info)
    model.producer_name = PRODUCER_NAME
    model.producer_version = PRODUCER_VERSION
    model.doc_string = doc
    model.graph.doc_string = ""
    model.ClearField("metadata_props")
    onnx.checker.check_model(model, full_check=True)
    return model


def canonical_bytes(model: onnx.ModelProto, doc: str) -> bytes:
    return canonicalise(model, doc).SerializeToString(deterministic=True)


def op_types(model: onnx.ModelProto) -> list[str]:
    """The sorted ONNX op types a graph uses (subgraphs included)."""
    found: set[str] = set()

    def walk(nodes: Iterable[onnx.NodeProto]) -> None:
        for node in nodes:
            found.add(node.op_type if not node.domain else f"{node.domain}.{node.op_type}")
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    walk(attribute.g.node)

    walk(model.graph.node)
    return sorted(found)


def io_signature(model: onnx.ModelProto) -> tuple[list[dict], list[dict]]:
    """Manifest-style [{name, shape, dtype}] for the graph inputs and outputs."""

    def describe(info: onnx.ValueInfoProto) -> dict:
        tensor = info.type.tensor_type
        shape = [d.dim_param if d.dim_param else int(d.dim_value) for d in tensor.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        return {"name": info.name, "shape": shape, "dtype": dtype}

    initializer_names = {t.name for t in model.graph.initializer}
    inputs = [describe(i) for i in model.graph.input if i.name not in initializer_names]
    return inputs, [describe(o) for o in model.graph.output]
