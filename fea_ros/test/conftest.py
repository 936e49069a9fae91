"""Fixtures shared by the real-rclpy node tests (test_ros_node_*.py): the test's ROS peer and the photo."""
import cv2
import pytest

from ros_harness import ROS_MISSING, RosPeer


@pytest.fixture(scope="module")
def peer():
    """The test module's own rclpy context, node and executor thread; skips without rclpy (`make test` has it)."""
    if ROS_MISSING:
        pytest.skip(ROS_MISSING)
    ros = RosPeer()
    yield ros
    ros.close()


@pytest.fixture(scope="session")
def astronaut():
    """scikit-image's astronaut photo (one smiling face), BGR."""
    skimage_data = pytest.importorskip("skimage.data", reason="the astronaut photo comes from scikit-image")
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
