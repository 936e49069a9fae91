"""Stage 4: macro-expression (7 basic emotions) from two networks, mapped to one label order.

* face-api.js FaceExpressionNet: the face box (clipped to the image) zero-padded to a centred square and
  resized to 112 x 112, raw RGB 0..255 (the network subtracts its own mean).
* fer mini-Xception (FER2013): the face box plus a 10-px margin, grey, resized to 64 x 64, (x/255-0.5)*2.

Both take a batch, so all faces of a frame go through each network in one run. The ensemble is the
weighted mean of the two probability vectors (ExpressionConfig.weights); a network with weight 0 is not
loaded at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from fea_ros.core.config import ExpressionConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.types import EXPRESSION_LABELS, Expression, Landmarks
from fea_ros.inference.engine import Engine

#: fer pads its face box by this many pixels on each side (fer.FER's default offsets)
FER_MARGIN_PX = 10


@dataclass(frozen=True)
class ExpressionNet:
    """One expression network: its model, its label order and how it wants its crops."""

    model: str
    labels: tuple[str, ...]
    crop: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image_bgr, box) -> crop uint8
    to_blob: Callable[[list[np.ndarray]], np.ndarray]  # crops -> (N, C, S, S) float32

    def canonical_order(self) -> np.ndarray:
        """Column indices that reorder this net's output into EXPRESSION_LABELS order."""
        return np.array([self.labels.index(label) for label in EXPRESSION_LABELS])


def _clipped_box(box: np.ndarray, width: int, height: int, margin: float = 0.0) -> tuple[int, int, int, int]:
    """The box cut to the image, at least one pixel even for a box outside it."""
    x0 = int(min(max(0, np.floor(box[0] - margin)), width - 1))
    y0 = int(min(max(0, np.floor(box[1] - margin)), height - 1))
    x1 = int(min(width, np.ceil(box[2] + margin)))
    y1 = int(min(height, np.ceil(box[3] + margin)))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def faceapi_crop(image_bgr: np.ndarray, box: np.ndarray, size: int = 112) -> np.ndarray:
    """face-api's extractFaces + padToSquare(centred) + resize, done as one affine warp of the box."""
    height, width = image_bgr.shape[:2]
    x0, y0, x1, y1 = _clipped_box(box, width, height)
    region = image_bgr[y0:y1, x0:x1]
    side = max(x1 - x0, y1 - y0)
    scale = size / side
    pad_x = (side - (x1 - x0)) / 2.0
    pad_y = (side - (y1 - y0)) / 2.0
    matrix = np.array([[scale, 0.0, pad_x * scale + 0.5 * scale - 0.5],
                       [0.0, scale, pad_y * scale + 0.5 * scale - 0.5]])
    # Warping only the region (not the whole image) keeps the padding black, as face-api pads with zeros.
    return cv2.warpAffine(region, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def fer_crop(image_bgr: np.ndarray, box: np.ndarray, size: int = 64) -> np.ndarray:
    """fer's crop: box plus margin, black outside the image (fer pads the frame with zeros), grey."""
    x0, y0 = float(box[0]) - FER_MARGIN_PX, float(box[1]) - FER_MARGIN_PX
    sx = size / max(float(box[2] - box[0]) + 2 * FER_MARGIN_PX, 1.0)
    sy = size / max(float(box[3] - box[1]) + 2 * FER_MARGIN_PX, 1.0)
    matrix = np.array([[sx, 0.0, -x0 * sx + 0.5 * sx - 0.5], [0.0, sy, -y0 * sy + 0.5 * sy - 0.5]])
    face = cv2.warpAffine(image_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)


def faceapi_blob(crops: list[np.ndarray]) -> np.ndarray:
    return cv2.dnn.blobFromImages(crops, scalefactor=1.0, swapRB=True)


def fer_blob(crops: list[np.ndarray]) -> np.ndarray:
    return cv2.dnn.blobFromImages(crops, scalefactor=2.0 / 255.0, mean=(127.5,))


NETS: dict[str, ExpressionNet] = {
    "faceapi": ExpressionNet("faceapi_expression_112",
                             ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"),
                             faceapi_crop, faceapi_blob),
    "fer": ExpressionNet("fer_minixception_64",
                         ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral"),
                         fer_crop, fer_blob),
}


def enabled_nets(config: ExpressionConfig) -> dict[str, float]:
    """Network key -> weight for every network with a positive weight; unknown keys are an error."""
    unknown = set(config.weights) - set(NETS)
    if unknown:
        raise ConfigError(f"expression.weights has unknown network(s) {sorted(unknown)}; use {sorted(NETS)}")
    if any(w < 0 for w in config.weights.values()):
        raise ConfigError(f"expression.weights must be >= 0, got {config.weights}")
    return {key: float(w) for key, w in config.weights.items() if w > 0}


class ExpressionClassifier:
    """Runs each enabled network once per frame over all faces and fuses their probabilities."""

    def __init__(self, engines: dict[str, Engine], config: ExpressionConfig) -> None:
        self.weights = enabled_nets(config)
        if not self.weights:
            raise ConfigError(f"expression.weights {config.weights}: at least one network needs a weight > 0")
        missing = set(self.weights) - set(engines)
        if missing:
            raise ConfigError(f"no engine given for expression network(s) {sorted(missing)}")
        self.engines = {key: engines[key] for key in self.weights}
        self.input_names = {key: next(iter(e.input_shapes)) for key, e in self.engines.items()}
        self.orders = {key: NETS[key].canonical_order() for key in self.weights}

    def __call__(self, image_bgr: np.ndarray, boxes: list[np.ndarray],
                 landmarks: Sequence[Landmarks | None] | None = None) -> list[Expression]:
        if not boxes:
            return []
        per_model: dict[str, np.ndarray] = {}
        for key, engine in self.engines.items():
            net = NETS[key]
            blob = net.to_blob([net.crop(image_bgr, box) for box in boxes])
            probabilities = engine.run({self.input_names[key]: blob})["probabilities"]
            per_model[key] = probabilities.reshape(len(boxes), -1)[:, self.orders[key]]
        total = sum(self.weights.values())
        fused = sum(self.weights[key] * p for key, p in per_model.items()) / total
        fused = fused / fused.sum(axis=1, keepdims=True)
        return [Expression(probabilities=fused[i].astype(np.float64),
                           per_model={key: p[i].astype(np.float64) for key, p in per_model.items()})
                for i in range(len(boxes))]
