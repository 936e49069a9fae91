"""Build fea_ros_msgs messages from core results, once, for every message backend.

The same code fills rosbags-generated classes (bags written without ROS) and rclpy-generated classes (the
live node). A ``MessageTypes`` names the classes to construct and how primitive arrays are stored:
numpy arrays for rosbags, ``array.array`` for rclpy (its setters reject numpy arrays and numpy scalars).

API::

    store = fea_ros_typestore("jazzy")                     # fea_ros.ros.msg_types
    types = rosbags_message_types(store)                    # or rclpy_message_types(...) in the node
    msg = face_array_message(result, types)                 # FrameResult -> FaceExpressionArray
    msgs = [event_message(e, result.frame_id, types) for e in result.events]  # -> MicroExpressionEvent
    raw = store.serialize_cdr(msg, FACE_EXPRESSION_ARRAY)   # rosbags only

``face_array_message(result, types, processing_time_ns=None, include_landmarks=True)``: the header is the
source image's stamp and frame_id; ``processing_time`` is ``processing_time_ns`` when given (the node passes
"now - stamp"), else the sum of the stage timings (offline there is no publish clock).
``event_message(event, frame_id, types)``: header.stamp is the apex, header.frame_id the source image's.
"""
from __future__ import annotations

import array
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

import numpy as np

from fea_ros.core.attention import ENGAGEMENT_STATES, FaceAttention
from fea_ros.core.camera import FROM_CAMERA_INFO, FROM_FOV
from fea_ros.core.head_pose import quaternion_xyzw
from fea_ros.core.types import EXPRESSION_LABELS, FaceResult, FrameResult, MicroExpressionEvent

NANOSECONDS_PER_SECOND = 1_000_000_000

#: FaceExpression.landmark_layout values, by number of mesh points (see FaceExpression.msg).
LAYOUT_NONE, LAYOUT_IBUG_68, LAYOUT_MEDIAPIPE_478, LAYOUT_MEDIAPIPE_468 = 0, 1, 2, 3
LAYOUT_BY_POINT_COUNT: dict[int, int] = {68: LAYOUT_IBUG_68, 478: LAYOUT_MEDIAPIPE_478, 468: LAYOUT_MEDIAPIPE_468}
#: FaceExpression.intrinsics values by CameraIntrinsics.source; engagement values = index in ENGAGEMENT_STATES
INTRINSICS_NONE = 0
INTRINSICS_BY_SOURCE: dict[str, int] = {FROM_CAMERA_INFO: 1, FROM_FOV: 2}


@dataclass(frozen=True)
class MessageTypes:
    """The classes a backend constructs, and its converters for float32[] / uint8[] fields."""

    FaceExpressionArray: Any
    FaceExpression: Any
    MicroExpressionEvent: Any
    Header: Any
    Time: Any
    Duration: Any
    RegionOfInterest: Any
    float32s: Callable[[np.ndarray], Any]
    uint8s: Callable[[np.ndarray], Any]
    Pose: Any = None  # geometry_msgs (head pose, gaze); rclpy_message_types imports them when not given
    Point: Any = None
    Quaternion: Any = None
    Vector3: Any = None


def rosbags_message_types(typestore: Any) -> MessageTypes:
    """Classes of a rosbags Typestore that has the fea_ros_msgs types registered (see msg_types)."""
    types = typestore.types
    return MessageTypes(
        FaceExpressionArray=types["fea_ros_msgs/msg/FaceExpressionArray"],
        FaceExpression=types["fea_ros_msgs/msg/FaceExpression"],
        MicroExpressionEvent=types["fea_ros_msgs/msg/MicroExpressionEvent"],
        Header=types["std_msgs/msg/Header"],
        Time=types["builtin_interfaces/msg/Time"],
        Duration=types["builtin_interfaces/msg/Duration"],
        RegionOfInterest=types["sensor_msgs/msg/RegionOfInterest"],
        float32s=lambda values: np.ascontiguousarray(values, dtype=np.float32).reshape(-1),
        uint8s=lambda values: np.ascontiguousarray(values, dtype=np.uint8).reshape(-1),
        Pose=types["geometry_msgs/msg/Pose"],
        Point=types["geometry_msgs/msg/Point"],
        Quaternion=types["geometry_msgs/msg/Quaternion"],
        Vector3=types["geometry_msgs/msg/Vector3"],
    )


