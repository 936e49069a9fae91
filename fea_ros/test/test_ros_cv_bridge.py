"""fea_ros's own Image converter (ROS-less paths) gives cv_bridge's arrays (the node's converter).

The imports that may be missing are skipped per test, not per module: under ``colcon test`` launch_testing's
pytest plugin imports every test module while collecting, and a module-level skip there skips the whole
test folder (launch_testing/pytest/hooks.py only catches SyntaxError around that import).
"""
import cv2
import numpy as np
import pytest

from fea_ros.core.image_msg import ImageMessageError, compressed_to_bgr, image_to_bgr


@pytest.fixture(scope="module")
def cv_bridge():
    return pytest.importorskip("cv_bridge", reason="cv_bridge needs a ROS install")


@pytest.fixture(scope="module")
def sensor_msgs():
    return pytest.importorskip("sensor_msgs.msg", reason="sensor_msgs needs a ROS install")


@pytest.fixture(scope="module")
def astronaut_bgr():
    skimage_data = pytest.importorskip("skimage.data", reason="the astronaut test image comes from scikit-image")
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8", "bgra8", "rgba8"])
def test_same_arrays_as_cv_bridge(cv_bridge, astronaut_bgr, encoding):
    bridge = cv_bridge.CvBridge()
    conversions = {"bgr8": None, "rgb8": cv2.COLOR_BGR2RGB, "mono8": cv2.COLOR_BGR2GRAY,
                   "bgra8": cv2.COLOR_BGR2BGRA, "rgba8": cv2.COLOR_BGR2RGBA}
    image = astronaut_bgr if conversions[encoding] is None else cv2.cvtColor(astronaut_bgr, conversions[encoding])
    msg = bridge.cv2_to_imgmsg(np.ascontiguousarray(image), encoding=encoding)
    np.testing.assert_array_equal(image_to_bgr(msg), bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8"))


def test_row_padding_is_honoured_like_cv_bridge(cv_bridge, sensor_msgs, astronaut_bgr):
    bridge = cv_bridge.CvBridge()
    height, width = astronaut_bgr.shape[:2]
    # whole pixels of padding: cv_bridge reads rows as step // 3 pixels (vision_opencv#400), so a padding
    # that is not a multiple of the pixel size skews its rows while fea_ros's converter stays right
    step = width * 3 + 48
    padded = np.zeros((height, step), dtype=np.uint8)
    padded[:, : width * 3] = astronaut_bgr.reshape(height, -1)
    msg = sensor_msgs.Image(height=height, width=width, encoding="bgr8", is_bigendian=0, step=step,
                            data=padded.tobytes())
    np.testing.assert_array_equal(image_to_bgr(msg), bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8"))
    np.testing.assert_array_equal(image_to_bgr(msg), astronaut_bgr)


def test_truncated_data_is_rejected(cv_bridge, astronaut_bgr):
    msg = cv_bridge.CvBridge().cv2_to_imgmsg(astronaut_bgr, encoding="bgr8")
    msg.data = bytes(msg.data)[: len(msg.data) // 2]
    with pytest.raises(ImageMessageError):
        image_to_bgr(msg)


def test_compressed_same_as_cv_bridge(cv_bridge, astronaut_bgr):
    bridge = cv_bridge.CvBridge()
    for fmt in ("jpg", "png"):
        msg = bridge.cv2_to_compressed_imgmsg(astronaut_bgr, dst_format=fmt)
        np.testing.assert_array_equal(compressed_to_bgr(msg), bridge.compressed_imgmsg_to_cv2(msg, "bgr8"))
