"""Camera messages -> pipeline frames for the node, with every unusable image named, counted and logged.

Framework-free. The conversion is fea_ros's own (core/image_msg.py), on every install: ROS's cv_bridge
shears rows whose ``step`` is padded by a number of bytes that is not a whole pixel (vision_opencv#400),
is built against numpy 1.x, and is not on PyPI. Messages that the pipeline cannot use raise
ImageMessageError with a ``reason`` (the kind); images that can be used but have a defect worth knowing
about (stamp zero, no frame_id, stamps going backwards) are processed and noted once.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fea_ros.core.image_msg import ImageMessageError, compressed_to_bgr, image_to_bgr
from fea_ros.core.types import Frame

#: depth cameras' encodings: converting them to grey would hide a wrong topic remapping
DEPTH_ENCODINGS = ("16uc1", "32fc1")
#: the largest image processed; a bigger one is rejected (it would hold hundreds of MB per copy)
MAX_PIXELS = 7680 * 4320


def _stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def to_frame(msg: Any, compressed: bool, min_side_px: float = 20.0) -> Frame:
    """A Frame of ``msg`` (sensor_msgs/Image or CompressedImage); ImageMessageError names what is wrong.

    ``min_side_px`` is the smallest face the pipeline looks for (detection.min_face_px): a smaller image
    cannot hold one.
    """
    if not compressed:
        if str(msg.encoding).strip().lower() in DEPTH_ENCODINGS:
            raise ImageMessageError(
                "depth_image", f"encoding '{msg.encoding}' is a depth image, which holds no face to analyse; "
                "subscribe the node to the camera's colour or mono image topic (e.g. .../color/image_raw)")
        width, height = int(msg.width), int(msg.height)
        if width * height > MAX_PIXELS:
            raise ImageMessageError(
                "too_large", f"image is {width}x{height} pixels, more than the {MAX_PIXELS} (8K) the node "
                "accepts; lower the camera resolution or publish a resized image")
    image = compressed_to_bgr(msg) if compressed else image_to_bgr(msg)
    if compressed and image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageMessageError(
            "too_large", f"decoded image is {image.shape[1]}x{image.shape[0]} pixels, more than the node "
            "accepts; lower the camera resolution")
    if min(image.shape[:2]) < min_side_px:
        raise ImageMessageError(
            "too_small", f"image is {image.shape[1]}x{image.shape[0]} pixels, too small to hold a face of "
            f"detection.min_face_px ({min_side_px:g} px); check the camera resolution or binning")
    return Frame(image=np.ascontiguousarray(image), stamp_ns=_stamp_ns(msg.header), frame_id=str(msg.header.frame_id))


@dataclass
class InputNotes:
    """Defects of usable images, each reported once per activation: (kind, text) pairs for the log."""

    last_stamp_ns: int | None = None
    seen: set[str] = field(default_factory=set)

    def check(self, frame: Frame) -> list[tuple[str, str]]:
        notes: list[tuple[str, str]] = []
        if frame.stamp_ns == 0:
            notes.append(("stamp_zero", "image header.stamp is zero: the camera driver does not stamp its "
                                        "images, so results carry stamp 0 and latency cannot be measured; "
                                        "set the driver's timestamping"))
        if not frame.frame_id:
            notes.append(("empty_frame_id", "image header.frame_id is empty: results cannot be placed in TF; "
                                            "set the camera driver's frame_id (e.g. camera_color_optical_frame)"))
        if self.last_stamp_ns is not None and frame.stamp_ns < self.last_stamp_ns:
            notes.append(("stamp_backwards", f"image stamp went backwards by "
                                             f"{(self.last_stamp_ns - frame.stamp_ns) / 1e9:.3f} s (a bag loop or "
                                             "a clock jump): the face tracks restart"))
        self.last_stamp_ns = frame.stamp_ns
        fresh = [(kind, text) for kind, text in notes if kind not in self.seen]
        self.seen.update(kind for kind, _ in notes)
        return fresh


class RejectLog:
    """Counts unusable images by kind and says when a kind is due to be logged again (once per period)."""

    def __init__(self, period_s: float = 10.0) -> None:
        self.period_s = period_s
        self.counts: Counter[str] = Counter()
        self._logged_at: dict[str, float] = {}

    def add(self, error: ImageMessageError, now_s: float) -> str | None:
        """Count ``error``; the text to log now, or None while its kind was logged less than a period ago."""
        self.counts[error.reason] += 1
        last = self._logged_at.get(error.reason)
        if last is not None and now_s - last < self.period_s:
            return None
        self._logged_at[error.reason] = now_s
        count = self.counts[error.reason]
        return (f"rejected an image ({error.reason}, {count} so far): {error}. "
                f"Other images go on being processed; this kind is logged at most every {self.period_s:.0f} s")

    def reset(self) -> None:
        self.counts.clear()
        self._logged_at.clear()


class SequenceGaps:
    """Frames lost before the node saw them, from the gaps in the publisher's sequence numbers.

    A depth-1 reader (the node wants the newest frame only) lets DDS discard frames the executor has not
    taken yet; only the numbering shows them. A number that goes back (a second publisher, a restarted
    camera) starts counting afresh.
    """

    UNSUPPORTED = 0  # what rmw reports when the middleware does not number samples

    def __init__(self) -> None:
        self.last: int | None = None

    def gap(self, sequence_number: int) -> int:
        if sequence_number == self.UNSUPPORTED or sequence_number >= 2**63:
            return 0
        lost = sequence_number - self.last - 1 if self.last is not None and sequence_number > self.last else 0
        self.last = sequence_number
        return lost
