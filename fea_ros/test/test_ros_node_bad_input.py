"""Bad input over DDS to the real node: every kind rejected with its own reason, counted, logged once per
period, and every valid frame between them still processed.
"""
import time

import cv2
import numpy as np
import pytest

from ros_harness import (LOG_LEVELS, InProcessNode, compressed_message, image_message, reliable, set_stamp,
                         stamp_ns, values, wait_until)

START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 33_333_333


def raw_defects(astronaut):
    """kind -> a broken sensor_msgs/Image."""
    from sensor_msgs.msg import Image

    def edit(**fields):
        msg = image_message(astronaut)
        for name, value in fields.items():
            setattr(msg, name, value)
        return msg

    good = image_message(astronaut)
    return {
        "bad_step": edit(step=good.step - 3),  # a row shorter than width x 3 bytes
        "truncated_data": edit(data=bytes(good.data)[: len(good.data) // 2]),
        "unknown_encoding": edit(encoding="weird42"),
        "depth_image": Image(height=4, width=4, encoding="16UC1", step=8, data=bytes(32)),
        "zero_size": Image(height=0, width=0, encoding="bgr8", step=0, data=b""),
    }


def compressed_defects(astronaut):
    from sensor_msgs.msg import CompressedImage

    jpeg = compressed_message(astronaut, "jpeg")
    return {
        "corrupt_compressed": CompressedImage(format="jpeg", data=bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8))),
        "truncated_jpeg": CompressedImage(format="jpeg", data=bytes(jpeg.data)[: len(jpeg.data) // 2]),
        "zero_size": CompressedImage(format="jpeg", data=b""),
    }


EXPECTED_REASON = {"truncated_jpeg": "corrupt_compressed"}


def run_interleaved(peer, node, defects, valid, compressed):
    """Each defect twice, a valid frame after each; returns the faces results."""
    from fea_ros_msgs.msg import FaceExpressionArray
    from sensor_msgs.msg import CompressedImage, Image

    faces = peer.collect(FaceExpressionArray, node.topic("faces"), reliable(100))
    publisher = peer.publisher(CompressedImage if compressed else Image,
                               node.topic("image/compressed" if compressed else "image"), reliable(2))
    peer.wait_for_subscriber(publisher)
    node.wait_reliable()
    index = 0
    for round_ in range(2):
        for kind, bad in defects.items():
            rejected = sum(node.rejected().values())
            set_stamp(bad.header, START_NS + index * PERIOD_NS)
            publisher.publish(bad)
            wait_until(lambda: sum(node.rejected().values()) > rejected, 20, f"the {kind} image to be rejected")
            index += 1
            good = valid(START_NS + index * PERIOD_NS)
            publisher.publish(good)
            wanted = stamp_ns(good.header)
            wait_until(lambda: any(stamp_ns(m.header) == wanted for m in faces.snapshot()), 60,
                       f"the valid frame after {kind}")
            index += 1
    return faces.snapshot()


@pytest.mark.parametrize("transport", ["raw", "compressed"])
def test_bad_images_are_rejected_counted_and_logged_once_while_valid_frames_go_on(peer, astronaut, transport):
    compressed = transport == "compressed"
    defects = compressed_defects(astronaut) if compressed else raw_defects(astronaut)
    node = InProcessNode(peer, f"bad_{transport}", {"input_transport": transport, "mie.enabled": False}).start()
    try:
        if compressed:
            results = run_interleaved(peer, node, defects, lambda s: compressed_message(astronaut, stamp=s), True)
        else:
            results = run_interleaved(peer, node, defects, lambda s: image_message(astronaut, stamp=s), False)
        assert len(results) == 2 * len(defects)  # every valid frame, none of the bad ones
        assert all(len(m.faces) == 1 for m in results[1:])
        assert node.state() == "active"
        reasons = {EXPECTED_REASON.get(kind, kind) for kind in defects}
        node.wait_log(lambda t: t.startswith("rejected an image"), LOG_LEVELS["WARN"])
        wait_until(lambda: all(any(t.startswith(f"rejected an image ({r},") for t in node.logs(LOG_LEVELS["WARN"]))
                               for r in reasons), 20, "a warning for every kind")
        warnings = node.logs(LOG_LEVELS["WARN"])
        for reason in reasons:
            logged = [t for t in warnings if t.startswith(f"rejected an image ({reason},")]
            assert len(logged) == 1, f"{reason}: logged {len(logged)} times within one period"
        assert not node.logs(LOG_LEVELS["ERROR"]), "a bad image was reported as a pipeline failure"
        expected_counts = {}
        for kind in defects:
            reason = EXPECTED_REASON.get(kind, kind)
            expected_counts[reason] = expected_counts.get(reason, 0) + 2
        status = wait_until(lambda: (s := node.status()) is not None
                            and values(s).get("rejected images") == str(2 * len(defects)) and s, 10,
                            "/diagnostics counting the rejected images")
        for reason, count in expected_counts.items():
            assert values(status)[f"rejected {reason}"] == str(count)
    finally:
        node.close()


def test_a_tiny_image_is_rejected_and_an_8k_image_is_processed(peer, astronaut):
    from fea_ros_msgs.msg import FaceExpressionArray
    from sensor_msgs.msg import Image

    node = InProcessNode(peer, "bad_sizes", {"mie.enabled": False}).start()
    try:
        faces = peer.collect(FaceExpressionArray, node.topic("faces"), reliable(10))
        publisher = peer.publisher(Image, node.topic("image"), reliable(1))
        peer.wait_for_subscriber(publisher)
        node.wait_reliable()
        publisher.publish(image_message(np.full((1, 1, 3), 128, np.uint8), stamp=START_NS))
        wait_until(lambda: node.rejected().get("too_small") == 1, 20, "the 1x1 image to be rejected")
        huge = np.zeros((4320, 7680, 3), np.uint8)
        huge[1000:1512, 3000:3512] = cv2.resize(astronaut, (512, 512))
        stamp = START_NS + PERIOD_NS
        publisher.publish(image_message(huge, stamp=stamp))
        wait_until(lambda: any(stamp_ns(m.header) == stamp for m in faces.snapshot()), 120, "the 8K frame's result")
        result = next(m for m in faces.snapshot() if stamp_ns(m.header) == stamp)
        assert (result.image_width, result.image_height) == (7680, 4320)
        assert node.state() == "active" and not node.logs(LOG_LEVELS["ERROR"])
        node.wait_log(lambda t: t.startswith("rejected an image (too_small,"), LOG_LEVELS["WARN"])
    finally:
        node.close()


def test_no_image_for_the_timeout_names_the_image_topics_that_exist(peer):
    from sensor_msgs.msg import CompressedImage, Image

    decoy = peer.publisher(Image, "/elsewhere/camera/image_raw", 10)
    decoy2 = peer.publisher(CompressedImage, "/elsewhere/camera/image_raw/compressed", 10)
    node = InProcessNode(peer, "silent", {"diagnostics.input_timeout_s": 1.0}).start()
    try:
        warning = wait_until(lambda: [t for t in node.logs(LOG_LEVELS["WARN"]) if t.startswith("no image on")], 15,
                             "the no-input warning")
        text = warning[0]
        assert node.topic("image") in text and "sensor_msgs/msg/Image" in text
        assert "/elsewhere/camera/image_raw (sensor_msgs/msg/Image)" in text
        assert "/elsewhere/camera/image_raw/compressed (sensor_msgs/msg/CompressedImage)" in text
        time.sleep(2.5)
        assert len([t for t in node.logs(LOG_LEVELS["WARN"]) if t.startswith("no image on")]) == 1  # once
        from diagnostic_msgs.msg import DiagnosticStatus

        status = wait_until(lambda: (s := node.status()) is not None and s.level == DiagnosticStatus.WARN and s, 10,
                            "WARN status")
        assert "/elsewhere/camera/image_raw" in status.message
    finally:
        node.close()
        peer.node.destroy_publisher(decoy)
        peer.node.destroy_publisher(decoy2)


def test_a_best_effort_camera_and_a_reliable_subscription_are_explained(peer, astronaut):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    node = InProcessNode(peer, "qos_mismatch", {"qos": "reliable", "diagnostics.input_timeout_s": 1.0}).start()
    camera = peer.publisher(Image, node.topic("image"), qos_profile_sensor_data)
    try:
        for i in range(30):
            camera.publish(image_message(astronaut, stamp=START_NS + i * PERIOD_NS))
            time.sleep(0.05)
        warning = wait_until(lambda: [t for t in node.logs(LOG_LEVELS["WARN"]) if t.startswith("no image on")], 15,
                             "the no-input warning")
        assert "offer best effort" in warning[0] and "qos to auto or sensor_data" in warning[0]
    finally:
        node.close()
        peer.node.destroy_publisher(camera)


def test_qos_auto_subscribes_reliable_to_a_reliable_camera_of_large_frames(peer, astronaut):
    from fea_ros_msgs.msg import FaceExpressionArray
    from sensor_msgs.msg import Image

    node = InProcessNode(peer, "qos_large", {"mie.enabled": False}).start()
    camera = peer.publisher(Image, node.topic("image"), reliable(1))
    faces = peer.collect(FaceExpressionArray, node.topic("faces"), reliable(50))
    try:
        node.wait_reliable("qos auto to follow the reliable camera")
        frame = cv2.resize(astronaut, (1920, 1080))
        for i in range(20):  # 1080p bgr8 at 10 Hz: 6 MB messages
            camera.publish(image_message(frame, stamp=START_NS + i * 100_000_000))
            time.sleep(0.1)
        wait_until(lambda: len(faces.snapshot()) >= 3, 30, "1080p frames to arrive and be processed")
    finally:
        node.close()
        peer.node.destroy_publisher(camera)
