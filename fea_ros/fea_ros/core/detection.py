"""Stage 1: BlazeFace face detection (MediaPipe's short- and full-range models).

Post-processing follows MediaPipe's face_detection graphs: SSD anchors of fixed size (SsdAnchorsCalculator),
box and 6 keypoints decoded relative to the anchor centre (TensorsToDetectionsCalculator), scores are the
sigmoid of clipped logits, and overlapping boxes are merged by WEIGHTED non-max suppression
(NonMaxSuppressionCalculator), which averages the cluster instead of keeping only its best member. That
averaging is what makes the box stable from frame to frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fea_ros.core.config import DetectionConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.types import Detection
from fea_ros.inference.engine import Engine

#: MediaPipe clips logits to this before the sigmoid (score_clipping_thresh).
SCORE_CLIP = 100.0
NUM_KEYPOINTS = 6


@dataclass(frozen=True)
class DetectorSpec:
    """What differs between the two BlazeFace models."""

    model: str
    input_size: int
    #: (stride, anchors per cell) per feature map, in the order the network emits them
    layers: tuple[tuple[int, int], ...]


#: short-range: strides 8, 16, 16, 16 with one anchor plus one interpolated per layer -> 16x16x2 + 8x8x6 = 896
#: full-range: one layer of stride 4 without the interpolated anchor -> 48x48x1 = 2304
DETECTORS: dict[str, DetectorSpec] = {
    "short": DetectorSpec("blazeface_short_128", 128, ((8, 2), (16, 6))),
    "full": DetectorSpec("blazeface_full_192", 192, ((4, 1),)),
}


#: detection.fallback_detector value that turns the fallback off
NO_FALLBACK = "none"
#: the fallback also runs where the best face found scores below this: in a close-up the full-range model can
#: score a false face elsewhere just above the threshold (0.54-0.59 on skimage's cameraman) and miss the real
#: one; the bundled clips' faces score higher, so `fea-ros bench` never calls the fallback
FALLBACK_BELOW_SCORE = 0.65


def detector_spec(name: str, setting: str = "detection.detector") -> DetectorSpec:
    if name not in DETECTORS:
        raise ConfigError(f"{setting} is '{name}'; use one of {', '.join(DETECTORS)}")
    return DETECTORS[name]


def fallback_spec(config: DetectionConfig) -> DetectorSpec | None:
    """The model to run where the configured detector finds no face; None when there is none to run."""
    name = config.fallback_detector
    if name == NO_FALLBACK or name == config.detector:
        return None
    return detector_spec(name, f"detection.fallback_detector ('{NO_FALLBACK}' turns it off)")


def ssd_anchor_centres(input_size: int, layers: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(N, 2) anchor centres in 0..1 of the square input, in the network's output order.

    With fixed_anchor_size every anchor is 1 x 1, so only the centres matter; anchors of one cell share
    their centre ((col + 0.5) / cols, (row + 0.5) / rows) and are emitted row-major, anchor index fastest.
    """
    centres = []
    for stride, per_cell in layers:
        cells = int(np.ceil(input_size / stride))
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) x0,y0,x1,y1 box with each of (N, 4) boxes."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float,
                 max_count: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster becomes the score-weighted mean of its members.

    The best remaining box seeds a cluster of every remaining box whose IoU with it exceeds the
    threshold (itself included); box and keypoints are averaged with the members' scores as weights,
    and the cluster keeps the seed's score. Returns (box, keypoints, score) tuples, best first.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    merged: list[tuple[np.ndarray, np.ndarray, float]] = []
    while remaining.size and len(merged) < max_count:
        seed = remaining[0]
        overlap = box_iou(boxes[seed], boxes[remaining]) > iou_threshold
        overlap[0] = True
        members = remaining[overlap]
        weights = scores[members]
        total = float(weights.sum())
        box = (boxes[members] * weights[:, None]).sum(axis=0) / total
        points = (keypoints[members] * weights[:, None, None]).sum(axis=0) / total
        merged.append((box, points, float(scores[seed])))
        remaining = remaining[~overlap]
    return merged


