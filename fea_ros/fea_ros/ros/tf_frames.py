"""REP-155 TF frames of each face, framework-free: ``face_<id>`` (head pose) and ``gaze_<id>`` (gaze).

Both are children of the image's frame (the camera optical frame, header.frame_id of the Image):

* ``face_<id>``: origin at the head pose's origin, axes of REP-155's face frame (x out of the face, y the
  person's left, z up);
* ``gaze_<id>``: origin between the eyes, camera-style axes (z along the gaze, x level to the right of it,
  y down), as REP-155 asks of gaze frames.

``face_transforms`` computes them as plain data; ``transform_messages`` fills geometry_msgs/TransformStamped
classes (rclpy or rosbags); ``make_broadcaster`` returns a tf2_ros.TransformBroadcaster or None with one
warning when tf2_ros is not importable (the rest of the node works without it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fea_ros.core.head_pose import gaze_rotation, quaternion_xyzw
from fea_ros.core.types import FrameResult
from fea_ros.ros.hri import hri_face_id

TF2_MISSING = ("tf2_ros is not importable: the face_<id>/gaze_<id> TF frames are not broadcast "
               "(install ros-$ROS_DISTRO-tf2-ros; head pose and gaze are still in the faces topic)")


@dataclass(frozen=True)
class FrameTransform:
    parent: str
    child: str
    stamp_ns: int
    translation: tuple[float, float, float]  # metres, in the parent frame
    rotation_xyzw: tuple[float, float, float, float]


def face_frame_names(face_id: str, prefix: str = "") -> tuple[str, str]:
    """(face frame, gaze frame) of one face: REP-155's face_<id> and gaze_<id> with the REP-155 id."""
    token = hri_face_id(face_id, prefix)
    return f"face_{token}", f"gaze_{token}"


def face_transforms(result: FrameResult, prefix: str = "") -> list[FrameTransform]:
    """The face_<id> and gaze_<id> transforms of every face with an attention estimate in one frame."""
    if not result.frame_id:
        return []  # TF needs the camera's frame; an image without frame_id gets none
    out = []
    for face in result.faces:
        attention = face.attention
        if attention is None:
            continue
        face_frame, gaze_frame = face_frame_names(face.face_id, prefix)
        out.append(FrameTransform(result.frame_id, face_frame, result.stamp_ns,
                                  tuple(float(v) for v in attention.head.translation_m),  # type: ignore[arg-type]
                                  quaternion_xyzw(attention.head.rotation)))
        out.append(FrameTransform(result.frame_id, gaze_frame, result.stamp_ns,
                                  tuple(float(v) for v in attention.gaze.origin_m),  # type: ignore[arg-type]
                                  quaternion_xyzw(gaze_rotation(attention.gaze.direction))))
    return out


def transform_messages(transforms: list[FrameTransform], TransformStamped: Any, Header: Any, Time: Any,
                       Transform: Any, Vector3: Any, Quaternion: Any) -> list[Any]:
    """geometry_msgs/TransformStamped messages of ``transforms`` (classes of any message backend)."""
    messages = []
    for item in transforms:
        sec, nanosec = divmod(int(item.stamp_ns), 1_000_000_000)
        x, y, z = item.translation
        qx, qy, qz, qw = item.rotation_xyzw
        messages.append(TransformStamped(
            header=Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=item.parent), child_frame_id=item.child,
            transform=Transform(translation=Vector3(x=x, y=y, z=z), rotation=Quaternion(x=qx, y=qy, z=qz, w=qw))))
    return messages


def make_broadcaster(node: Any) -> Any | None:
    """A tf2_ros.TransformBroadcaster on ``node``, or None after one warning on its logger."""
    try:
        from tf2_ros import TransformBroadcaster
    except ImportError:
        node.get_logger().warning(TF2_MISSING)
        return None
    return TransformBroadcaster(node)


def broadcast(broadcaster: Any, result: FrameResult, prefix: str = "") -> int:
    """Send one frame's face/gaze transforms through a tf2_ros broadcaster; returns how many were sent."""
    import geometry_msgs.msg as geometry
    import builtin_interfaces.msg as builtin
    import std_msgs.msg as std

    transforms = face_transforms(result, prefix)
    if transforms:
        broadcaster.sendTransform(transform_messages(transforms, geometry.TransformStamped, std.Header,
                                                     builtin.Time, geometry.Transform, geometry.Vector3,
                                                     geometry.Quaternion))
    return len(transforms)
