"""Stage 4: macro-expression (7 basic emotions) from two networks, mapped to one label order.

Crops (``expression.aligned_crops``, the default, where the face mesh found the face; docs/expression.md):

* face-api.js FaceExpressionNet: face-api's own "aligned rect" (the box of the 68 landmarks, widened by 20 %,
  FaceLandmarks.align's minBoxPadding) taken in the eye-levelled frame, zero-padded to a centred square,
  112 x 112 raw RGB 0..255 (the network subtracts its own mean).
* fer mini-Xception (FER2013, whose faces are registered squares from brow to chin): a square of 1.2 x the
  68 landmarks' extent, centred 10 % of the face height above their centre, eye-levelled, grey, 64 x 64,
  (x/255-0.5)*2.

Without landmarks (or with aligned_crops off) the crops come from the face box as fer and face-api cut them
from a detector box: face-api pads the box to a square, fer adds a 10-px margin.
``expression.flip_average`` lists networks that also see the mirror image of the crop; their probabilities
are the mean of the two. All faces of a frame (and their mirror images) go through a network in one run.

Fusion (``expression.fusion``): "fitted" (default) is the calibrated log-linear combiner of
core/expression_fusion.py, fitted on labelled faces; where the pipeline's blendshape stage gave a face its 52
coefficients, a second fitted combiner also reads those (they are already computed, so they add no network
run); "mean" is the weighted mean of the probability vectors (ExpressionConfig.weights). A network with
weight 0 is not loaded at all.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from fea_ros.core.config import ExpressionConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.expression_fusion import N_BLENDSHAPES, Fusion, fuse
from fea_ros.core.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, Roi, roll_angle
from fea_ros.core.types import EXPRESSION_LABELS, Expression, Landmarks
from fea_ros.inference.engine import Engine

#: fer pads its face box by this many pixels on each side (fer.FER's default offsets)
FER_MARGIN_PX = 10
#: face-api widens the landmarks' box by this fraction of its width/height (FaceLandmarks.align, minBoxPadding)
FACEAPI_BOX_PADDING = 0.2
#: fer's aligned square: side = this x the landmarks' larger extent, centre moved up by FER_RAISE x the height
#: (chosen on the dev set among 1.0..1.35 and 0..0.1, docs/expression.md)
FER_SIDE = 1.2
FER_RAISE = 0.1
FUSIONS = ("fitted", "mean")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpressionNet:
    """One expression network: its model, its label order and how it wants its crops."""

    model: str
    labels: tuple[str, ...]
    crop: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image_bgr, box) -> crop uint8
    to_blob: Callable[[list[np.ndarray]], np.ndarray]  # crops -> (N, C, S, S) float32
    aligned_crop: Callable[[np.ndarray, Landmarks], np.ndarray]  # (image_bgr, landmarks) -> crop uint8

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


def _warp_square(image_bgr: np.ndarray, roi: Roi, size: int) -> np.ndarray:
    """The rotated square ``roi`` as a size x size crop, black outside the image."""
    to_image = roi.crop_to_image(size)
    centre_based = to_image.copy()  # warpAffine samples pixel centres; the Roi maps pixel edges
    centre_based[:, 2] += 0.5 * (to_image[:, 0] + to_image[:, 1]) - 0.5
    return cv2.warpAffine(image_bgr, centre_based, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def eye_levelled_extent(landmarks: Landmarks) -> tuple[float, float, float, float, float]:
    """(angle, u0, u1, v0, v1): the roll of the eye line and the 68 landmarks' extent along the face's axes."""
    angle = roll_angle(landmarks.points[RIGHT_EYE_OUTER], landmarks.points[LEFT_EYE_OUTER])
    cos, sin = math.cos(angle), math.sin(angle)
    xy = landmarks.ibug68
    u = xy[:, 0] * cos + xy[:, 1] * sin
    v = -xy[:, 0] * sin + xy[:, 1] * cos
    return angle, float(u.min()), float(u.max()), float(v.min()), float(v.max())


def _roi(angle: float, cu: float, cv: float, side: float) -> Roi:
    cos, sin = math.cos(angle), math.sin(angle)
    return Roi(cu * cos - cv * sin, cu * sin + cv * cos, side, angle)


def faceapi_aligned_crop(image_bgr: np.ndarray, landmarks: Landmarks, size: int = 112) -> np.ndarray:
    """face-api's aligned rect (landmark box + 20 %), eye-levelled, padded to a centred square."""
    angle, u0, u1, v0, v1 = eye_levelled_extent(landmarks)
    side = max(u1 - u0, v1 - v0) * (1.0 + FACEAPI_BOX_PADDING)
    return _warp_square(image_bgr, _roi(angle, (u0 + u1) / 2, (v0 + v1) / 2, side), size)