def rclpy_message_types(fea_ros_msgs: ModuleType, std_msgs: ModuleType, builtin_interfaces: ModuleType,
                        sensor_msgs: ModuleType, geometry_msgs: ModuleType | None = None) -> MessageTypes:
    """Classes of the ROS-generated Python message modules (``fea_ros_msgs.msg``, ``std_msgs.msg``, ...)."""
    geometry: Any = geometry_msgs
    if geometry is None:
        import importlib

        geometry = importlib.import_module("geometry_msgs.msg")  # a dependency of fea_ros_msgs
    return MessageTypes(
        FaceExpressionArray=fea_ros_msgs.FaceExpressionArray,
        FaceExpression=fea_ros_msgs.FaceExpression,
        MicroExpressionEvent=fea_ros_msgs.MicroExpressionEvent,
        Header=std_msgs.Header,
        Time=builtin_interfaces.Time,
        Duration=builtin_interfaces.Duration,
        RegionOfInterest=sensor_msgs.RegionOfInterest,
        float32s=lambda values: array.array("f", np.ascontiguousarray(values, dtype=np.float32).tobytes()),
        uint8s=lambda values: array.array("B", np.ascontiguousarray(values, dtype=np.uint8).tobytes()),
        Pose=geometry.Pose,
        Point=geometry.Point,
        Quaternion=geometry.Quaternion,
        Vector3=geometry.Vector3,
    )


def split_ns(stamp_ns: int) -> tuple[int, int]:
    """Nanoseconds -> (sec, nanosec) with 0 <= nanosec < 1e9, as builtin_interfaces wants (also if negative)."""
    sec, nanosec = divmod(int(stamp_ns), NANOSECONDS_PER_SECOND)
    return sec, nanosec


def time_message(stamp_ns: int, types: MessageTypes) -> Any:
    sec, nanosec = split_ns(stamp_ns)
    return types.Time(sec=sec, nanosec=nanosec)


def header_message(stamp_ns: int, frame_id: str, types: MessageTypes) -> Any:
    return types.Header(stamp=time_message(stamp_ns, types), frame_id=frame_id)


def roi_fields(box: np.ndarray, width: int, height: int) -> dict[str, Any]:
    """RegionOfInterest fields of a float box: clipped to the image and rounded outward to whole pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    left = int(min(max(math.floor(x0), 0), width))
    top = int(min(max(math.floor(y0), 0), height))
    right = int(min(max(math.ceil(x1), left), width))
    bottom = int(min(max(math.ceil(y1), top), height))
    return {"x_offset": left, "y_offset": top, "width": right - left, "height": bottom - top, "do_rectify": False}


def face_fields(face: FaceResult, width: int, height: int, include_landmarks: bool = True) -> dict[str, Any]:
    """Plain values of one FaceExpression (numpy arrays for the primitive arrays, a dict for the roi)."""
    empty = np.zeros(0, dtype=np.float32)
    landmarks = face.landmarks if include_landmarks else None
    if landmarks is None:
        layout, points_xy, depths, presence, ibug68 = LAYOUT_NONE, empty, empty, 0.0, empty
    else:
        points = np.asarray(landmarks.points, dtype=np.float32)
        layout = LAYOUT_BY_POINT_COUNT.get(points.shape[0], LAYOUT_NONE)
        points_xy = points[:, :2].reshape(-1)
        depths = points[:, 2].copy() if points.shape[1] > 2 else empty
        presence = float(landmarks.presence)
        ibug68 = np.asarray(landmarks.ibug68, dtype=np.float32).reshape(-1)
    units = face.action_units
    return {
        "face_id": str(face.face_id),
        "track_age": max(int(face.track_age), 0),  # uint32: a track's first frame may count as -1
        "roi": roi_fields(face.box, width, height),
        "detection_confidence": float(face.detection_confidence),
        "landmark_layout": layout,
        "landmarks": points_xy,
        "landmark_depths": depths,
        "landmark_presence": presence,
        "ibug68": ibug68,
        "expression": str(face.expression),
        "expression_confidence": float(face.expression_confidence),
        "expression_scores": np.asarray(face.expression_scores, dtype=np.float32),
        "expression_raw_scores": np.asarray(face.raw_scores, dtype=np.float32),
        "valence": float(face.valence),
        "arousal": float(face.arousal),
        "action_units": np.asarray(units.au_numbers if units else (), dtype=np.uint8),
        "action_unit_intensities": np.asarray(units.intensities if units else empty, dtype=np.float32),
        "blendshapes": np.asarray(units.blendshapes if units else empty, dtype=np.float32),
        **attention_fields(face.attention),
    }


def attention_fields(attention: FaceAttention | None) -> dict[str, Any]:
    """FaceExpression's attention fields as plain values (head_pose as position + xyzw, vectors as tuples)."""
    if attention is None:
        return {"has_attention": False, "intrinsics": INTRINSICS_NONE,
                "head_pose": {"position": (0.0, 0.0, 0.0), "orientation": (0.0, 0.0, 0.0, 1.0)},
                "head_yaw": 0.0, "head_pitch": 0.0, "head_roll": 0.0, "gaze_origin": (0.0, 0.0, 0.0),
                "gaze": (0.0, 0.0, 0.0), "gaze_from_eyes": False, "gaze_angle": 0.0, "looking": False,
                "attention_score": 0.0, "engagement": 0, "looking_time": 0.0}
    head, gaze = attention.head, attention.gaze
    return {
        "has_attention": True,
        "intrinsics": INTRINSICS_BY_SOURCE.get(head.intrinsics, INTRINSICS_NONE),
        "head_pose": {"position": tuple(float(v) for v in head.translation_m),
                      "orientation": quaternion_xyzw(head.rotation)},
        "head_yaw": float(head.yaw_deg), "head_pitch": float(head.pitch_deg), "head_roll": float(head.roll_deg),
        "gaze_origin": tuple(float(v) for v in gaze.origin_m),
        "gaze": tuple(float(v) for v in gaze.direction),
        "gaze_from_eyes": gaze.source == "eyes",
        "gaze_angle": float(attention.gaze_angle_deg),
        "looking": bool(attention.looking),
        "attention_score": float(attention.score),
        "engagement": ENGAGEMENT_STATES.index(attention.engagement),
        "looking_time": float(attention.looking_time_s),
    }


