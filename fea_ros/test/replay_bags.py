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
CAMERA_INFO_TOPIC = "/camera/camera_info"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 40_000_000  # 25 fps


def astronaut_bgr() -> np.ndarray:
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def clip_frames(count: int, every: int = 1) -> list[np.ndarray]:
    """``count`` frames of the bundled sample clip (640x480), taking every ``every``-th frame."""
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames = []
    position = 0
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        if position % every == 0:
            frames.append(image)
        position += 1
    capture.release()
    if len(frames) < count:
        raise RuntimeError(f"{SAMPLE_CLIP} gave {len(frames)} frames, {count} needed")
    return frames


def face_frames(count: int, every: int = 1) -> list[np.ndarray]:
    """Frames with real faces: the bundled sample clip (three faces moving, one leaving and coming back)."""
    return clip_frames(count, every)


@dataclass
class BagSpec:
    """What write_bag writes: image frames on CAMERA_TOPIC, optional bad messages and unrelated topics."""

    frames: Sequence[np.ndarray]
    storage: str = "mcap"
    version: int = 9
    compressed: bool = False
    stamps_ns: Sequence[int] | None = None  # header stamps; default START_NS + i * PERIOD_NS
    log_ns: Sequence[int] | None = None  # bag receive times; default START_NS + i * PERIOD_NS
    frame_id: str = "camera_optical_frame"
    encoding: str = "rgb8"  # raw images only
    #: message index -> kind of bad message inserted *instead of* that frame
    bad: dict[int, str] = field(default_factory=dict)
    unrelated: bool = True  # also write std_msgs/String and sensor_msgs/Imu topics
    store: Stores = Stores.ROS2_JAZZY
    #: a CameraInfo K (row-major 3x3) to write on the sibling /camera/camera_info with every frame's stamp
    camera_k: Sequence[float] | None = None


def _image_message(typestore: Any, image: np.ndarray, stamp_ns: int, spec: BagSpec, bad: str | None) -> Any:
    header = typestore.types["std_msgs/msg/Header"](
        stamp=typestore.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id=spec.frame_id)
    compressed = spec.compressed
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
    fields = bgr_to_image_fields(image, spec.encoding)
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

    Log times and header stamps default to START_NS + i * PERIOD_NS (``spec.log_ns``, ``spec.stamps_ns``).
    """
    typestore = get_typestore(spec.store)
    msgtype = "sensor_msgs/msg/CompressedImage" if spec.compressed else "sensor_msgs/msg/Image"
    default = [START_NS + i * PERIOD_NS for i in range(len(spec.frames))]
    stamps = list(spec.stamps_ns) if spec.stamps_ns is not None else default
    log_times = list(spec.log_ns) if spec.log_ns is not None else default
    with Writer(path, version=spec.version, storage_plugin=STORAGES[spec.storage]) as writer:
        if spec.unrelated:
            chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=typestore)
            imu = writer.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=typestore)
        camera = writer.add_connection(CAMERA_TOPIC, msgtype, typestore=typestore)
        info = writer.add_connection(CAMERA_INFO_TOPIC, "sensor_msgs/msg/CameraInfo", typestore=typestore) \
            if spec.camera_k is not None else None
        for index, (image, stamp) in enumerate(zip(spec.frames, stamps)):
            if info is not None:
                message = _camera_info(typestore, stamp, image.shape[1], image.shape[0], spec)
                writer.write(info, log_times[index], typestore.serialize_cdr(message, "sensor_msgs/msg/CameraInfo"))
            bad = spec.bad.get(index)
            raw = typestore.serialize_cdr(_image_message(typestore, image, stamp, spec, bad), msgtype)
            if bad == "truncated_cdr":
                raw = raw[: len(raw) // 3]
            writer.write(camera, log_times[index], raw)
            if spec.unrelated:
                text = typestore.types["std_msgs/msg/String"](data=f"frame {index}")
                writer.write(chatter, log_times[index] + 1, typestore.serialize_cdr(text, "std_msgs/msg/String"))
                writer.write(imu, log_times[index] + 2,
                             typestore.serialize_cdr(_imu(typestore, stamp), "sensor_msgs/msg/Imu"))
    return path


def _camera_info(typestore: Any, stamp_ns: int, width: int, height: int, spec: BagSpec) -> Any:
    types = typestore.types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id=spec.frame_id)
    roi = types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    k = np.asarray(spec.camera_k, np.float64)
    p = np.array([k[0], 0, k[2], 0, 0, k[4], k[5], 0, 0, 0, 1, 0], np.float64)
    return types["sensor_msgs/msg/CameraInfo"](
        header=header, height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5), k=k,
        r=np.eye(3).reshape(-1), p=p, binning_x=0, binning_y=0, roi=roi)


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


def as_humble_recording(path: Path) -> Path:
    """Rewrite a rosbags sqlite3 bag in the layout Humble's rosbag2 (0.15) records: metadata version 5, sqlite
    schema 3, no message definitions and no type hashes, so readers must bring their own sensor_msgs types."""
    import sqlite3

    import yaml

    [db_path] = path.glob("*.db3")
    with sqlite3.connect(db_path) as db:
        db.executescript("""
            DROP TABLE message_definitions;
            DROP TABLE metadata;
            CREATE TABLE topics3(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                                 serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);
            INSERT INTO topics3 SELECT id, name, type, serialization_format, offered_qos_profiles FROM topics;
            DROP TABLE topics;
            ALTER TABLE topics3 RENAME TO topics;
            UPDATE schema SET schema_version = 3, ros_distro = 'humble';
        """)
    db.close()
    metadata_path = path / "metadata.yaml"
    metadata = yaml.safe_load(metadata_path.read_text())
    info = metadata["rosbag2_bagfile_information"]
    info["version"] = 5
    for key in ("custom_data", "ros_distro"):
        info.pop(key, None)
    for topic in info["topics_with_message_count"]:
        topic["topic_metadata"].pop("type_description_hash", None)
    metadata_path.write_text(yaml.safe_dump(metadata, sort_keys=False))
    return path
