"""Stage 3: MediaPipe FaceMesh (v2: 478 points incl. irises; v1: 468 points) and the iBUG-68 subset.

The mesh network sees a square crop around the face, rotated so that the eyes are level, as MediaPipe
crops it (DetectionsToRectsCalculator + RectTransformationCalculator): from a detection, the box centre,
the long side x ``crop_scale`` and the angle of the line from the right-eye to the left-eye keypoint; from
the previous frame's landmarks (tracking without the detector), the same from the mesh's eye corners and
its extent. The output is mapped back to image pixels through the inverse of the crop's affine transform;
z is scaled like x and y, so it is in image pixels too, relative to the face centre.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from fea_ros.core.config import LandmarksConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.ibug68 import IBUG68_FROM_MESH
from fea_ros.core.types import Detection, Landmarks
from fea_ros.inference.engine import Engine

#: model name, crop side in px and number of points, per LandmarksConfig.model
MESH_MODELS: dict[str, tuple[str, int, int]] = {
    "v2": ("facemesh_v2_478_256", 256, 478),
    "v1": ("facemesh_v1_468_192", 192, 468),
}
#: mesh points whose line defines the roll of the face: outer corners of the right and left eye
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
#: mesh points that stand in for BlazeFace's 6 keypoints when a face is followed without the detector, two
#: per keypoint (averaged): right eye (corners), left eye (corners), nose tip, mouth centre (inner lips),
#: right and left tragion
KEYPOINT_MESH_PAIRS = np.array([(33, 133), (362, 263), (1, 1), (13, 14), (234, 234), (454, 454)], np.intp)


#: where the detector's box sits relative to the mesh's extent (x0, y0, x1, y1 offsets in units of the
#: extent's width/height), per (detector, mesh model): the mean over upright faces of the astronaut photo
#: at several positions and scales (left/right made symmetric). A face followed through its mesh gets the
#: box its detector would have drawn, and every frame's box and expression crop are measured the same way.
MESH_TO_DETECTOR_BOX: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("short", "v2"): (-0.05, 0.07, 0.05, 0.01),
    ("full", "v2"): (-0.075, -0.03, 0.075, -0.05),
    ("short", "v1"): (-0.04, 0.10, 0.04, 0.06),
    ("full", "v1"): (-0.06, 0.01, 0.06, -0.01),
}


def box_from_mesh(points: np.ndarray, detector: str) -> np.ndarray:
    """A ``detector``-style (x0, y0, x1, y1) box around the mesh (v1 or v2, told apart by point count)."""
    xy = points[:, :2]
    extent = np.concatenate([xy.min(axis=0), xy.max(axis=0)])
    size = extent[2:] - extent[:2]
    model = "v2" if len(points) == MESH_MODELS["v2"][2] else "v1"
    return extent + np.asarray(MESH_TO_DETECTOR_BOX[detector, model]) * np.concatenate([size, size])


def mesh_model(name: str) -> tuple[str, int, int]:
    if name not in MESH_MODELS:
        raise ConfigError(f"landmarks.model is '{name}'; use one of {', '.join(MESH_MODELS)}")
    return MESH_MODELS[name]


@dataclass(frozen=True)
class Roi:
    """A square region of the image, rotated by ``angle`` (radians, image y down, clockwise positive)."""

    cx: float
    cy: float
    size: float
    angle: float

    def crop_to_image(self, crop_px: int) -> np.ndarray:
        """2x3 affine from crop pixel-edge coordinates (0..crop_px) to image pixel-edge coordinates."""
        k = self.size / crop_px
        cos, sin = math.cos(self.angle) * k, math.sin(self.angle) * k
        half = crop_px / 2.0
        return np.array([[cos, -sin, self.cx - cos * half + sin * half],
                         [sin, cos, self.cy - sin * half - cos * half]])


def roll_angle(right_eye: np.ndarray, left_eye: np.ndarray) -> float:
    """Angle of the right-eye -> left-eye line; 0 for an upright face (the left eye is to the right)."""
    return math.atan2(float(left_eye[1] - right_eye[1]), float(left_eye[0] - right_eye[0]))


def roi_from_detection(detection: Detection, crop_scale: float) -> Roi:
    box = detection.box
    side = max(float(box[2] - box[0]), float(box[3] - box[1])) * crop_scale
    angle = roll_angle(detection.keypoints[0], detection.keypoints[1])
    return Roi(float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2, side, angle)


def roi_from_landmarks(points: np.ndarray, crop_scale: float) -> Roi:
    """The next frame's crop from this frame's mesh: its extent measured in the eye-aligned frame.

    Measuring along the face's own axes keeps the crop the same size when the head rolls; an axis-aligned
    box of a rolled face would grow and shrink the crop with the angle.
    """
    angle = roll_angle(points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER])
    cos, sin = math.cos(angle), math.sin(angle)
    xy = points[:, :2]
    u = xy[:, 0] * cos + xy[:, 1] * sin
    v = -xy[:, 0] * sin + xy[:, 1] * cos
    u0, u1, v0, v1 = float(u.min()), float(u.max()), float(v.min()), float(v.max())
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    side = max(u1 - u0, v1 - v0) * crop_scale
    return Roi(cu * cos - cv * sin, cu * sin + cv * cos, side, angle)


def keypoints_from_mesh(points: np.ndarray) -> np.ndarray:
    """(6, 2) BlazeFace-style keypoints taken from the mesh."""
    pairs = points[KEYPOINT_MESH_PAIRS, :2]
    return (pairs[:, 0] + pairs[:, 1]) * 0.5


class FaceMesh:
    """Runs the mesh network on face crops and returns landmarks in image pixels.

    ``many`` puts all faces of a frame through the network in one call when the model has a dynamic batch
    axis (the shipped ONNX files do) and the engine is not ONNX Runtime on the CPU; otherwise once per face.
    """

    def __init__(self, engine: Engine, config: LandmarksConfig) -> None:
        self.config = config
        self.model_name, self.crop_px, self.num_points = mesh_model(config.model)
        self.engine = engine
        self.input_name = next(iter(engine.input_shapes))
        expected = (1, 3, self.crop_px, self.crop_px)
        # only channels and size: a backend may report the batch axis as dynamic (-1)
        if tuple(engine.input_shapes[self.input_name])[1:] != expected[1:]:
            raise ConfigError(f"landmarks model '{config.model}' expects input {expected}, "
                              f"{engine.name} has {engine.input_shapes[self.input_name]}")
        # One call for all faces where the model has a batch axis, except on ONNX Runtime's CPU provider: there
        # a batch of 3 mesh crops took 7-15 % more CPU time than 3 calls of one (the batch's activations
        # leave the cache; BENCHMARKS.md "Speed, round 2"), while a GPU saves the per-call launch cost.
        cpu_only = list(getattr(engine, "providers", []) or []) == ["CPUExecutionProvider"]
        self.batched = engine.input_shapes[self.input_name][0] == -1 and not cpu_only
        self._crops: list[np.ndarray] = []  # reused warp targets, one per face slot

    def _warp(self, image_bgr: np.ndarray, roi: Roi, slot: int) -> np.ndarray:
        """The BGR uint8 crop for ``roi`` into the reusable buffer ``slot``; outside the image is black."""
        while len(self._crops) <= slot:
            self._crops.append(np.zeros((self.crop_px, self.crop_px, 3), np.uint8))
        to_image = roi.crop_to_image(self.crop_px)
        # warpAffine samples at pixel centres: shift the edge-based transform by half a pixel on both sides.
        centre_based = to_image.copy()
        centre_based[:, 2] += 0.5 * (to_image[:, 0] + to_image[:, 1]) - 0.5
        return cv2.warpAffine(image_bgr, centre_based, (self.crop_px, self.crop_px), dst=self._crops[slot],
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)

    def crop(self, image_bgr: np.ndarray, roi: Roi) -> np.ndarray:
        """The network input (1, 3, S, S) RGB 0..1 for ``roi``; outside the image is black."""
        return self.crops(image_bgr, [roi])

    def crops(self, image_bgr: np.ndarray, rois: list[Roi]) -> np.ndarray:
        """The network input (N, 3, S, S) RGB 0..1 for every roi, in one blob (one colour conversion pass)."""
        warped = [self._warp(image_bgr, roi, slot) for slot, roi in enumerate(rois)]
        return cv2.dnn.blobFromImages(warped, scalefactor=1.0 / 255.0, swapRB=True)

    def __call__(self, image_bgr: np.ndarray, roi: Roi) -> Landmarks:
        return self.many(image_bgr, [roi])[0]

    def many(self, image_bgr: np.ndarray, rois: list[Roi]) -> list[Landmarks]:
        """Landmarks for every roi of one image, in the order given."""
        if not rois:
            return []
        blob = self.crops(image_bgr, rois)
        if self.batched or len(rois) == 1:
            outputs = self.engine.run({self.input_name: blob})
            raw_all = outputs["landmarks"].reshape(len(rois), self.num_points, 3)
            logits = outputs["presence"].reshape(len(rois), -1)[:, 0]
        else:  # per face: ONNX Runtime on the CPU, or a fixed-batch model
            runs = [self.engine.run({self.input_name: blob[i:i + 1]}) for i in range(len(rois))]
            raw_all = np.stack([r["landmarks"].reshape(self.num_points, 3) for r in runs])
            logits = np.array([r["presence"].reshape(-1)[0] for r in runs])
        return [self._to_image(raw, float(logit), roi) for raw, logit, roi in zip(raw_all, logits, rois)]

    def _to_image(self, raw_crop: np.ndarray, logit: float, roi: Roi) -> Landmarks:
        raw = raw_crop.astype(np.float64)
        to_image = roi.crop_to_image(self.crop_px)
        points = np.empty_like(raw)
        points[:, :2] = raw[:, :2] @ to_image[:, :2].T + to_image[:, 2]
        points[:, 2] = raw[:, 2] * (roi.size / self.crop_px)
        presence = 1.0 / (1.0 + math.exp(-float(np.clip(logit, -100.0, 100.0))))
        return Landmarks(points=points, presence=presence, ibug68=points[IBUG68_FROM_MESH, :2])
