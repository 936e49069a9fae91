"""REP-155 face_<id> / gaze_<id> transforms from real attention estimates (framework-free part of the node)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_ros_messages import make_result, real_attention

from fea_ros.ros import tf_frames
from fea_ros.ros.hri import HRI_ENGAGEMENT_LEVEL, hri_engagement_level
from fea_ros.ros.msg_types import fea_ros_typestore


def rotate(q: tuple[float, float, float, float], v: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    matrix = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                       [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                       [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    return matrix @ v


def test_face_and_gaze_frames_of_each_face_with_attention() -> None:
    result = make_result(np.random.default_rng(1))
    attention = real_attention()
    result.faces[0].attention = attention  # the second face has none: no frames for it
    transforms = tf_frames.face_transforms(result, prefix="cam1_")
    assert [(t.parent, t.child) for t in transforms] == [("camera_optical", "face_cam1_f1"),
                                                         ("camera_optical", "gaze_cam1_f1")]
    face, gaze = transforms
    assert face.stamp_ns == gaze.stamp_ns == result.stamp_ns
    np.testing.assert_allclose(face.translation, attention.head.translation_m)
    # face frame: x out of the face; gaze frame: z along the gaze, x level (no y component)
    np.testing.assert_allclose(rotate(face.rotation_xyzw, np.array([1.0, 0, 0])), attention.head.forward, atol=1e-9)
    np.testing.assert_allclose(rotate(gaze.rotation_xyzw, np.array([0, 0, 1.0])), attention.gaze.direction,
                               atol=1e-9)
    assert abs(rotate(gaze.rotation_xyzw, np.array([1.0, 0, 0]))[1]) < 1e-9
    np.testing.assert_allclose(gaze.translation, attention.gaze.origin_m)


def test_no_frame_id_no_transforms() -> None:
    result = make_result(np.random.default_rng(2))
    result.faces[0].attention = real_attention()
    result.frame_id = ""
    assert tf_frames.face_transforms(result) == []


def test_transform_stamped_messages_serialise() -> None:
    store = fea_ros_typestore("jazzy")
    types = store.types
    result = make_result(np.random.default_rng(3))
    result.faces[0].attention = real_attention()
    messages = tf_frames.transform_messages(
        tf_frames.face_transforms(result), types["geometry_msgs/msg/TransformStamped"], types["std_msgs/msg/Header"],
        types["builtin_interfaces/msg/Time"], types["geometry_msgs/msg/Transform"],
        types["geometry_msgs/msg/Vector3"], types["geometry_msgs/msg/Quaternion"])
    raw = store.serialize_cdr(messages[0], "geometry_msgs/msg/TransformStamped")
    back = store.deserialize_cdr(raw, "geometry_msgs/msg/TransformStamped")
    assert back.child_frame_id == "face_f1" and back.header.frame_id == "camera_optical"
    assert back.header.stamp.sec * 10**9 + back.header.stamp.nanosec == result.stamp_ns


def test_without_tf2_ros_the_broadcaster_is_none_with_one_warning(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tf2(name, *args, **kwargs):
        if name == "tf2_ros":
            raise ImportError("no tf2_ros")
        return real_import(name, *args, **kwargs)

    warnings: list[str] = []
    node = SimpleNamespace(get_logger=lambda: SimpleNamespace(warning=warnings.append))
    monkeypatch.setattr(builtins, "__import__", no_tf2)
    assert tf_frames.make_broadcaster(node) is None
    assert warnings == [tf_frames.TF2_MISSING] and "\n" not in warnings[0]


def test_engagement_levels_are_hri_msgs_values() -> None:
    result = make_result(np.random.default_rng(4))
    result.faces[0].attention = real_attention()
    assert hri_engagement_level(result.faces[0]) == HRI_ENGAGEMENT_LEVEL["engaged"] == 3
    assert hri_engagement_level(result.faces[1]) == 0  # UNKNOWN
    hri_msgs = pytest.importorskip("hri_msgs.msg", reason="hri_msgs needs a ROS install")
    level = hri_msgs.EngagementLevel
    assert (level.UNKNOWN, level.DISENGAGED, level.ENGAGING, level.ENGAGED, level.DISENGAGING) == (0, 1, 2, 3, 4)