def fer_aligned_crop(image_bgr: np.ndarray, landmarks: Landmarks, size: int = 64) -> np.ndarray:
    """A FER2013-like square (brow to chin), eye-levelled, grey."""
    angle, u0, u1, v0, v1 = eye_levelled_extent(landmarks)
    side = max(u1 - u0, v1 - v0) * FER_SIDE
    face = _warp_square(image_bgr, _roi(angle, (u0 + u1) / 2, (v0 + v1) / 2 - FER_RAISE * (v1 - v0), side), size)
    return cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)


def faceapi_blob(crops: list[np.ndarray]) -> np.ndarray:
    return cv2.dnn.blobFromImages(crops, scalefactor=1.0, swapRB=True)


def fer_blob(crops: list[np.ndarray]) -> np.ndarray:
    return cv2.dnn.blobFromImages(crops, scalefactor=2.0 / 255.0, mean=(127.5,))


NETS: dict[str, ExpressionNet] = {
    "faceapi": ExpressionNet("faceapi_expression_112",
                             ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"),
                             faceapi_crop, faceapi_blob, faceapi_aligned_crop),
    "fer": ExpressionNet("fer_minixception_64",
                         ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral"),
                         fer_crop, fer_blob, fer_aligned_crop),
}


def enabled_nets(config: ExpressionConfig) -> dict[str, float]:
    """Network key -> weight for every network with a positive weight; unknown keys are an error."""
    unknown = set(config.weights) - set(NETS)
    if unknown:
        raise ConfigError(f"expression.weights has unknown network(s) {sorted(unknown)}; use {sorted(NETS)}")
    if any(w < 0 for w in config.weights.values()):
        raise ConfigError(f"expression.weights must be >= 0, got {config.weights}")
    return {key: float(w) for key, w in config.weights.items() if w > 0}


def flip_networks(config: ExpressionConfig) -> tuple[str, ...]:
    """The networks named in expression.flip_average (comma-separated); unknown names are an error."""
    names = tuple(n.strip() for n in config.flip_average.split(",") if n.strip())
    unknown = set(names) - set(NETS)
    if unknown:
        raise ConfigError(f"expression.flip_average names unknown network(s) {sorted(unknown)}; use a comma-"
                          f"separated list of {sorted(NETS)}, or '' for none")
    return names


