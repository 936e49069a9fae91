"""fea_ros_msgs types for code without ROS: the .msg files registered in a rosbags Typestore.

The ``.msg`` files in ``fea_ros_msgs/msg/`` are the one definition of the messages. The node uses the classes
that ``colcon build`` generates from them; everything else (bag writing, replay, tests) gets the same
types from the same files through rosbags::

    store = fea_ros_typestore("jazzy")          # or "humble"
    FaceExpressionArray = store.types[FACE_EXPRESSION_ARRAY]

Where the files are looked up, first hit wins: the source checkout (``fea_ros_msgs/msg`` next to the
``fea_ros`` package), ``<sys.prefix>/share/fea_ros/msg`` (installed by fea_ros's setup.py), the ament share
folder of ``fea_ros`` and then of ``fea_ros_msgs`` (a ROS install).
"""
from __future__ import annotations

import sys
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from fea_ros.ros.errors import MessageDefinitionError

PACKAGE = "fea_ros_msgs"
FACE_EXPRESSION = f"{PACKAGE}/msg/FaceExpression"
FACE_EXPRESSION_ARRAY = f"{PACKAGE}/msg/FaceExpressionArray"
MICRO_EXPRESSION_EVENT = f"{PACKAGE}/msg/MicroExpressionEvent"
MESSAGE_NAMES: tuple[str, ...] = (FACE_EXPRESSION, FACE_EXPRESSION_ARRAY, MICRO_EXPRESSION_EVENT)

DISTRO_STORES: dict[str, Stores] = {"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY}


def _ament_share(package: str) -> Path | None:
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:  # not a ROS install
        return None
    try:
        return Path(get_package_share_directory(package))
    except Exception:  # PackageNotFoundError, or a broken AMENT_PREFIX_PATH
        return None


def candidate_msg_dirs() -> list[Path]:
    """Folders that may hold the fea_ros_msgs .msg files, in lookup order."""
    candidates = [
        Path(__file__).resolve().parents[3] / PACKAGE / "msg",
        Path(sys.prefix) / "share" / "fea_ros" / "msg",
    ]
    for package in ("fea_ros", PACKAGE):
        share = _ament_share(package)
        if share is not None:
            candidates.append(share / "msg")
    return candidates


def find_msg_dir(override: str | Path | None = None) -> Path:
    """The folder holding FaceExpression.msg, FaceExpressionArray.msg and MicroExpressionEvent.msg."""
    candidates = [Path(override)] if override else candidate_msg_dirs()
    for candidate in candidates:
        if all((candidate / f"{name.rsplit('/', 1)[1]}.msg").is_file() for name in MESSAGE_NAMES):
            return candidate
    raise MessageDefinitionError(
        "the fea_ros_msgs .msg files were not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "). Run from a source checkout, install fea_ros with 'pip install ./fea_ros', "
        "or source a ROS workspace where fea_ros_msgs is built."
    )


def message_definitions(msg_dir: str | Path | None = None) -> dict[str, str]:
    """Type name -> .msg text for every fea_ros_msgs message."""
    folder = find_msg_dir(msg_dir)
    return {name: (folder / f"{name.rsplit('/', 1)[1]}.msg").read_text(encoding="utf-8") for name in MESSAGE_NAMES}


def fea_ros_typestore(distro: str = "jazzy", msg_dir: str | Path | None = None) -> Typestore:
    """A rosbags Typestore of ``distro``'s standard messages plus the fea_ros_msgs types."""
    if distro not in DISTRO_STORES:
        raise MessageDefinitionError(f"unknown ROS distro '{distro}'; use one of: {', '.join(DISTRO_STORES)}")
    store = get_typestore(DISTRO_STORES[distro])
    types: dict = {}
    for name, text in message_definitions(msg_dir).items():
        try:
            types.update(get_types_from_msg(text, name))
        except Exception as error:  # rosbags raises its own parse errors
            raise MessageDefinitionError(f"cannot parse {name}.msg: {error}") from error
    store.register(types)
    return store
