"""Plain data passed between the stages of the pipeline.

Every array is numpy; every coordinate is in pixels of the source image unless its name says otherwise;
every time is an integer number of nanoseconds (the ROS stamp convention).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fea_ros.core.attention import FaceAttention
    from fea_ros.core.camera import CameraIntrinsics

#: The one label order used everywhere (messages, JSONL, plots).
EXPRESSION_LABELS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised",
)


@dataclass
class Frame:
    """One camera image. ``image`` is BGR uint8, H x W x 3, C-contiguous."""

    image: np.ndarray
    stamp_ns: int
    frame_id: str = ""
    index: int = 0
    #: the camera's intrinsics (from CameraInfo); None = assume camera.fov_deg
    camera: CameraIntrinsics | None = None


@dataclass
class Detection:
    """One face found by the detector in one frame."""

    box: np.ndarray  # (4,) float: x0, y0, x1, y1 in image pixels
    score: float
    keypoints: np.ndarray  # (6, 2) float: right eye, left eye, nose, mouth, right ear, left ear (image px)


@dataclass
class Track:
    """The tracker's view of one face: a detection with an identity."""

    track_id: str
    detection: Detection
    age: int  # frames since the track was created
    hits: int  # frames in which the face was matched
    misses: int  # consecutive frames without a match
    confirmed: bool


@dataclass
class Landmarks:
    """Face mesh for one face."""

    points: np.ndarray  # (478, 3) or (468, 3): x, y in image px, z in px relative to the face centre
    presence: float  # 0..1, the mesh network's face-presence probability
    ibug68: np.ndarray  # (68, 2) image px, the iBUG-68 subset (see core/ibug68.py for the table)

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, :2]


@dataclass
class Expression:
    """Per-frame (unsmoothed) macro-expression estimate for one face."""

    probabilities: np.ndarray  # (7,) in EXPRESSION_LABELS order, sums to 1
    per_model: dict[str, np.ndarray] = field(default_factory=dict)  # model name -> (7,) canonical order


@dataclass
class ActionUnits:
    """Blendshape coefficients and the FACS action-unit intensities derived from them."""

    blendshapes: np.ndarray  # (52,) 0..1 in BLENDSHAPE_NAMES order
    au_numbers: tuple[int, ...]  # FACS numbers
    intensities: np.ndarray  # (len(au_numbers),) 0..1


@dataclass
class MicroExpressionEvent:
    """One spotted facial movement (micro or short macro expression)."""

    face_id: str
    onset_ns: int
    apex_ns: int
    offset_ns: int
    type: str  # "MICRO" | "MACRO"
    regions: tuple[str, ...]
    action_units: tuple[int, ...]
    intensity: float  # 0..1
    confidence: float  # 0..1
    emitted_ns: int = 0  # stamp of the frame at which the spotter emitted it


@dataclass
class FaceResult:
    """Everything the pipeline knows about one tracked face in one frame."""

    face_id: str
    track_age: int
    box: np.ndarray  # (4,) x0, y0, x1, y1 image px
    detection_confidence: float
    landmarks: Landmarks | None
    expression: str  # one of EXPRESSION_LABELS (the hysteresis-stable label)
    expression_confidence: float  # smoothed probability of ``expression``
    expression_scores: np.ndarray  # (7,) smoothed probabilities
    raw_scores: np.ndarray  # (7,) this frame's unsmoothed probabilities
    valence: float  # -1..1, derived from expression_scores (circumplex table)
    arousal: float  # -1..1, derived
    action_units: ActionUnits | None
    #: head pose, gaze, looking and engagement (None: attention disabled or no mesh)
    attention: FaceAttention | None = None
    #: network key -> (7,) each expression network's own probabilities for this frame (EXPRESSION_LABELS order),
    #: the numbers fused into raw_scores; kept so that nobody needs to run the networks again to see them
    per_model: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class FrameResult:
    """The pipeline's output for one frame."""

    stamp_ns: int
    frame_id: str
    width: int
    height: int
    faces: list[FaceResult]
    events: list[MicroExpressionEvent]
    timings_ms: dict[str, float]  # stage name -> wall time in ms for this frame
    index: int = 0
