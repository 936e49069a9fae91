"""The real pipeline_node over DDS: every image encoding and transport gives faces with the input stamps.

Real rclpy, real fea_ros_msgs, the real networks, scikit-image's astronaut photo. Rows padded by a number of
bytes that is not a whole pixel are the case cv_bridge gets wrong (vision_opencv#400); the node must not.
"""
import cv2
import numpy as np
import pytest

from ros_harness import (LOG_LEVELS, ROS_MISSING, InProcessNode, RosPeer, compressed_message, image_message,
                         stamp_ns, values, wait_until)

START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 33_333_333


@pytest.fixture(scope="module")
def peer():
    if ROS_MISSING:
        pytest.skip(ROS_MISSING)
    ros = RosPeer()
    yield ros
    ros.close()


@pytest.fixture(scope="module")
def astronaut():
    skimage_data = pytest.importorskip("skimage.data", reason="the astronaut photo comes from scikit-image")
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


def reliable(depth=50):
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


def send_and_collect(peer, node, messages, compressed=False, timeout_s=60.0):
    """Publish each message after the previous one's result came back; the results by stamp."""
    from fea_ros_msgs.msg import FaceExpressionArray
    from sensor_msgs.msg import CompressedImage, Image

    faces = peer.collect(FaceExpressionArray, node.topic("faces"), reliable())
    publisher = peer.publisher(CompressedImage if compressed else Image,
                               node.topic("image/compressed" if compressed else "image"), reliable(2))
    peer.wait_for_subscriber(publisher)
    for msg in messages:
        publisher.publish(msg)
        wanted = stamp_ns(msg.header)
        wait_until(lambda: any(stamp_ns(m.header) == wanted for m in faces.snapshot()), timeout_s,
                   f"the faces result of the frame stamped {wanted}")
    return {stamp_ns(m.header): m for m in faces.snapshot()}


@pytest.mark.parametrize("encoding, padding", [
    ("bgr8", 0), ("rgb8", 0), ("mono8", 0), ("bgra8", 0), ("rgba8", 0),
    ("bgr8", 64), ("rgb8", 64), ("mono8", 7), ("bgra8", 64),  # padding that is not a whole pixel
])
def test_raw_images_give_faces_with_the_input_stamps(peer, astronaut, encoding, padding):
    node = InProcessNode(peer, f"img_{encoding}_{padding}", {"mie.enabled": False}).start()
    try:
        stamps = [START_NS + i * PERIOD_NS for i in range(3)]
        messages = [image_message(astronaut, encoding, stamp=s, frame_id="cam_optical", padding=padding)
                    for s in stamps]
        results = send_and_collect(peer, node, messages)
        assert sorted(results) == stamps  # one result per frame, each with its frame's stamp
        last = results[stamps[-1]]
        assert last.header.frame_id == "cam_optical"
        assert (last.image_width, last.image_height) == (astronaut.shape[1], astronaut.shape[0])
        assert len(last.faces) == 1, f"{encoding} with {padding} bytes of row padding: no face"
        assert [results[s].frame_index for s in stamps] == [0, 1, 2]  # counts processed frames
        roi = last.faces[0].roi
        assert 150 <= roi.x_offset + roi.width / 2 <= 300 and 60 <= roi.y_offset + roi.height / 2 <= 200
    finally:
        node.close()


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_compressed_images_give_faces(peer, astronaut, fmt):
    node = InProcessNode(peer, f"img_compressed_{fmt}", {"input_transport": "compressed", "mie.enabled": False}).start()
    try:
        stamps = [START_NS + i * PERIOD_NS for i in range(3)]
        results = send_and_collect(peer, node, [compressed_message(astronaut, fmt, stamp=s) for s in stamps],
                                   compressed=True)
        assert sorted(results) == stamps and len(results[stamps[-1]].faces) == 1
        assert results[stamps[-1]].faces[0].expression == "happy"  # the smiling astronaut
    finally:
        node.close()


def test_diagnostics_report_rates_latency_backend_and_models(peer, astronaut):
    node = InProcessNode(peer, "img_diag", {"mie.enabled": False}).start()
    try:
        stamps = [START_NS + i * PERIOD_NS for i in range(5)]
        send_and_collect(peer, node, [image_message(astronaut, stamp=s) for s in stamps])
        status = wait_until(lambda: (s := node.status()) is not None and values(s).get("frames processed") == "5" and s,
                            10, "a /diagnostics status counting the 5 frames")
        kv = values(status)
        assert kv["backend"] == "onnxruntime" and kv["model detector"] == "blazeface_full_192"
        assert kv["input topic"] == node.topic("image") and kv["rejected images"] == "0"
        assert kv["latency p50"].endswith(" ms") and kv["models folder"].endswith("models")
    finally:
        node.close()


def test_stamp_clock_mismatch_and_stamp_zero_are_said_once(peer, astronaut):
    node = InProcessNode(peer, "img_clock", {"mie.enabled": False}).start()
    try:
        old = 1_000_000_000  # 1 s after the epoch: a bag played without --clock
        send_and_collect(peer, node, [image_message(astronaut, stamp=old + i * PERIOD_NS) for i in range(2)])
        warnings = node.logs(LOG_LEVELS["WARN"])
        clock = [t for t in warnings if "node's wall clock" in t]
        assert len(clock) == 1 and "--clock" in clock[0] and "use_sim_time" in clock[0]
        send_and_collect(peer, node, [image_message(astronaut, stamp=0, frame_id="") for _ in range(1)])
        warnings = node.logs(LOG_LEVELS["WARN"])
        assert len([t for t in warnings if "stamp is zero" in t]) == 1
        assert len([t for t in warnings if "frame_id is empty" in t]) == 1
        assert len([t for t in warnings if "went backwards" in t]) == 1
    finally:
        node.close()
