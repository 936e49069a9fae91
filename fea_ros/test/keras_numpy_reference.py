"""An independent float64 numpy forward pass of a Keras 2 functional h5 (NHWC), used to check fer's ONNX.

It shares no code with scripts/model_build/fer_to_onnx.py (which goes through torch): it reads the same h5
with h5py and applies the layers with numpy only.
"""
from __future__ import annotations

import io
import json
import math

import h5py
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _weights(h5: h5py.File, layer: str) -> dict[str, np.ndarray]:
    group = h5["model_weights"][layer]
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
    return {n.split("/")[-1].split(":")[0]: np.asarray(group[n], np.float64) for n in names}


def _pad_same(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int], value: float) -> np.ndarray:
    pads = []
    for size, k, s in zip(x.shape[1:3], kernel, strides):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int]) -> np.ndarray:
    """[N, OH, OW, C, KH, KW] patches."""
    view = sliding_window_view(x, kernel, axis=(1, 2))
    return view[:, ::strides[0], ::strides[1]]


def _conv(x: np.ndarray, kernel: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    patches = _windows(x, kernel.shape[:2], strides)
    return np.einsum("nhwcij,ijco->nhwo", patches, kernel)


def _depthwise(x: np.ndarray, kernel: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    patches = _windows(x, kernel.shape[:2], strides)
    out = np.einsum("nhwcij,ijcm->nhwcm", patches, kernel)
    return out.reshape(*out.shape[:3], -1)


def _activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "softmax":
        shifted = np.exp(x - x.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def keras_forward(h5_bytes: bytes, image_nhwc: np.ndarray) -> np.ndarray:
    with h5py.File(io.BytesIO(h5_bytes), "r") as h5:
        layers = json.loads(h5.attrs["model_config"])["config"]["layers"]
        values: dict[str, np.ndarray] = {}
        out = image_nhwc.astype(np.float64)
        for layer in layers:
            kind, name, config = layer["class_name"], layer["name"], layer["config"]
            inputs = [values[entry[0]] for entry in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            weights = _weights(h5, name)
            strides = tuple(config.get("strides", (1, 1)))
            if kind == "InputLayer":
                out = image_nhwc.astype(np.float64)
            elif kind in ("Conv2D", "SeparableConv2D"):
                x = inputs[0]
                size = tuple(config["kernel_size"])
                if config["padding"] == "same":
                    x = _pad_same(x, size, strides, 0.0)
                if kind == "Conv2D":
                    out = _conv(x, weights["kernel"], strides)
                else:
                    out = _conv(_depthwise(x, weights["depthwise_kernel"], strides), weights["pointwise_kernel"],
                                (1, 1))
                out = _activation(out + weights.get("bias", 0.0), config["activation"])
            elif kind == "BatchNormalization":
                scale = weights["gamma"] / np.sqrt(weights["moving_variance"] + config["epsilon"])
                out = (inputs[0] - weights["moving_mean"]) * scale + weights["beta"]
            elif kind == "Activation":
                out = _activation(inputs[0], config["activation"])
            elif kind == "MaxPooling2D":
                pool = tuple(config["pool_size"])
                x = _pad_same(inputs[0], pool, strides, -np.inf) if config["padding"] == "same" else inputs[0]
                out = _windows(x, pool, strides).max(axis=(-2, -1))
            elif kind == "Add":
                out = np.sum(inputs, axis=0)
            elif kind == "GlobalAveragePooling2D":
                out = inputs[0].mean(axis=(1, 2))
            else:
                raise ValueError(f"layer {kind} not handled by the numpy reference")
            values[name] = out
        return out
