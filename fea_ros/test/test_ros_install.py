"""The ROS install stays complete and numpy-safe: every runtime requirement of setup.py has its rosdep key in
package.xml (keys of rosdistro's rosdep/python.yaml), and the pip constraints keep numpy 1.x in a ROS Python."""
from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO = PACKAGE_DIR.parent
CONSTRAINTS = PACKAGE_DIR / "config" / "ros-constraints.txt"

#: PyPI name in setup.py -> rosdep key (rosdistro rosdep/python.yaml); None = not a runtime dependency in ROS
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "opencv-python-headless": "python3-opencv",
    "onnxruntime": "python3-onnxruntime-pip",
    "rosbags": "python3-rosbags-pip",
    "pyyaml": "python3-yaml",
    "scipy": "python3-scipy",
    "matplotlib": "python3-matplotlib",
    "tqdm": "python3-tqdm",
    "setuptools": None,  # colcon's ament_python build, not the node
}


def install_requires() -> list[Requirement]:
    tree = ast.parse((PACKAGE_DIR / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return [Requirement(text) for text in ast.literal_eval(node.value)]
    raise AssertionError("setup.py has no install_requires")


def exec_depends() -> set[str]:
    root = ElementTree.parse(PACKAGE_DIR / "package.xml").getroot()
    return {element.text or "" for element in root.iter() if element.tag in ("exec_depend", "depend")}


def constraints() -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in CONSTRAINTS.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def test_every_runtime_requirement_has_its_rosdep_key_in_package_xml():
    depends = exec_depends()
    names = [requirement.name.lower() for requirement in install_requires()]
    assert set(names) <= set(ROSDEP_KEYS), f"map the new requirement(s) to rosdep keys: {set(names) - set(ROSDEP_KEYS)}"
    missing = [ROSDEP_KEYS[name] for name in names if ROSDEP_KEYS[name] and ROSDEP_KEYS[name] not in depends]
    assert missing == []
    assert "rosbag2_storage_mcap" in depends  # bag:= plays the MCAP sample bags; a separate plugin on Humble
    assert "cv_bridge" not in depends  # the node converts images itself; cv_bridge is a test dependency only


@pytest.mark.parametrize("python", ["3.10", "3.12"], ids=["humble", "jazzy"])
def test_the_constraints_keep_numpy_1_and_a_numpy_1_opencv_for_each_ros_python(python):
    environment = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0"}
    active = [c for c in constraints() if c.marker is None or c.marker.evaluate(environment)]
    numpy = [c.specifier for c in active if c.name == "numpy"]
    assert numpy and all("2.0" not in specifier for specifier in numpy)
    assert all(specifier.contains("1.24.4") for specifier in numpy)  # a numpy 1.x onnxruntime accepts (>=1.21.6)
    if python == "3.10":  # Ubuntu 22.04's SciPy 1.8 requires numpy < 1.25
        assert not any(specifier.contains("1.26.4") for specifier in numpy)
    opencv = [c.specifier for c in active if c.name == "opencv-python-headless"]
    assert opencv and not any(specifier.contains("4.12.0.88") for specifier in opencv)  # 4.12 needs numpy >= 2
    assert all(specifier.contains("4.11.0.86") for specifier in opencv)


def test_the_documented_pip_lines_use_the_constraints_file():
    pip_lines = [line for path in (REPO / "README.md", REPO / "docs" / "ros.md")
                 for line in path.read_text().splitlines() if re.search(r"pip install .*onnxruntime", line)]
    assert pip_lines
    assert all("-c src/fea_ros/fea_ros/config/ros-constraints.txt" in line for line in pip_lines), pip_lines
