"""sensor_msgs/CameraInfo -> camera intrinsics for the head pose, matched to images by stamp (framework-free).

The node (live subscription) and the bag replay (the bag's camera_info topic) both feed CameraInfo messages
into a CameraInfoMatcher and ask it for the intrinsics of each image: the message with the image's stamp,
else the latest one before it (a calibration rarely changes), else none (the pipeline then assumes
camera.fov_deg). Messages are read duck-typed (``k``, ``width``, ``height``, ``header.stamp``), so rclpy and
rosbags classes both work. An uncalibrated camera (K all zeros) is ignored with one warning.
"""
from __future__ import annotations

import bisect
import logging
from typing import Any

from fea_ros.core.camera import CameraIntrinsics
from fea_ros.core.errors import InputError

log = logging.getLogger(__name__)

CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


def camera_info_topic(image_topic: str) -> str:
    """The sibling camera_info topic of an image topic (image_transport convention).

    /camera/image_raw -> /camera/camera_info; /camera/image_raw/compressed -> /camera/camera_info.
    """
    parts = [p for p in image_topic.split("/") if p]
    if parts and parts[-1] in ("compressed", "compressedDepth", "theora"):
        parts = parts[:-1]
    namespace = parts[:-1]
    return "/" + "/".join([*namespace, "camera_info"])


def message_stamp_ns(message: Any) -> int:
    stamp = message.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def intrinsics_from_camera_info(message: Any) -> CameraIntrinsics:
    """CameraIntrinsics of one CameraInfo (InputError if K is not a calibration)."""
    k = getattr(message, "k", None)
    if k is None:
        k = getattr(message, "K")
    return CameraIntrinsics.from_k(list(k), int(message.width), int(message.height))


class CameraInfoMatcher:
    """The latest ``keep`` CameraInfo messages by stamp; ``match(stamp)`` gives the image's intrinsics."""

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self._stamps: list[int] = []
        self._intrinsics: list[CameraIntrinsics] = []
        self.received = 0
        self._warned = False

    def add(self, message: Any) -> bool:
        """Keep one CameraInfo; False (and one warning per matcher) if it carries no usable calibration."""
        try:
            intrinsics = intrinsics_from_camera_info(message)
        except (InputError, AttributeError, TypeError, ValueError) as exc:
            if not self._warned:
                log.warning("ignoring CameraInfo without a usable K (%s); head pose uses camera.fov_deg", exc)
                self._warned = True
            return False
        if intrinsics.width <= 0 or intrinsics.height <= 0:
            if not self._warned:
                log.warning("ignoring CameraInfo with image size %dx%d; head pose uses camera.fov_deg",
                            intrinsics.width, intrinsics.height)
                self._warned = True
            return False
        stamp = message_stamp_ns(message)
        index = bisect.bisect_left(self._stamps, stamp)
        if index < len(self._stamps) and self._stamps[index] == stamp:
            self._intrinsics[index] = intrinsics
        else:
            self._stamps.insert(index, stamp)
            self._intrinsics.insert(index, intrinsics)
        if len(self._stamps) > self.keep:
            del self._stamps[0], self._intrinsics[0]
        self.received += 1
        return True

    def on_message(self, message: Any) -> None:
        """Subscription callback (rclpy wants one that returns None)."""
        self.add(message)

    def match(self, stamp_ns: int) -> CameraIntrinsics | None:
        """The CameraInfo with this stamp, else the latest before it, else the earliest after it, else None."""
        if not self._stamps:
            return None
        index = bisect.bisect_right(self._stamps, stamp_ns)
        return self._intrinsics[index - 1] if index > 0 else self._intrinsics[0]

    def __len__(self) -> int:
        return len(self._stamps)
