"""Calibration-free gaze: the iris centres relative to the eye corners, turned by the head pose.

Each eye is read in the canonical face frame (the mesh landmarks brought back through the head pose, in cm),
where the head's own rotation is gone: the iris centre's offset from the midpoint of the eye corners, over
an eyeball radius, gives the eye's rotation (d = r sin(theta)) horizontally and vertically. The two eyes are
averaged, the direction is rotated into the camera's optical frame by the head rotation, and it is a unit
vector. An eye whose lids are closer than ``closed_ratio`` of its width does not count; with both closed,
or with FaceMesh v1 (no iris points), the gaze is the head's forward direction.

How good is it? No per-person calibration and a 256-px mesh crop: the iris centre is known to a few tenths
of a millimetre at best, about 1-3 degrees of eye rotation, and people's eyes differ (kappa angle ~5 degrees,
eyeball radius +-10 %). Expect errors of the order of 5-10 degrees: enough to tell "looking at the robot"
from "looking away", not to say at which object on a table someone looks (docs/attention.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fea_ros.core.head_pose import HeadPose

#: FaceMesh indices: eye corners (outer, inner), lids (upper, lower) and iris centre, per eye (person's side)
RIGHT_EYE = {"outer": 33, "inner": 133, "upper": 159, "lower": 145, "iris": 468}
LEFT_EYE = {"outer": 263, "inner": 362, "upper": 386, "lower": 374, "iris": 473}
IRIS_POINTS = 478
#: eyeball radius, cm (adult average 12 mm)
EYEBALL_RADIUS_CM = 1.2
EYES = "eyes"
HEAD = "head"


@dataclass(frozen=True)
class Gaze:
    direction: np.ndarray  # (3,) unit vector in the optical frame
    origin_m: np.ndarray  # (3,) between the eyes, optical frame, metres
    source: str  # "eyes" | "head"
    eye_yaw_deg: float  # eyes relative to the head (0 when source is "head")
    eye_pitch_deg: float


def _eye_in_canonical(canonical: np.ndarray, eye: dict[str, int], closed_ratio: float) \
        -> tuple[float, float] | None:
    """(horizontal, vertical) eye rotation, radians, in the canonical frame; None if closed."""
    outer, inner = canonical[eye["outer"]], canonical[eye["inner"]]
    width = float(np.linalg.norm(outer[:2] - inner[:2]))
    opening = float(np.linalg.norm(canonical[eye["upper"], :2] - canonical[eye["lower"], :2]))
    if width <= 0 or opening < closed_ratio * width:
        return None
    offset = canonical[eye["iris"], :2] - (outer[:2] + inner[:2]) / 2.0
    clip = lambda value: max(-1.0, min(1.0, value))  # noqa: E731
    return math.asin(clip(offset[0] / EYEBALL_RADIUS_CM)), math.asin(clip(offset[1] / EYEBALL_RADIUS_CM))


def estimate_gaze(pose: HeadPose, closed_ratio: float = 0.12) -> Gaze:
    """The gaze of one face from its head pose (which carries the metric mesh points)."""
    points = pose.metric_points  # (N, 3) cm, optical frame
    rotation = pose.canonical_rotation
    translation_cm = pose.translation_m * 100.0
    has_irises = points.shape[0] >= IRIS_POINTS
    between_eyes = points[[RIGHT_EYE["iris"], LEFT_EYE["iris"]]].mean(axis=0) if has_irises \
        else points[[RIGHT_EYE["outer"], RIGHT_EYE["inner"], LEFT_EYE["outer"], LEFT_EYE["inner"]]].mean(axis=0)
    origin_m = between_eyes / 100.0
    eyes = []
    if has_irises:
        canonical = (points - translation_cm) @ rotation  # rows: R^T (p - t)
        eyes = [angles for eye in (RIGHT_EYE, LEFT_EYE)
                if (angles := _eye_in_canonical(canonical, eye, closed_ratio)) is not None]
    if not eyes:
        return Gaze(direction=pose.forward.copy(), origin_m=origin_m, source=HEAD, eye_yaw_deg=0.0,
                    eye_pitch_deg=0.0)
    yaw = float(np.mean([e[0] for e in eyes]))
    pitch = float(np.mean([e[1] for e in eyes]))
    in_canonical = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    direction = rotation @ in_canonical
    return Gaze(direction=direction / np.linalg.norm(direction), origin_m=origin_m, source=EYES,
                eye_yaw_deg=math.degrees(yaw), eye_pitch_deg=math.degrees(pitch))
