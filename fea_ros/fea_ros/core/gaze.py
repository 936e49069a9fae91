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
#: the points read per eye, brought into the canonical frame together
EYE_POINTS = [index for eye in (RIGHT_EYE, LEFT_EYE) for index in eye.values()]
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


def _eye_in_canonical(canonical: dict[int, list[float]], eye: dict[str, int], closed_ratio: float) \
        -> tuple[float, float] | None:
    """(horizontal, vertical) eye rotation, radians, from (x, y) canonical-frame cm; None if closed."""
    (ox, oy), (ix, iy) = canonical[eye["outer"]], canonical[eye["inner"]]
    (ux, uy), (lx, ly) = canonical[eye["upper"]], canonical[eye["lower"]]
    width = math.hypot(ox - ix, oy - iy)
    if width <= 0 or math.hypot(ux - lx, uy - ly) < closed_ratio * width:
        return None
    cx, cy = canonical[eye["iris"]]
    clip = lambda value: max(-1.0, min(1.0, value / EYEBALL_RADIUS_CM))  # noqa: E731
    return math.asin(clip(cx - (ox + ix) / 2.0)), math.asin(clip(cy - (oy + iy) / 2.0))


def estimate_gaze(pose: HeadPose, closed_ratio: float = 0.12) -> Gaze:
    """The gaze of one face from its head pose, solved with ``extra_rows=EYE_POINTS``."""
    rotation = pose.canonical_rotation
    has_irises = pose.extra_rows == tuple(EYE_POINTS)
    if has_irises:
        origin_m = (pose.point_cm(RIGHT_EYE["iris"]) + pose.point_cm(LEFT_EYE["iris"])) * 0.005  # cm -> m
    elif RIGHT_EYE["inner"] in pose.extra_rows and LEFT_EYE["inner"] in pose.extra_rows:
        origin_m = (pose.point_cm(RIGHT_EYE["inner"]) + pose.point_cm(LEFT_EYE["inner"])) * 0.005
    else:
        origin_m = pose.translation_m.copy()
    eyes = []
    if has_irises:
        in_canonical_frame = ((pose.extra_points - pose.translation_m * 100.0) @ rotation)[:, :2].tolist()
        canonical = dict(zip(EYE_POINTS, in_canonical_frame))
        eyes = [angles for eye in (RIGHT_EYE, LEFT_EYE)
                if (angles := _eye_in_canonical(canonical, eye, closed_ratio)) is not None]
    if not eyes:
        return Gaze(direction=pose.forward.copy(), origin_m=origin_m, source=HEAD, eye_yaw_deg=0.0,
                    eye_pitch_deg=0.0)
    yaw = sum(e[0] for e in eyes) / len(eyes)
    pitch = sum(e[1] for e in eyes) / len(eyes)
    # a unit vector in the canonical frame (z out of the face), rotated into the optical frame
    direction = rotation @ (math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch))
    return Gaze(direction=direction, origin_m=origin_m, source=EYES, eye_yaw_deg=math.degrees(yaw),
                eye_pitch_deg=math.degrees(pitch))