_FLOAT32_ARRAYS = ("landmarks", "landmark_depths", "ibug68", "expression_scores", "expression_raw_scores",
                   "action_unit_intensities", "blendshapes")


def face_message(face: FaceResult, width: int, height: int, types: MessageTypes,
                 include_landmarks: bool = True) -> Any:
    fields = face_fields(face, width, height, include_landmarks)
    for name in _FLOAT32_ARRAYS:
        fields[name] = types.float32s(fields[name])
    fields["action_units"] = types.uint8s(fields["action_units"])
    fields["roi"] = types.RegionOfInterest(**fields["roi"])
    (px, py, pz), (qx, qy, qz, qw) = fields["head_pose"]["position"], fields["head_pose"]["orientation"]
    fields["head_pose"] = types.Pose(position=types.Point(x=px, y=py, z=pz),
                                     orientation=types.Quaternion(x=qx, y=qy, z=qz, w=qw))
    fields["gaze_origin"] = types.Point(**dict(zip("xyz", fields["gaze_origin"])))
    fields["gaze"] = types.Vector3(**dict(zip("xyz", fields["gaze"])))
    return types.FaceExpression(**fields)


def face_array_message(result: FrameResult, types: MessageTypes, processing_time_ns: int | None = None,
                       include_landmarks: bool = True) -> Any:
    """FaceExpressionArray of one processed frame (also when it holds no face)."""
    if processing_time_ns is None:
        processing_time_ns = int(round(sum(result.timings_ms.values()) * 1e6))
    sec, nanosec = split_ns(processing_time_ns)
    stage_names = list(result.timings_ms)
    return types.FaceExpressionArray(
        header=header_message(result.stamp_ns, result.frame_id, types),
        image_width=int(result.width),
        image_height=int(result.height),
        frame_index=int(result.index),
        expression_labels=list(EXPRESSION_LABELS),
        faces=[face_message(face, result.width, result.height, types, include_landmarks) for face in result.faces],
        processing_time=types.Duration(sec=sec, nanosec=nanosec),
        stage_names=stage_names,
        stage_times=types.float32s(np.asarray([result.timings_ms[n] for n in stage_names], dtype=np.float32)),
    )


def event_message(event: MicroExpressionEvent, frame_id: str, types: MessageTypes) -> Any:
    """MicroExpressionEvent; header.stamp = apex, header.frame_id = the source image's frame_id."""
    return types.MicroExpressionEvent(
        header=header_message(event.apex_ns, frame_id, types),
        face_id=str(event.face_id),
        onset=time_message(event.onset_ns, types),
        apex=time_message(event.apex_ns, types),
        offset=time_message(event.offset_ns, types),
        emitted=time_message(event.emitted_ns, types),
        type=str(event.type),
        regions=[str(region) for region in event.regions],
        action_units=types.uint8s(np.asarray(event.action_units, dtype=np.uint8)),
        intensity=float(event.intensity),
        confidence=float(event.confidence),
    )


def stamp_ns(time_msg: Any) -> int:
    """builtin_interfaces Time or Duration -> integer nanoseconds."""
    return int(time_msg.sec) * NANOSECONDS_PER_SECOND + int(time_msg.nanosec)
