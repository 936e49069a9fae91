"""ROS4HRI (REP-155) output, framework-free: label mapping, normalised ROI, 70 landmarks, 99-slot FACS,
and the manager of per-face publishers (``/humans/faces/<id>/{roi,expression,landmarks,facs}``).

Message classes come in through ``HriTypes`` (the node passes ``hri_msgs.msg`` classes), so nothing here
imports hri_msgs or rclpy. Field facts follow hri_msgs 2.x (Expression string constants; FacialLandmarks
with NormalizedPointOfInterest2D[70]: the 68 dlib/iBUG points then RIGHT_PUPIL=68, LEFT_PUPIL=69;
FacialActionUnits with float32[99] intensity and confidence indexed by FACS number).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from fea_ros.core.types import EXPRESSION_LABELS, FaceResult, FrameResult, Landmarks

#: The string values of hri_msgs/Expression's constants (hri_msgs 2.x), by constant name.
HRI_EXPRESSION_VALUES: dict[str, str] = {
    "NEUTRAL": "neutral", "ANGRY": "angry", "SAD": "sad", "HAPPY": "happy", "SURPRISED": "surprised",
    "DISGUSTED": "disgusted", "SCARED": "scared", "PLEADING": "pleading", "VULNERABLE": "vulnerable",
    "DESPAIRED": "despaired", "GUILTY": "guilty", "DISAPPOINTED": "disappointed", "EMBARRASSED": "embarrassed",
    "HORRIFIED": "horrified", "SKEPTICAL": "skeptical", "ANNOYED": "annoyed", "FURIOUS": "furious",
    "SUSPICIOUS": "suspicious", "REJECTED": "rejected", "BORED": "bored", "TIRED": "tired", "ASLEEP": "asleep",
    "CONFUSED": "confused", "AMAZED": "amazed", "EXCITED": "excited",
}

#: fea_ros label -> hri_msgs/Expression constant name. Every fea_ros label has one (a test checks).
HRI_EXPRESSION_CONSTANT: dict[str, str] = {
    "neutral": "NEUTRAL", "happy": "HAPPY", "sad": "SAD", "angry": "ANGRY",
    "fearful": "SCARED", "disgusted": "DISGUSTED", "surprised": "SURPRISED",
}

HRI_LANDMARK_COUNT = 70
RIGHT_PUPIL, LEFT_PUPIL = 68, 69  # FacialLandmarks indices
MESH_RIGHT_IRIS_CENTRE, MESH_LEFT_IRIS_CENTRE = 468, 473  # FaceMesh v2 (478 points) iris centres
IBUG_RIGHT_EYE, IBUG_LEFT_EYE = slice(36, 42), slice(42, 48)  # the person's right / left eye contours
FACS_SLOTS = 99
FACES_NAMESPACE = "/humans/faces"
#: hri_msgs/EngagementLevel values (REP-155) by fea_ros engagement state (core/attention.py)
HRI_ENGAGEMENT_LEVEL: dict[str, int] = {"unknown": 0, "disengaged": 1, "engaging": 2, "engaged": 3,
                                        "disengaging": 4}


def hri_engagement_level(face: FaceResult) -> int:
    """The hri_msgs/EngagementLevel value of a face (UNKNOWN when it has no attention estimate).

    REP-155 puts engagement under /humans/persons/<id>/engagement_status; a person manager that links this
    face to a person can republish it there. The faces topic carries it per face (FaceExpression.engagement).
    """
    return HRI_ENGAGEMENT_LEVEL[face.attention.engagement] if face.attention is not None else 0


def hri_expression(label: str) -> str:
    """The hri_msgs/Expression value (e.g. "scared") for a fea_ros label (e.g. "fearful")."""
    if label not in HRI_EXPRESSION_CONSTANT:
        raise ValueError(f"'{label}' is not a fea_ros expression label; known: {', '.join(EXPRESSION_LABELS)}")
    return HRI_EXPRESSION_VALUES[HRI_EXPRESSION_CONSTANT[label]]


def hri_face_id(face_id: str, prefix: str = "") -> str:
    """A REP-155 id usable as a topic-name token: [A-Za-z0-9_], starting with a letter."""
    token = re.sub(r"[^A-Za-z0-9_]", "_", f"{prefix}{face_id}")
    return token if token[:1].isalpha() else f"f{token}"


def normalised_roi(box: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of a pixel box as fractions of the image, clipped to 0..1."""
    x0, y0, x1, y1 = (float(v) for v in box)
    clip = lambda value: min(max(value, 0.0), 1.0)  # noqa: E731
    return clip(x0 / width), clip(y0 / height), clip(x1 / width), clip(y1 / height)


def hri_landmark_points(landmarks: Landmarks) -> np.ndarray:
    """(70, 2) pixel points in FacialLandmarks order: iBUG 68 then right and left pupil.

    The pupils are the FaceMesh v2 iris centres (points 468 / 473); a mesh without irises (v1, 468 points)
    gives the centroid of the eye contour instead.
    """
    ibug = np.asarray(landmarks.ibug68, dtype=np.float64)[:, :2]
    points = np.asarray(landmarks.points, dtype=np.float64)
    if points.shape[0] > MESH_LEFT_IRIS_CENTRE:
        right, left = points[MESH_RIGHT_IRIS_CENTRE, :2], points[MESH_LEFT_IRIS_CENTRE, :2]
    else:
        right, left = ibug[IBUG_RIGHT_EYE].mean(axis=0), ibug[IBUG_LEFT_EYE].mean(axis=0)
    return np.vstack([ibug, right, left])


