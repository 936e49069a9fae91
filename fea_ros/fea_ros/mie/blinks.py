"""What the spotter reads of blinks: the eyes' aspect ratio from the mesh, and how much more a brow must move near
a blink (the lid pulls on the brow above it).
"""
from __future__ import annotations

import numpy as np

from fea_ros.mie.track import BLINK_BROW_FACTOR, BROW_MASK

#: FaceMesh eye-aspect-ratio points: corner, upper, upper, corner, lower, lower
EAR_POINTS = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
_BLINK_SCALE = np.where(BROW_MASK, BLINK_BROW_FACTOR, 1.0)


def eye_aspect_ratio(points_xy: np.ndarray) -> float:
    """The smaller of the two eyes' lid gap over eye width (Soukupova and Cech's EAR) from FaceMesh points."""
    ratios = []
    for p1, p2, p3, p4, p5, p6 in EAR_POINTS:
        width = np.linalg.norm(points_xy[p1] - points_xy[p4])
        height = np.linalg.norm(points_xy[p2] - points_xy[p6]) + np.linalg.norm(points_xy[p3] - points_xy[p5])
        ratios.append(height / (2.0 * width) if width > 0 else 0.0)
    return float(min(ratios))


def blink_scale(raw: np.ndarray, corrected: np.ndarray) -> np.ndarray:
    """(C,) threshold factor per channel near a blink, from the channel vectors before and after the lid's pull on
    the brows was taken out (crop y grows downwards).

    A closing or reopening lid is below its open-eye reference, so it only ever drags the brow above it *down*:
    a brow channel that went up in DIS's own flow as well as after the correction is the brow's own raise (AU1,
    AU1+2) and needs the plain threshold. A brow going down (the lid's pull, or an AU4 next to it), or one that
    only went up once the pull was subtracted (the subtraction overshooting), needs ``BLINK_BROW_FACTOR`` times.
    """
    up = (raw[:, 1] < 0) & (corrected[:, 1] < 0)
    return np.where(up, 1.0, _BLINK_SCALE)
