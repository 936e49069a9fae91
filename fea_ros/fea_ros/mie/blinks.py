"""What the spotter reads of blinks: when the eyes close (their aspect ratio from the mesh, or the blink action unit),
which frames then are no reference, how much more a brow must move near a blink, and what is left of a brow
movement as a blink drags the brow (the lid pulls on the brow above it).
"""
from __future__ import annotations

import numpy as np

from fea_ros.core.types import ActionUnits
from fea_ros.mie.track import BLINK_AU, BLINK_BROW_FACTOR, BLINK_MARGIN_S, BROW_MASK, Track

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


def blinking(track: Track, points_xy: np.ndarray, action_units: ActionUnits | None, ear_ratio: float) -> bool:
    """Whether the eyes are closing in this frame: an eye aspect ratio below ``ear_ratio`` of the face's open-eye
    level (which the other frames update), or the blink action unit at 0.5 or more."""
    ear = eye_aspect_ratio(points_xy)
    blink = track.ear_baseline is not None and ear < ear_ratio * track.ear_baseline
    if action_units is not None and BLINK_AU in action_units.au_numbers:
        index = list(action_units.au_numbers).index(BLINK_AU)
        blink = blink or float(action_units.intensities[index]) >= 0.5
    if not blink:
        track.ear_baseline = ear if track.ear_baseline is None else 0.9 * track.ear_baseline + 0.1 * ear
    return blink


def mark_blink(track: Track, stamp_ns: int) -> None:
    """A blink now: the frames of the last 0.1 s (the lid was already moving) are no reference."""
    track.last_blink_ns = stamp_ns
    for earlier in reversed(track.samples):
        if stamp_ns - earlier.stamp_ns > BLINK_MARGIN_S * 1e9:
            break
        earlier.blink = True
    clean = [s for s in track.samples if not s.blink]
    if clean:
        track.before_blink = clean[-1]


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


def along_start(raw: np.ndarray, corrected: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """(C,) each channel's displacement along the direction it started in (``direction``, unit vectors), the
    smaller of DIS's own flow and the flow after the lid's pull was taken out, and never below zero.

    A blink as a brow raise decays: the lid drags the brow down in DIS's flow, and taking the pull out (a fixed
    share of the lid's flow) can overshoot and leave the brow looking raised. Neither is the raise itself.
    """
    along = np.minimum(np.sum(raw * direction, axis=1), np.sum(corrected * direction, axis=1))
    return np.maximum(along, 0.0)