class FaceDetector:
    """BlazeFace on a letterboxed square copy of the image; detections in image pixels.

    ``fallback`` (another model, detection.fallback_detector) runs only where this one finds no face, or
    none scoring FALLBACK_BELOW_SCORE: the full-range model misses faces that fill most of its input
    (close-ups, face photos), which the short-range model finds; frames with a clear face pay nothing.
    """

    def __init__(self, engine: Engine, config: DetectionConfig, spec: DetectorSpec | None = None,
                 fallback: FaceDetector | None = None) -> None:
        self.config = config
        self.spec = spec or detector_spec(config.detector)
        self.fallback = fallback
        self.engine = engine
        self.input_name = next(iter(engine.input_shapes))
        size = self.spec.input_size
        expected = (1, 3, size, size)
        # only channels and size: a backend may report the batch axis as dynamic (-1)
        if tuple(engine.input_shapes[self.input_name])[1:] != expected[1:]:
            raise ConfigError(f"detector '{self.spec.model}' expects a model with input {expected}, "
                              f"{engine.name} has {engine.input_shapes[self.input_name]}")
        self.anchors = ssd_anchor_centres(size, self.spec.layers)
        self._canvas = np.zeros((size, size, 3), np.uint8)

    def letterbox(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The square network input (NCHW, RGB, -1..1) and the scale and padding that map it back."""
        size = self.spec.input_size
        height, width = image_bgr.shape[:2]
        scale = size / max(height, width)
        pad_x = (size - width * scale) / 2.0
        pad_y = (size - height * scale) / 2.0
        # One warpAffine resizes and pads (black border, as MediaPipe's letterbox) into the reused canvas.
        matrix = np.array([[scale, 0.0, pad_x + 0.5 * scale - 0.5], [0.0, scale, pad_y + 0.5 * scale - 0.5]])
        cv2.warpAffine(image_bgr, matrix, (size, size), dst=self._canvas, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        blob = cv2.dnn.blobFromImage(self._canvas, scalefactor=1.0 / 127.5, mean=(127.5, 127.5, 127.5),
                                     swapRB=True)
        return blob, scale, pad_x, pad_y

    def decode(self, regressors: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) and keypoints (N, 6, 2) in 0..1 of the square input, and scores, above threshold."""
        logits = logits.reshape(-1)
        threshold = min(max(self.config.threshold, 1e-6), 1 - 1e-6)
        # Comparing logits avoids a sigmoid over every anchor: sigmoid(x) > t  <=>  x > logit(t).
        keep = np.flatnonzero(logits > np.log(threshold / (1.0 - threshold)))
        raw = regressors.reshape(-1, 16)[keep] / np.float32(self.spec.input_size)
        centres = self.anchors[keep]
        cx = raw[:, 0] + centres[:, 0]
        cy = raw[:, 1] + centres[:, 1]
        half_w = raw[:, 2] / 2
        half_h = raw[:, 3] / 2
        boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
        keypoints = raw[:, 4:16].reshape(-1, NUM_KEYPOINTS, 2) + centres[:, None, :]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[keep], -SCORE_CLIP, SCORE_CLIP)))
        return boxes, keypoints, scores

    def __call__(self, image_bgr: np.ndarray) -> list[Detection]:
        detections = self.detect(image_bgr)
        if self.fallback is None or (detections and detections[0].score >= FALLBACK_BELOW_SCORE):
            return detections
        return self._merge(detections + self.fallback(image_bgr))

    def _merge(self, detections: list[Detection]) -> list[Detection]:
        """Best first; a detection overlapping a better one (IoU above nms_iou) is the same face. Only the
        overlap counts: a weak, too large box of one model can hold the centre of the other's right one."""
        kept: list[Detection] = []
        for detection in sorted(detections, key=lambda d: -d.score):
            if not kept or box_iou(detection.box, np.stack([k.box for k in kept])).max() <= self.config.nms_iou:
                kept.append(detection)
        return kept[:self.config.max_faces]

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """This model's detections alone (no fallback)."""
        blob, scale, pad_x, pad_y = self.letterbox(image_bgr)
        outputs = self.engine.run({self.input_name: blob})
        boxes, keypoints, scores = self.decode(outputs["regressors"], outputs["scores"])
        if scores.size == 0:
            return []
        merged = weighted_nms(boxes, keypoints, scores, self.config.nms_iou, max(len(scores), 1))
        size = float(self.spec.input_size)
        offset = np.array([pad_x, pad_y], np.float32)
        detections: list[Detection] = []
        for box, points, score in merged:
            box_px = (box.reshape(2, 2) * size - offset) / scale
            if float((box_px[1] - box_px[0]).max()) < self.config.min_face_px:
                continue
            points_px = (points * size - offset) / scale
            detections.append(Detection(box=box_px.reshape(4), score=score, keypoints=points_px))
            if len(detections) >= self.config.max_faces:
                break
        return detections


def covered_fractions(boxes: list[np.ndarray]) -> list[float]:
    """For each (x0, y0, x1, y1) box, the largest share of its area that any other box overlaps."""
    covered = [0.0] * len(boxes)
    for i, a in enumerate(boxes):
        area = max(1e-9, float((a[2] - a[0]) * (a[3] - a[1])))
        for j, b in enumerate(boxes):
            if i != j:
                width = min(a[2], b[2]) - max(a[0], b[0])
                height = min(a[3], b[3]) - max(a[1], b[1])
                if width > 0 and height > 0:
                    covered[i] = max(covered[i], float(width * height) / area)
    return covered
