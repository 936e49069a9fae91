"""Checks of the Python the node runs in, made at configure time with a message that says what to do."""
from __future__ import annotations

import os
from pathlib import Path

#: where the ROS distributions' binary packages install their Python modules
DISTRO_ROOT = Path("/opt/ros")


def numpy_problem(numpy_version: str, numpy_path: str, rclpy_path: str, ros_distro: str) -> str | None:
    """Why numpy ``numpy_version`` cannot run in this ROS Python, or None.

    Humble's and Jazzy's binary packages (cv_bridge, tf2's and others' C extensions) are built against numpy
    1.x; a numpy 2 that pip put on the path makes them fail to import or crash with a segfault on the first
    image. The PyPI Jazzy wheels (`make test`) and source builds are built against numpy 2 and are fine.
    """
    if int(numpy_version.split(".")[0]) < 2:
        return None
    if not Path(rclpy_path).resolve().is_relative_to(DISTRO_ROOT):
        return None
    distro = ros_distro or Path(rclpy_path).resolve().relative_to(DISTRO_ROOT).parts[0]
    return (f"numpy {numpy_version} ({numpy_path}) is on the path of ROS {distro}'s Python, whose compiled "
            "packages (cv_bridge and others) are built against numpy 1.x and crash or fail to import under "
            "numpy 2. Remove it ('python3 -m pip uninstall numpy', leaving the distribution's python3-numpy) "
            "or reinstall fea_ros's pip dependencies with the constraints file as docs/ros.md shows "
            "('python3 -m pip install -c .../fea_ros/config/ros-constraints.txt ...')")


def current_numpy_problem() -> str | None:
    import numpy
    import rclpy

    return numpy_problem(numpy.__version__, str(Path(numpy.__file__).parent), str(Path(rclpy.__file__).parent),
                         os.environ.get("ROS_DISTRO", ""))
