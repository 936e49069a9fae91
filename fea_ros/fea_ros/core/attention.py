"""Per-face attention: head pose + gaze -> "looking at the camera" (with hysteresis) -> REP-155 engagement.

Looking: the angle between the gaze and the ray from the face to the camera is below
``attention.looking_angle_deg`` (to start) or ``attention.release_angle_deg`` (to go on), the face is within
``attention.max_distance_m``, and the new answer has held for ``attention.look_on_s`` (to start looking) or
``attention.look_off_s`` (to stop). The score is 1 at 0 degrees, 0.5 at ``looking_angle_deg`` and 0 at twice it.

Engagement follows REP-155's EngagementLevel states (hri_msgs/EngagementLevel):
DISENGAGED -(looking)-> ENGAGING -(looking for engage_s)-> ENGAGED -(not looking)-> DISENGAGING
-(not looking for disengage_s)-> DISENGAGED; ENGAGING falls back to DISENGAGED when the look ends and
DISENGAGING returns to ENGAGED when it comes back. docs/attention.md has the diagram and the defaults.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fea_ros.core.camera import CameraIntrinsics
from fea_ros.core.config import AttentionConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.gaze import EYE_POINTS, Gaze, estimate_gaze
from fea_ros.core.head_pose import FaceGeometry, HeadPose, HeadPoseSolver

#: REP-155 EngagementLevel states, in the order of hri_msgs' constants (UNKNOWN=0 .. DISENGAGING=4)
ENGAGEMENT_STATES: tuple[str, ...] = ("unknown", "disengaged", "engaging", "engaged", "disengaging")
UNKNOWN, DISENGAGED, ENGAGING, ENGAGED, DISENGAGING = ENGAGEMENT_STATES
NS = 1e-9
#: a longer gap between a track's frames does not count as time spent looking
MAX_COUNTED_GAP_S = 1.0


@dataclass
class FaceAttention:
    """Head pose, gaze, looking and engagement of one face in one frame."""

    head: HeadPose
    gaze: Gaze
    gaze_angle_deg: float  # between the gaze and the face-to-camera ray
    looking: bool  # after hysteresis
    score: float  # 0..1
    engagement: str  # one of ENGAGEMENT_STATES
    looking_time_s: float  # time this track has spent looking so far
    camera: CameraIntrinsics  # the intrinsics the metric values rest on (to draw them back into the image)


def check_config(config: AttentionConfig) -> None:
    if not 0 < config.looking_angle_deg <= config.release_angle_deg < 90:
        raise ConfigError(f"attention angles must satisfy 0 < looking_angle_deg ({config.looking_angle_deg}) <= "
                          f"release_angle_deg ({config.release_angle_deg}) < 90")
    for name in ("look_on_s", "look_off_s", "engage_s", "disengage_s"):
        if getattr(config, name) < 0:
            raise ConfigError(f"attention.{name} must be >= 0 seconds, got {getattr(config, name)}")
    if config.max_distance_m <= 0:
        raise ConfigError(f"attention.max_distance_m must be > 0, got {config.max_distance_m}")


def gaze_to_camera_angle_deg(gaze: Gaze) -> float:
    """Degrees between the gaze and the ray from the eyes to the camera centre (the optical frame origin)."""
    gx, gy, gz = gaze.direction.tolist()
    ox, oy, oz = gaze.origin_m.tolist()
    norm = math.sqrt(ox * ox + oy * oy + oz * oz)
    if norm == 0:
        return 0.0
    return math.degrees(math.acos(max(-1.0, min(1.0, -(gx * ox + gy * oy + gz * oz) / norm))))


@dataclass
class LookingFilter:
    """Angle and time hysteresis on "is the gaze on the camera"."""

    config: AttentionConfig
    looking: bool = False
    _candidate_since_ns: int | None = None

    def update(self, stamp_ns: int, angle_deg: float, distance_m: float) -> bool:
        limit = self.config.release_angle_deg if self.looking else self.config.looking_angle_deg
        raw = angle_deg <= limit and distance_m <= self.config.max_distance_m
        if raw == self.looking:
            self._candidate_since_ns = None
            return self.looking
        if self._candidate_since_ns is None:
            self._candidate_since_ns = stamp_ns
        hold_s = self.config.look_on_s if raw else self.config.look_off_s
        if (stamp_ns - self._candidate_since_ns) * NS >= hold_s:
            self.looking = raw
            self._candidate_since_ns = None
        return self.looking


@dataclass
class EngagementMachine:
    """REP-155 engagement from a stream of (stamp, looking)."""

    config: AttentionConfig
    state: str = DISENGAGED
    _since_ns: int = 0

    def update(self, stamp_ns: int, looking: bool) -> str:
        held_s = (stamp_ns - self._since_ns) * NS
        if self.state == DISENGAGED and looking:
            self._enter(ENGAGING, stamp_ns)
        elif self.state == ENGAGING:
            if not looking:
                self._enter(DISENGAGED, stamp_ns)
            elif held_s >= self.config.engage_s:
                self._enter(ENGAGED, stamp_ns)
        elif self.state == ENGAGED and not looking:
            self._enter(DISENGAGING, stamp_ns)
        elif self.state == DISENGAGING:
            if looking:
                self._enter(ENGAGED, stamp_ns)
            elif held_s >= self.config.disengage_s:
                self._enter(DISENGAGED, stamp_ns)
        # a hold of 0 s moves on in the same frame
        if self.state == ENGAGING and looking and self.config.engage_s == 0:
            self._enter(ENGAGED, stamp_ns)
        return self.state

    def _enter(self, state: str, stamp_ns: int) -> None:
        self.state, self._since_ns = state, stamp_ns


@dataclass
class _Track:
    looking: LookingFilter
    engagement: EngagementMachine
    last_ns: int | None = None
    looking_time_s: float = 0.0


@dataclass
class AttentionEstimator:
    """The attention stage: owns the pose solver and each track's hysteresis and engagement state."""

    geometry: FaceGeometry
    config: AttentionConfig
    _solver: HeadPoseSolver = field(init=False)
    _tracks: dict[str, _Track] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        check_config(self.config)
        self._solver = HeadPoseSolver(self.geometry, tuple(EYE_POINTS))

    def update(self, face_id: str, stamp_ns: int, points: np.ndarray, camera: CameraIntrinsics) -> FaceAttention:
        head = self._solver(points, camera)
        gaze = estimate_gaze(head, self.config.eye_closed_ratio)
        angle = gaze_to_camera_angle_deg(gaze)
        track = self._tracks.get(face_id)
        if track is None:
            track = self._tracks[face_id] = _Track(LookingFilter(self.config), EngagementMachine(self.config))
        looking = track.looking.update(stamp_ns, angle, head.distance_m)
        if track.last_ns is not None and looking:
            gap_s = (stamp_ns - track.last_ns) * NS
            if 0 < gap_s <= MAX_COUNTED_GAP_S:
                track.looking_time_s += gap_s
        track.last_ns = stamp_ns
        engagement = track.engagement.update(stamp_ns, looking)
        score = max(0.0, min(1.0, 1.0 - angle / (2.0 * self.config.looking_angle_deg)))
        return FaceAttention(head=head, gaze=gaze, gaze_angle_deg=angle, looking=looking, score=score,
                             engagement=engagement, looking_time_s=track.looking_time_s, camera=camera)

    def drop(self, face_id: str) -> None:
        self._tracks.pop(face_id, None)

    def reset(self) -> None:
        self._tracks.clear()
