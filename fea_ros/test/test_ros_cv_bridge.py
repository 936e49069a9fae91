"""fea_ros's own Image converter (ROS-less paths) gives cv_bridge's arrays (the node's converter)."""
import numpy as np
import pytest

cv_bridge = pytest.importorskip("cv_bridge", reason="cv_bridge needs a ROS install")
sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason="sensor_msgs needs a ROS install")
skimage_data = pytest.importorskip("skimage.data")

import cv2  # noqa: E402

from fea_ros.core.image_msg import ImageMessageError, compressed_to_bgr, image_to_bgr  # noqa: E402


@pytest.fixture(scope="module")
def astronaut_bgr():
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8", "bgra8", "rgba8"])
def test_same_arrays_as_cv_bridge(astronaut_bgr, encoding):
    bridge = cv_bridge.CvBridge()
    conversions = {"bgr8": None, "rgb8": cv2.COLOR_BGR2RGB, "mono8": cv2.COLOR_BGR2GRAY,
                   "bgra8": cv2.COLOR_BGR2BGRA, "rgba8": cv2.COLOR_BGR2RGBA}
    image = astronaut_bgr if conversions[encoding] is None else cv2.cvtColor(astronaut_bgr, conversions[encoding])
    msg = bridge.cv2_to_imgmsg(np.ascontiguousarray(image), encoding=encoding)
    np.testing.assert_array_equal(image_to_bgr(msg), bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8"))


def test_row_padding_is_honoured_like_cv_bridge(astronaut_bgr):
    bridge = cv_bridge.CvBridge()
    height, width = astronaut_bgr.shape[:2]
    step = width * 3 + 64
    padded = np.zeros((height, step), dtype=np.uint8)
    padded[:, : width * 3] = astronaut_bgr.reshape(height, -1)
    msg = sensor_msgs.Image(height=height, width=width, encoding="bgr8", is_bigendian=0, step=step,
                            data=padded.tobytes())
    np.testing.assert_array_equal(image_to_bgr(msg), bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8"))
    np.testing.assert_array_equal(image_to_bgr(msg), astronaut_bgr)


def test_truncated_data_is_rejected(astronaut_bgr):
    msg = cv_bridge.CvBridge().cv2_to_imgmsg(astronaut_bgr, encoding="bgr8")
    msg.data = bytes(msg.data)[: len(msg.data) // 2]
    with pytest.raises(ImageMessageError):
        image_to_bgr(msg)


def test_compressed_same_as_cv_bridge(astronaut_bgr):
    bridge = cv_bridge.CvBridge()
    for fmt in ("jpg", "png"):
        msg = bridge.cv2_to_compressed_imgmsg(astronaut_bgr, dst_format=fmt)
        np.testing.assert_array_equal(compressed_to_bgr(msg), bridge.compressed_imgmsg_to_cv2(msg, "bgr8"))
