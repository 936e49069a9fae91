"""fer's mini-Xception (Keras 2.0.5 h5) -> torch -> ONNX, reading the h5 with h5py only (no TensorFlow).

The Keras functional graph in the h5's model_config is interpreted layer by layer, so the torch module is the
Keras model as saved (including TF "same" padding, which is asymmetric for stride 2).

BatchNormalization layers that follow a convolution are folded into it here, in float64 numpy with one rounding
to float32, rather than left to the exporter: torch's ONNX exporter folds them with torch.sqrt/div, which on x86
go through MKL's vector math, whose last bit depends on the CPU MKL dispatches for (the committed file built on
one machine differed from a rebuild on another by 1-2 ulp in the folded scales). numpy's float64 sqrt and
division are correctly rounded everywhere, so the folded weights, and the ONNX bytes, are the same on any CPU.
"""
from __future__ import annotations

import io
import json
import math

import h5py
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from model_build.torch_export import export

SUPPORTED = {"InputLayer", "Conv2D", "SeparableConv2D", "BatchNormalization", "Activation", "MaxPooling2D", "Add",
             "GlobalAveragePooling2D"}


def keras_layers(h5: h5py.File) -> list[dict]:
    """The functional model's layers: class_name, name, config, inbound layer names."""
    config = json.loads(h5.attrs["model_config"])
    layers = []
    for layer in config["config"]["layers"]:
        inbound = [entry[0] for entry in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        layers.append({"class_name": layer["class_name"], "name": layer["name"], "config": layer["config"],
                       "inbound": inbound})
    return layers


def keras_weights(h5: h5py.File, layer: str) -> dict[str, np.ndarray]:
    """A layer's weights keyed by their short name (kernel, bias, gamma, beta, moving_mean, ...)."""
    group = h5["model_weights"][layer]
    weights = {}
    for full_name in group.attrs.get("weight_names", []):
        full_name = full_name.decode() if isinstance(full_name, bytes) else full_name
        short = full_name.split("/")[-1].split(":")[0]
        weights[short] = np.asarray(group[full_name], dtype=np.float32)
    return weights


def fold_batch_norm(kernel: np.ndarray, bias: np.ndarray | None, norm: dict[str, np.ndarray], epsilon: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of conv -> BatchNorm as one conv; kernel is [out, in, kh, kw], computed in float64."""
    mean = norm["moving_mean"].astype(np.float64)
    gamma = norm.get("gamma", np.ones_like(mean)).astype(np.float64)
    beta = norm.get("beta", np.zeros_like(mean)).astype(np.float64)
    scale = gamma / np.sqrt(norm["moving_variance"].astype(np.float64) + epsilon)
    folded_kernel = kernel.astype(np.float64) * scale[:, None, None, None]
    conv_bias = np.zeros_like(mean) if bias is None else bias.astype(np.float64)
    folded_bias = (conv_bias - mean) * scale + beta
    return folded_kernel.astype(np.float32), folded_bias.astype(np.float32)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) along one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class KerasGraph(nn.Module):
    """Runs the Keras functional graph in NCHW; parameters are the h5 weights."""

    def __init__(self, h5: h5py.File, input_hw: tuple[int, int]) -> None:
        super().__init__()
        self.layers_spec = keras_layers(h5)
        self.ops = nn.ModuleDict()
        self.input_hw = input_hw
        #: BatchNormalization layers folded into the conv before them (identity in forward)
        self.folded: set[str] = set()
        consumers: dict[str, int] = {}
        for layer in self.layers_spec:
            for source in layer["inbound"]:
                consumers[source] = consumers.get(source, 0) + 1
        kinds = {layer["name"]: layer["class_name"] for layer in self.layers_spec}
        for layer in self.layers_spec:
            kind, name, config = layer["class_name"], layer["name"], layer["config"]
            if kind not in SUPPORTED:
                raise ValueError(f"Keras layer {kind} ({name}) is not supported")
            if config.get("data_format", "channels_last") != "channels_last":
                raise ValueError(f"{name}: only channels_last h5 files are supported")
            weights = keras_weights(h5, name)
            if kind == "Conv2D":
                kernel = torch.from_numpy(weights["kernel"]).permute(3, 2, 0, 1).contiguous()
                conv = nn.Conv2d(kernel.shape[1], kernel.shape[0], tuple(kernel.shape[2:]),
                                 stride=tuple(config["strides"]), bias="bias" in weights)
                conv.weight.data.copy_(kernel)
                if "bias" in weights:
                    conv.bias.data.copy_(torch.from_numpy(weights["bias"]))
                self.ops[name] = conv
            elif kind == "SeparableConv2D":
                depthwise = torch.from_numpy(weights["depthwise_kernel"])  # kh, kw, cin, multiplier
                pointwise = torch.from_numpy(weights["pointwise_kernel"])  # 1, 1, cin*multiplier, cout
                channels, multiplier = depthwise.shape[2], depthwise.shape[3]
                dw = nn.Conv2d(channels, channels * multiplier, tuple(depthwise.shape[:2]),
                               stride=tuple(config["strides"]), groups=channels, bias=False)
                dw.weight.data.copy_(depthwise.permute(2, 3, 0, 1).reshape(channels * multiplier, 1,
                                                                           *depthwise.shape[:2]))
                pw = nn.Conv2d(channels * multiplier, pointwise.shape[3], 1, bias="bias" in weights)
                pw.weight.data.copy_(pointwise.permute(3, 2, 0, 1))
                if "bias" in weights:
                    pw.bias.data.copy_(torch.from_numpy(weights["bias"]))
                self.ops[name] = nn.Sequential(dw, pw)
            elif kind == "BatchNormalization" and self._foldable(layer, kinds, consumers):
                self._fold_into_conv(layer["inbound"][0], weights, config["epsilon"])
                self.folded.add(name)
            elif kind == "BatchNormalization":
                norm = nn.BatchNorm2d(weights["moving_mean"].shape[0], eps=config["epsilon"])
                norm.weight.data.copy_(torch.from_numpy(weights.get("gamma", np.ones_like(weights["moving_mean"]))))
                norm.bias.data.copy_(torch.from_numpy(weights.get("beta", np.zeros_like(weights["moving_mean"]))))
                norm.running_mean.copy_(torch.from_numpy(weights["moving_mean"]))
                norm.running_var.copy_(torch.from_numpy(weights["moving_variance"]))
                self.ops[name] = norm
        # the pads are fixed by the input size: work them out once here so the export holds constants,
        # not Shape/Gather arithmetic (which TensorRT and graph optimisers handle worse)
        self.pads: dict[str, tuple[int, int, int, int]] = {}
        self.eval()  # in training mode the dry run would overwrite the BatchNorm running statistics
        with torch.no_grad():
            self.forward(torch.zeros(1, 1, *input_hw))

    def _foldable(self, layer: dict, kinds: dict[str, str], consumers: dict[str, int]) -> bool:
        """A BatchNorm can be folded when it alone reads a linear (no activation) conv's output."""
        source = layer["inbound"][0] if len(layer["inbound"]) == 1 else None
        if source is None or kinds.get(source) not in ("Conv2D", "SeparableConv2D") or consumers[source] != 1:
            return False
        conv_config = next(spec["config"] for spec in self.layers_spec if spec["name"] == source)
        return conv_config.get("activation", "linear") == "linear"

    def _fold_into_conv(self, conv_name: str, norm: dict[str, np.ndarray], epsilon: float) -> None:
        op = self.ops[conv_name]
        conv = op[-1] if isinstance(op, nn.Sequential) else op  # a separable conv's pointwise part
        assert isinstance(conv, nn.Conv2d)
        bias = conv.bias.detach().numpy() if conv.bias is not None else None
        kernel, folded_bias = fold_batch_norm(conv.weight.detach().numpy(), bias, norm, epsilon)
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                           groups=conv.groups, bias=True)
        folded.weight.data.copy_(torch.from_numpy(kernel))
        assert folded.bias is not None
        folded.bias.data.copy_(torch.from_numpy(folded_bias))
        if isinstance(op, nn.Sequential):
            op[-1] = folded
        else:
            self.ops[conv_name] = folded

    def _padded(self, x: torch.Tensor, name: str, config: dict, kernel: tuple[int, int], value: float
                ) -> torch.Tensor:
        if config.get("padding") != "same":
            return x
        if name not in self.pads:
            top, bottom = same_padding(int(x.shape[2]), kernel[0], config["strides"][0])
            left, right = same_padding(int(x.shape[3]), kernel[1], config["strides"][1])
            self.pads[name] = (left, right, top, bottom)
        pads = self.pads[name]
        if not any(pads):
            return x
        return F.pad(x, pads, value=value)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {}
        output = image
        for layer in self.layers_spec:
            kind, name, config = layer["class_name"], layer["name"], layer["config"]
            inputs = [values[n] for n in layer["inbound"]]
            if kind == "InputLayer":
                output = image
            elif kind in ("Conv2D", "SeparableConv2D"):
                output = self.ops[name](self._padded(inputs[0], name, config, tuple(config["kernel_size"]), 0.0))
                output = apply_activation(output, config.get("activation", "linear"))
            elif kind == "BatchNormalization":
                output = inputs[0] if name in self.folded else self.ops[name](inputs[0])
            elif kind == "Activation":
                output = apply_activation(inputs[0], config["activation"])
            elif kind == "MaxPooling2D":
                pool = tuple(config["pool_size"])
                padded = self._padded(inputs[0], name, config, pool, float("-inf"))
                output = F.max_pool2d(padded, pool, tuple(config["strides"]))
            elif kind == "Add":
                output = inputs[0]
                for other in inputs[1:]:
                    output = output + other
            elif kind == "GlobalAveragePooling2D":
                output = inputs[0].mean(dim=(2, 3))
            values[name] = output
        return output


def apply_activation(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "linear":
        return x
    if activation == "relu":
        return F.relu(x)
    if activation == "softmax":
        return F.softmax(x, dim=1)
    raise ValueError(f"activation {activation} is not supported")


def convert_fer(h5_bytes: bytes) -> onnx.ModelProto:
    """ONNX `image` [N,1,64,64] -> `probabilities` [N,7] from the bytes of fer's emotion_model.hdf5."""
    with h5py.File(io.BytesIO(h5_bytes), "r") as h5:
        module = KerasGraph(h5, (64, 64))
    return export(module, torch.zeros(1, 1, 64, 64), "image", ["probabilities"])
