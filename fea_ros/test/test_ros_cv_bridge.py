"""fea_ros's own Image converter gives cv_bridge's arrays on unpadded images, where cv_bridge is installed.

The node converts with fea_ros's converter on every install (cv_bridge shears rows padded by a number of bytes
that is not a whole pixel, vision_opencv#400); padded rows are tested on the node itself
(test_ros_node_images.py).

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