def normalised_landmarks(landmarks: Landmarks, width: int, height: int) -> np.ndarray:
    """(70, 2) landmark coordinates as fractions of the image, clipped to 0..1."""
    points = hri_landmark_points(landmarks) / np.array([width, height], dtype=np.float64)
    return np.clip(points, 0.0, 1.0)


def facs_arrays(au_numbers: Iterable[int], intensities: Iterable[float], confidence: float) -> tuple[list[float], list[float]]:
    """FacialActionUnits intensity[99] and confidence[99]: slot = FACS number, 0 where not estimated."""
    intensity = [0.0] * FACS_SLOTS
    certainty = [0.0] * FACS_SLOTS
    for number, value in zip(au_numbers, intensities):
        if not 0 <= int(number) < FACS_SLOTS:
            raise ValueError(f"action unit {number} has no FacialActionUnits slot (0..{FACS_SLOTS - 1})")
        intensity[int(number)] = float(value)
        certainty[int(number)] = float(confidence)
    return intensity, certainty


@dataclass(frozen=True)
class HriTypes:
    """hri_msgs / std_msgs classes (the node passes ``hri_msgs.msg.IdsList`` etc.)."""

    IdsList: Any
    NormalizedRegionOfInterest2D: Any
    NormalizedPointOfInterest2D: Any
    Expression: Any
    FacialLandmarks: Any
    FacialActionUnits: Any


@dataclass
class FacePublishers:
    roi: Any
    expression: Any
    landmarks: Any
    facs: Any

    def all(self) -> list[Any]:
        return [self.roi, self.expression, self.landmarks, self.facs]


class HriPublisherManager:
    """Creates the per-face REP-155 publishers as faces appear and destroys them when they go.

    ``node`` is anything with rclpy's ``create_publisher(msg_type, topic, qos)`` and
    ``destroy_publisher(publisher)``.
    """

    def __init__(self, node: Any, types: HriTypes, id_prefix: str = "", qos_depth: int = 1) -> None:
        self._node = node
        self._types = types
        self._prefix = id_prefix
        self._depth = qos_depth
        self._faces: dict[str, FacePublishers] = {}
        self._tracked = node.create_publisher(types.IdsList, f"{FACES_NAMESPACE}/tracked", qos_depth)

    @property
    def face_ids(self) -> list[str]:
        return list(self._faces)

    def update(self, face_ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Make the publisher set match ``face_ids`` (REP-155 ids); returns (created, removed)."""
        wanted = list(dict.fromkeys(face_ids))
        removed = [face_id for face_id in self._faces if face_id not in wanted]
        for face_id in removed:
            for publisher in self._faces.pop(face_id).all():
                self._node.destroy_publisher(publisher)
        created = [face_id for face_id in wanted if face_id not in self._faces]
        for face_id in created:
            base = f"{FACES_NAMESPACE}/{face_id}"
            create = self._node.create_publisher
            self._faces[face_id] = FacePublishers(
                roi=create(self._types.NormalizedRegionOfInterest2D, f"{base}/roi", self._depth),
                expression=create(self._types.Expression, f"{base}/expression", self._depth),
                landmarks=create(self._types.FacialLandmarks, f"{base}/landmarks", self._depth),
                facs=create(self._types.FacialActionUnits, f"{base}/facs", self._depth),
            )
        return created, removed

    def publish(self, result: FrameResult, header: Any) -> None:
        """Publish /tracked and every face's topics for one frame; ``header`` is the source image's."""
        ids = [hri_face_id(face.face_id, self._prefix) for face in result.faces]
        self.update(ids)
        for face_id, face in zip(ids, result.faces):
            self._publish_face(self._faces[face_id], face, result.width, result.height, header)
        self._tracked.publish(self._types.IdsList(header=header, ids=ids))

    def close(self, header: Any = None) -> None:
        """Destroy every publisher; with a ``header``, first announce on /tracked that no face is left."""
        self.update([])
        if header is not None:
            self._tracked.publish(self._types.IdsList(header=header, ids=[]))
        self._node.destroy_publisher(self._tracked)

    def _publish_face(self, publishers: FacePublishers, face: FaceResult, width: int, height: int,
                      header: Any) -> None:
        types = self._types
        xmin, ymin, xmax, ymax = normalised_roi(face.box, width, height)
        publishers.roi.publish(types.NormalizedRegionOfInterest2D(
            header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=float(face.detection_confidence)))
        publishers.expression.publish(types.Expression(
            header=header, expression=hri_expression(face.expression), valence=float(face.valence),
            arousal=float(face.arousal), confidence=float(face.expression_confidence)))
        if face.landmarks is not None:
            presence = float(face.landmarks.presence)
            points = normalised_landmarks(face.landmarks, width, height)
            publishers.landmarks.publish(types.FacialLandmarks(
                header=header, height=int(height), width=int(width),
                landmarks=[types.NormalizedPointOfInterest2D(x=float(x), y=float(y), c=presence) for x, y in points]))
        if face.action_units is not None:
            confidence = float(face.landmarks.presence) if face.landmarks is not None else 1.0
            intensity, certainty = facs_arrays(face.action_units.au_numbers, face.action_units.intensities, confidence)
            publishers.facs.publish(types.FacialActionUnits(header=header, intensity=intensity, confidence=certainty))