class ExpressionClassifier:
    """Runs each enabled network once per frame over all faces and fuses their probabilities.

    ``fusion`` combines the networks alone; ``fusion_blendshapes`` (optional) also reads the face's 52
    blendshape coefficients and is used for every face that has them (the pipeline's blendshape stage ran);
    the other faces get ``fusion``."""

    def __init__(self, engines: dict[str, Engine], config: ExpressionConfig, fusion: Fusion | None = None,
                 fusion_blendshapes: Fusion | None = None) -> None:
        self.weights = enabled_nets(config)
        if not self.weights:
            raise ConfigError(f"expression.weights {config.weights}: at least one network needs a weight > 0")
        missing = set(self.weights) - set(engines)
        if missing:
            raise ConfigError(f"no engine given for expression network(s) {sorted(missing)}")
        if config.fusion not in FUSIONS:
            raise ConfigError(f"expression.fusion is '{config.fusion}'; use one of {', '.join(FUSIONS)}")
        self.flip = flip_networks(config)
        self.aligned = config.aligned_crops
        self.fusion = self._usable(fusion) if config.fusion == "fitted" else None
        self.fusion_blendshapes = self._usable(fusion_blendshapes) if self.fusion is not None else None
        if config.fusion == "fitted" and fusion is None:
            raise ConfigError("expression.fusion 'fitted' needs the fusion file (models/expression_fusion_*.json)")
        if fusion_blendshapes is not None and not fusion_blendshapes.blendshapes:
            raise ConfigError("the expression fusion given for faces with blendshapes was fitted without them")
        if fusion is not None and fusion.blendshapes:
            raise ConfigError("the expression fusion given for faces without blendshapes was fitted with them: "
                              "the networks-only file (models/expression_fusion_<mirror>.json) is needed there")
        self.engines = {key: engines[key] for key in self.weights}
        self.input_names = {key: next(iter(e.input_shapes)) for key, e in self.engines.items()}
        self.orders = {key: NETS[key].canonical_order() for key in self.weights}

    def _usable(self, fusion: Fusion | None) -> Fusion | None:
        """The fusion, or None (with a warning) when it combines other networks than the enabled ones."""
        if fusion is None:
            return None
        if set(fusion.networks) != set(self.weights):
            # a network switched off for speed is a normal setting, not an error: fall back to the mean
            log.warning("the fitted expression fusion combines %s, but the enabled networks are %s: using the "
                        "weighted mean of expression.weights instead (set expression.fusion to 'mean' to "
                        "silence this)", sorted(fusion.networks), sorted(self.weights))
            return None
        if (tuple(sorted(fusion.flip_average)), fusion.aligned_crops) != (tuple(sorted(self.flip)), self.aligned):
            log.warning("the expression fusion was fitted with aligned_crops=%s, flip_average=%s, but the "
                        "stage runs with aligned_crops=%s, flip_average=%s: its probabilities may be off",
                        fusion.aligned_crops, ",".join(fusion.flip_average), self.aligned, ",".join(self.flip))
        return fusion

    def _crops(self, key: str, image_bgr: np.ndarray, boxes: list[np.ndarray],
               landmarks: Sequence[Landmarks | None]) -> list[np.ndarray]:
        net = NETS[key]
        crops = [net.aligned_crop(image_bgr, marks) if self.aligned and marks is not None else net.crop(image_bgr, box)
                 for box, marks in zip(boxes, landmarks)]
        if key in self.flip:
            crops += [np.ascontiguousarray(crop[:, ::-1]) for crop in crops]
        return crops

    def networks(self, image_bgr: np.ndarray, boxes: list[np.ndarray],
                 landmarks: Sequence[Landmarks | None] | None = None) -> dict[str, np.ndarray]:
        """Each enabled network's (N, 7) probabilities (EXPRESSION_LABELS order) for the N boxes: the costly
        part of the stage, one network run per network for all faces (and their mirror images)."""
        marks: Sequence[Landmarks | None] = landmarks if landmarks is not None else [None] * len(boxes)
        if len(marks) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(marks)} landmark sets")
        per_model: dict[str, np.ndarray] = {}
        for key, engine in self.engines.items():
            net = NETS[key]
            blob = net.to_blob(self._crops(key, image_bgr, boxes, marks))
            probabilities = engine.run({self.input_names[key]: blob})["probabilities"]
            probabilities = probabilities.reshape(len(blob), -1)[:, self.orders[key]].astype(np.float64)
            if key in self.flip:  # the crops, then their mirror images
                probabilities = 0.5 * (probabilities[:len(boxes)] + probabilities[len(boxes):])
            per_model[key] = probabilities
        return per_model

    def fuse(self, per_model: dict[str, np.ndarray],
             blendshapes: Sequence[np.ndarray | None] | None = None) -> list[Expression]:
        """One Expression per face from networks()' output; ``blendshapes`` (one (52,) array per face, None
        where a face has none) go to the blendshape fusion where there is one."""
        if not per_model:  # no face in the frame
            return []
        count = len(next(iter(per_model.values())))
        shapes: Sequence[np.ndarray | None] = blendshapes if blendshapes is not None else [None] * count
        if len(shapes) != count:
            raise ValueError(f"{count} faces but {len(shapes)} blendshape sets")
        fused: np.ndarray
        if self.fusion is not None:
            # a face without blendshapes, or whose blendshapes are not finite (a broken mesh), gets the fusion
            # without them
            missing = np.full(N_BLENDSHAPES, np.nan)
            rows = (np.stack([missing if s is None else np.asarray(s, float) for s in shapes])
                    if self.fusion_blendshapes is not None else None)
            fused = fuse(self.fusion, self.fusion_blendshapes, per_model, rows)
        else:
            total = sum(self.weights.values())
            mean = np.sum([self.weights[key] * p for key, p in per_model.items()], axis=0) / total
            fused = mean / mean.sum(axis=1, keepdims=True)
        return [Expression(probabilities=fused[i], per_model={key: p[i] for key, p in per_model.items()})
                for i in range(count)]

    def __call__(self, image_bgr: np.ndarray, boxes: list[np.ndarray],
                 landmarks: Sequence[Landmarks | None] | None = None,
                 blendshapes: Sequence[np.ndarray | None] | None = None) -> list[Expression]:
        """``landmarks`` (one per box, None where the mesh lost the face) give the aligned crops; ``blendshapes``
        (one per box, None where there are none) the blendshape fusion's extra evidence."""
        if not boxes:
            return []
        return self.fuse(self.networks(image_bgr, boxes, landmarks), blendshapes)
