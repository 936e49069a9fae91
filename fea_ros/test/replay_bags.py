"""Real rosbag2 bags for the replay tests, written with rosbags from real photos / the sample clip."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from fea_ros.core.image_msg import bgr_to_compressed_fields, bgr_to_image_fields

REPO_PACKAGE = Path(__file__).resolve().parents[1]
SAMPLE_CLIP = REPO_PACKAGE / "samples" / "faces3.mp4"
CAMERA_TOPIC = "/camera/image_raw"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 40_000_000  # 25 fps


def astronaut_bgr() -> np.ndarray:
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def clip_frames(count: int, size: tuple[int, int] = (640, 360)) -> list[np.ndarray]:
    """The first ``count`` frames of the bundled sample clip, resized to ``size`` (w, h)."""
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    capture.release()
    if len(frames) < count:
        raise RuntimeError(f"{SAMPLE_CLIP} gave {len(frames)} frames, {count} needed")
    return frames


def face_frames(count: int) -> list[np.ndarray]:
    """Frames with real faces: the sample clip when it is there, else the astronaut photo panned slowly."""
    if SAMPLE_CLIP.is_file():
        return clip_frames(count)
    photo = cv2.resize(astronaut_bgr(), (400, 400))
    return [np.ascontiguousarray(np.roll(photo, 2 * i, axis=1)) for i in range(count)]


@dataclass
class BagSpec:
    """What write_bag writes: image frames on CAMERA_TOPIC, optional bad messages and unrelated topics."""

    frames: Sequence[np.ndarray]
    storage: str = "mcap"
    version: int = 9
    compressed: bool = False
    stamps_ns: Sequence[int] | None = None  # header stamps; default START_NS + i * PERIOD_NS
    #: message index -> kind of bad message inserted *instead of* that frame
    bad: dict[int, str] = field(default_factory=dict)
    unrelated: bool = True  # also write std_msgs/String and sensor_msgs/Imu topics
    store: Stores = Stores.ROS2_JAZZY


def _image_message(typestore: Any, image: np.ndarray, stamp_ns: int, compressed: bool,
                   bad: str | None) -> Any:
    header = typestore.types["std_msgs/msg/Header"](
        stamp=typestore.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id="camera_optical_frame")
    if compressed:
        fields = bgr_to_compressed_fields(image, "jpeg", 85)
        if bad == "corrupt_jpeg":
            data = fields["data"].copy()
            data[600:2600] = 0x55
            fields["data"] = data
        elif bad == "zero_size":
            fields["data"] = np.zeros(0, np.uint8)
        elif bad not in (None, "truncated_cdr"):
            raise ValueError(f"no compressed bad kind {bad}")
        return typestore.types["sensor_msgs/msg/CompressedImage"](header=header, **fields)
    fields = bgr_to_image_fields(image, "rgb8")
    if bad == "truncated_data":
        fields["data"] = fields["data"][: fields["data"].size // 2]
    elif bad == "bad_step":
        fields["step"] = fields["width"] * 2
    elif bad == "unknown_encoding":
        fields["encoding"] = "32FC7"
    elif bad == "zero_size":
        fields.update(height=0, width=0, step=0, data=np.zeros(0, np.uint8))
    elif bad == "padded":  # not bad: valid row padding that a reader must honour
        h, w = fields["height"], fields["width"]
        padded = np.zeros((h, w * 3 + 64), np.uint8)
        padded[:, : w * 3] = fields["data"].reshape(h, w * 3)
        fields.update(step=w * 3 + 64, data=padded.reshape(-1))
    elif bad not in (None, "truncated_cdr"):
        raise ValueError(f"no raw bad kind {bad}")
    return typestore.types["sensor_msgs/msg/Image"](header=header, **fields)


def write_bag(path: Path, spec: BagSpec) -> Path:
    """Write ``spec`` as a rosbag2 folder at ``path`` and return the path.

    Log times are START_NS + i * PERIOD_NS; header stamps come from ``spec.stamps_ns``.
    """
    typestore = get_typestore(spec.store)
    msgtype = "sensor_msgs/msg/CompressedImage" if spec.compressed else "sensor_msgs/msg/Image"
    stamps = list(spec.stamps_ns) if spec.stamps_ns is not None else [
        START_NS + i * PERIOD_NS for i in range(len(spec.frames))]
    with Writer(path, version=spec.version, storage_plugin=STORAGES[spec.storage]) as writer:
        if spec.unrelated:
            chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=typestore)
            imu = writer.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=typestore)
        camera = writer.add_connection(CAMERA_TOPIC, msgtype, typestore=typestore)
        for index, (image, stamp) in enumerate(zip(spec.frames, stamps)):
            bad = spec.bad.get(index)
            raw = typestore.serialize_cdr(_image_message(typestore, image, stamp, spec.compressed, bad), msgtype)
            if bad == "truncated_cdr":
                raw = raw[: len(raw) // 3]
            # log time strictly increasing even when header stamps jump back (a looped recording)
            writer.write(camera, START_NS + index * PERIOD_NS, raw)
            if spec.unrelated:
                text = typestore.types["std_msgs/msg/String"](data=f"frame {index}")
                writer.write(chatter, START_NS + index * PERIOD_NS + 1,
                             typestore.serialize_cdr(text, "std_msgs/msg/String"))
                writer.write(imu, START_NS + index * PERIOD_NS + 2,
                             typestore.serialize_cdr(_imu(typestore, stamp), "sensor_msgs/msg/Imu"))
    return path


def _imu(typestore: Any, stamp_ns: int) -> Any:
    types = typestore.types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id="imu")
    vector = types["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=9.81)
    return types["sensor_msgs/msg/Imu"](
        header=header, orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9), angular_velocity=vector, angular_velocity_covariance=np.zeros(9),
        linear_acceleration=vector, linear_acceleration_covariance=np.zeros(9))
