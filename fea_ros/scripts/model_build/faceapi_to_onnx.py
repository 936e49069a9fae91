"""face-api.js FaceExpressionNet / FaceLandmark68Net (tfjs uint8-quantised shards) -> torch -> ONNX.

The nets are rebuilt from face-api's source (src/faceFeatureExtractor/denseBlock.ts, FaceFeatureExtractor.ts,
faceProcessor/FaceProcessor.ts): four dense blocks of depthwise-separable convs, a 7x7 average pool and one
fully connected layer. Weights are dequantised as tfjs does (q * scale + min). The mean-RGB subtraction and
/255 scaling live inside the graph, so the ONNX input is the raw 0..255 RGB crop.
"""
from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from model_build.torch_export import export

MEAN_RGB = (122.782, 117.001, 104.298)
INPUT_SIZE = 112
MODEL_DIR = "package/model"
DTYPES = {"float32": (np.float32, 4), "int32": (np.int32, 4), "uint8": (np.uint8, 1), "uint16": (np.uint16, 2)}


def decode_weights(manifest: list[dict], shards: Callable[[str], bytes]) -> dict[str, np.ndarray]:
    """tfjs weights manifest + binary shards -> float32 arrays (as tf.io.decodeWeights)."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join(shards(path) for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            quantization = spec.get("quantization")
            stored = quantization["dtype"] if quantization else spec["dtype"]
            dtype, size = DTYPES[stored]
            raw = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
            offset += count * size
            if quantization:
                if "min" not in quantization:
                    raise ValueError(f"{spec['name']}: only min/scale (affine) quantisation is supported")
                values = raw.astype(np.float32) * np.float32(quantization["scale"]) + np.float32(quantization["min"])
            else:
                values = raw.astype(np.float32)
            weights[spec["name"]] = values.reshape(spec["shape"])
        if offset != len(data):
            raise ValueError(f"weights manifest describes {offset} bytes, shards hold {len(data)}")
    return weights


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


class SeparableConv(nn.Module):
    """tf.separableConv2d(x, depthwise, pointwise, stride, 'same') + bias."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str, stride: int) -> None:
        super().__init__()
        depthwise = weights[f"{prefix}/depthwise_filter"]  # kh, kw, cin, 1
        pointwise = weights[f"{prefix}/pointwise_filter"]  # 1, 1, cin, cout
        channels = depthwise.shape[2]
        self.stride = stride
        self.depthwise = nn.Conv2d(channels, channels, 3, stride=stride, groups=channels, bias=False,
                                   padding=1 if stride == 1 else 0)
        self.depthwise.weight.data.copy_(_tensor(depthwise.transpose(2, 3, 0, 1)))
        self.pointwise = nn.Conv2d(channels, pointwise.shape[3], 1)
        self.pointwise.weight.data.copy_(_tensor(pointwise.transpose(3, 2, 0, 1)))
        self.pointwise.bias.data.copy_(_tensor(weights[f"{prefix}/bias"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            x = F.pad(x, (0, 1, 0, 1))  # TF 'SAME' with stride 2 on an even size pads only after
        return self.pointwise(self.depthwise(x))


class DenseBlock4(nn.Module):
    """denseBlock4 of face-api: out1..out4 with dense (summed) connections, relu after each sum."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str, first: bool) -> None:
        super().__init__()
        self.first = first
        if first:
            filters = weights[f"{prefix}/conv0/filters"]  # kh, kw, cin, cout
            self.conv0 = nn.Conv2d(filters.shape[2], filters.shape[3], 3, stride=2)
            self.conv0.weight.data.copy_(_tensor(filters.transpose(3, 2, 0, 1)))
            self.conv0.bias.data.copy_(_tensor(weights[f"{prefix}/conv0/bias"]))
        else:
            self.conv0 = SeparableConv(weights, f"{prefix}/conv0", 2)
        self.conv1 = SeparableConv(weights, f"{prefix}/conv1", 1)
        self.conv2 = SeparableConv(weights, f"{prefix}/conv2", 1)
        self.conv3 = SeparableConv(weights, f"{prefix}/conv3", 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(F.pad(x, (0, 1, 0, 1)) if self.first else x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + (out2 + out3)))
        return F.relu(out1 + (out2 + (out3 + out4)))


class FaceProcessorNet(nn.Module):
    """FaceFeatureExtractor + FaceProcessor's fully connected head (+ softmax for expressions)."""

    def __init__(self, weights: dict[str, np.ndarray], softmax: bool) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_RGB, dtype=torch.float32).reshape(1, 3, 1, 1))
        self.blocks = nn.Sequential(*[DenseBlock4(weights, f"dense{i}", i == 0) for i in range(4)])
        fc = weights["fc/weights"]  # cin, cout
        self.fc = nn.Linear(fc.shape[0], fc.shape[1])
        self.fc.weight.data.copy_(_tensor(fc.T))
        self.fc.bias.data.copy_(_tensor(weights["fc/bias"]))
        self.softmax = softmax

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.blocks((image - self.mean) / 255.0)
        x = F.avg_pool2d(x, 7, 2).flatten(1)
        x = self.fc(x)
        return F.softmax(x, dim=1) if self.softmax else x


def load_net(read: Callable[[str], bytes], model: str, softmax: bool) -> FaceProcessorNet:
    manifest = json.loads(read(f"{MODEL_DIR}/{model}-weights_manifest.json"))
    weights = decode_weights(manifest, lambda path: read(f"{MODEL_DIR}/{path}"))
    return FaceProcessorNet(weights, softmax).eval()


def convert_expression(read: Callable[[str], bytes]) -> onnx.ModelProto:
    net = load_net(read, "face_expression_model", softmax=True)
    return export(net, torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE), "image", ["probabilities"])


def convert_landmark68(read: Callable[[str], bytes]) -> onnx.ModelProto:
    net = load_net(read, "face_landmark_68_model", softmax=False)
    return export(net, torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE), "image", ["landmarks"])
