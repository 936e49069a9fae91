"""The real pipeline_node publishes head pose, gaze and engagement, with and without the camera's CameraInfo.

Real rclpy, real fea_ros_msgs, the real networks, scikit-image's astronaut photo. Without CameraInfo the
head pose rests on camera.fov_deg (intrinsics = FOV); with a CameraInfo of twice the default focal length on
the sibling camera_info topic (same stamps) it says CAMERA_INFO and the head is twice as far away.
TF: face_<id>/gaze_<id> go out through tf2_ros where it is importable; without it the node says so once.
"""
import importlib.util

import numpy as np
import pytest

from ros_harness import LOG_LEVELS, InProcessNode, image_message, reliable, stamp_ns, wait_until

START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 33_333_333
FRAMES = 4


def camera_info(stamp: int, fx: float, width: int, height: int):
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    msg.header.frame_id = "cam_optical"
    msg.k = [fx, 0.0, width / 2 - 0.5, 0.0, fx, height / 2 - 0.5, 0.0, 0.0, 1.0]
    return msg


def run_node(peer, astronaut, namespace, fx=None):
    """The last FaceExpression the node published for FRAMES frames of the astronaut."""
    from fea_ros_msgs.msg import FaceExpressionArray
    from sensor_msgs.msg import CameraInfo, Image

    node = InProcessNode(peer, namespace, {"mie.enabled": False, "attention.look_on_s": 0.0}).start()
    try:
        faces = peer.collect(FaceExpressionArray, node.topic("faces"), reliable())
        images = peer.publisher(Image, node.topic("image"), reliable(2))
        infos = peer.publisher(CameraInfo, node.topic("camera_info"), reliable(5)) if fx else None
        peer.wait_for_subscriber(images)
        node.wait_reliable()
        if infos is not None:
            peer.wait_for_subscriber(infos)
        height, width = astronaut.shape[:2]
        for index in range(FRAMES):
            stamp = START_NS + index * PERIOD_NS
            if infos is not None:
                infos.publish(camera_info(stamp, fx, width, height))
                wait_until(lambda: node.has_camera_info(stamp), 10, "the CameraInfo")
            images.publish(image_message(astronaut, "bgr8", stamp=stamp, frame_id="cam_optical"))
            wait_until(lambda: any(stamp_ns(m.header) == stamp for m in faces.snapshot()), 60,
                       f"the faces result of frame {index}")
        last = max(faces.snapshot(), key=lambda m: stamp_ns(m.header))
        return last, node.logs(LOG_LEVELS["WARN"])
    finally:
        node.close()


def test_head_pose_gaze_and_engagement_with_and_without_camera_info(peer, astronaut):
    from fea_ros_msgs.msg import FaceExpression

    from fea_ros.core.camera import CameraIntrinsics

    default_fy = CameraIntrinsics.from_fov(astronaut.shape[1], astronaut.shape[0]).fy
    without, logs_without = run_node(peer, astronaut, "attention_fov")
    with_info, _ = run_node(peer, astronaut, "attention_camera_info", fx=2 * default_fy)
    for msg in (without, with_info):
        assert len(msg.faces) == 1
        face = msg.faces[0]
        assert face.has_attention and face.gaze_from_eyes
        gaze = np.array([face.gaze.x, face.gaze.y, face.gaze.z])
        assert abs(np.linalg.norm(gaze) - 1) < 1e-5 and gaze[2] < -0.8  # towards the camera (optical -z)
        q = face.head_pose.orientation
        assert abs(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2 - 1) < 1e-5
        assert face.looking and face.engagement in (FaceExpression.ENGAGEMENT_ENGAGING,
                                                     FaceExpression.ENGAGEMENT_ENGAGED)
        assert face.head_pose.position.z > 0.2  # in front of the camera, metres
    assert without.faces[0].intrinsics == FaceExpression.INTRINSICS_FOV
    assert with_info.faces[0].intrinsics == FaceExpression.INTRINSICS_CAMERA_INFO
    ratio = with_info.faces[0].head_pose.position.z / without.faces[0].head_pose.position.z
    assert ratio == pytest.approx(2.0, rel=0.05)
    tf2_missing = [line for line in logs_without if "tf2_ros is not importable" in line]
    if importlib.util.find_spec("tf2_ros") is None:
        assert len(tf2_missing) == 1  # said once, on activation
    else:
        assert not tf2_missing
