"""Small faces in still images: the short-range detector run over overlapping tiles of the image.

BlazeFace short-range finds a face reliably once it spans about a fifth of the detector's square input
(MIN_FACE_SHARE, measured with scripts/face_size_curve.py), whatever else is around it; full-range finds
smaller faces but scores a face on a plain background low. So for a photo in which neither model finds a
face on the whole image, the short-range model looks again at tiles in which smaller faces fill that share:
each level of tiles finds faces down to 1 / LEVEL_STEP of the smallest the level above it finds, and tiles
overlap by the largest face the level is for, so every face lies whole inside a tile. For a 640 x 480 image
that is 6 + 15 tiles down to faces a tenth of the image height. Only stills use it (core/still.py): a video
frame cannot spend ~20 detector runs on a frame without a face.
"""
from __future__ import annotations

import math

import numpy as np

from fea_ros.core.detection import FaceDetector, box_iou
from fea_ros.core.types import Detection

#: smallest share of the detector's input side at which short-range finds faces reliably (98 % at 0.2-0.23
#: on the expression-dev faces, BENCHMARKS.md "Still images and close-up faces")
MIN_FACE_SHARE = 0.22
#: each level of tiles looks for faces down to this many times smaller than the level above it
LEVEL_STEP = 1.75
#: faces are looked for down to this share of the image's shorter side (the issue's 10 %)
SMALLEST_FACE_SHARE = 0.1
#: a face found in a tile needs at least this score: ~20 tiles are ~20 chances of a false face, and
#: short-range scores faces of the size a tile is for above it (BENCHMARKS.md)
TILE_MIN_SCORE = 0.6
#: detections of the same face from different tiles: the one with the better score is kept
SAME_FACE_IOU = 0.3


def tile_windows(width: int, height: int, min_face_px: float) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) tiles, level by level, from large to small."""
    windows: list[tuple[int, int, int, int]] = []
    found_from = MIN_FACE_SHARE * max(width, height)  # faces this large are found on the whole image
    smallest = max(SMALLEST_FACE_SHARE * min(width, height), min_face_px)
    while found_from > smallest * 1.001:
        low = max(found_from / LEVEL_STEP, smallest)
        side = low / MIN_FACE_SHARE
        stride = max(side - found_from, 0.25 * side)
        windows += _grid(width, height, side, stride)
        found_from = low
    return windows


def _grid(width: int, height: int, side: float, stride: float) -> list[tuple[int, int, int, int]]:
    def starts(extent: int) -> list[int]:
        if side >= extent:
            return [0]
        count = math.ceil((extent - side) / stride) + 1
        return [int(round(v)) for v in np.linspace(0, extent - side, count)]

    size = int(round(side))
    return [(x, y, min(width, x + size), min(height, y + size)) for y in starts(height) for x in starts(width)]


def detect_in_tiles(detector: FaceDetector, image_bgr: np.ndarray) -> list[Detection]:
    """Every face ``detector`` finds in the tiles of ``image_bgr``, in image pixels, best first."""
    height, width = image_bgr.shape[:2]
    found: list[Detection] = []
    for x0, y0, x1, y1 in tile_windows(width, height, detector.config.min_face_px):
        offset = np.array([x0, y0], np.float32)
        for detection in detector.detect(image_bgr[y0:y1, x0:x1]):
            if detection.score < max(TILE_MIN_SCORE, detector.config.threshold):
                continue
            found.append(Detection(box=detection.box + np.tile(offset, 2), score=detection.score,
                                   keypoints=detection.keypoints + offset))
    found.sort(key=lambda d: -d.score)
    kept: list[Detection] = []
    for detection in found:
        if not kept or box_iou(detection.box, np.stack([k.box for k in kept])).max() <= SAME_FACE_IOU:
            kept.append(detection)
    return kept[:detector.config.max_faces]
