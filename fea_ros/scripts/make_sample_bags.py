#!/usr/bin/env python3
"""Make the bundled sample bags fea_ros/samples/bags/faces3_mcap and faces3_sqlite3 from faces3.mp4.

Each bag is a rosbag2 folder written with rosbags, metadata version 8 (Humble's and Jazzy's players both
accept it), holding what a robot's camera driver records:

* ``/camera/image_raw/compressed``  sensor_msgs/msg/CompressedImage, JPEG (quality 75), 640x480, 15 fps
  (every second frame of the 30 fps clip, all 6 s), frame_id ``camera_optical_frame``;
* ``/camera/camera_info``           sensor_msgs/msg/CameraInfo, one per image (a plain pinhole model).

Stamps start at 1700000000 s and follow the clip's frame times, so the bags are the same on every machine.
JPEG keeps the committed size small (about 2 MB a bag).

    python fea_ros/scripts/make_sample_bags.py [--clip fea_ros/samples/faces3.mp4] [--out fea_ros/samples/bags]
    fea-ros replay fea_ros/samples/bags/faces3_mcap --report out/replay
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from fea_ros.core.inputs import VideoFileSource

PACKAGE_DIR = Path(__file__).resolve().parents[1]
IMAGE_TOPIC = "/camera/image_raw/compressed"
INFO_TOPIC = "/camera/camera_info"
FRAME_ID = "camera_optical_frame"
START_NS = 1_700_000_000 * 1_000_000_000
STEP = 2  # keep every second frame: 15 fps
JPEG_QUALITY = 75
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


def read_clip(path: Path) -> tuple[list[np.ndarray], float]:
    if not path.is_file():
        raise SystemExit(f"cannot open {path}; make it with fea_ros/scripts/make_sample.py")
    with VideoFileSource(path) as source:
        return [frame.image for frame in source], source.fps


def camera_info(typestore, header, width: int, height: int):  # type: ignore[no-untyped-def]
    focal = 0.9 * width  # about a 70 degree horizontal field of view
    k = np.array([focal, 0, width / 2, 0, focal, height / 2, 0, 0, 1], dtype=np.float64)
    p = np.array([focal, 0, width / 2, 0, 0, focal, height / 2, 0, 0, 0, 1, 0], dtype=np.float64)
    types = typestore.types
    return types["sensor_msgs/msg/CameraInfo"](
        header=header, height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5),
        k=k, r=np.eye(3).reshape(-1), p=p, binning_x=0, binning_y=0,
        roi=types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                     do_rectify=False))


def write_bag(path: Path, storage: str, frames: list[np.ndarray], fps: float) -> None:
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    types = typestore.types
    if path.exists():
        shutil.rmtree(path)
    with Writer(path, version=8, storage_plugin=STORAGES[storage]) as writer:
        writer.set_custom_data("fea_ros.sample", "faces3.mp4, every second frame, JPEG q75")
        images = writer.add_connection(IMAGE_TOPIC, "sensor_msgs/msg/CompressedImage", typestore=typestore)
        infos = writer.add_connection(INFO_TOPIC, "sensor_msgs/msg/CameraInfo", typestore=typestore)
        for position, index in enumerate(range(0, len(frames), STEP)):
            image = frames[index]
            stamp = START_NS + round(index * 1e9 / fps)
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9),
                frame_id=FRAME_ID)
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise SystemExit(f"JPEG encoding failed at frame {index}")
            message = types["sensor_msgs/msg/CompressedImage"](header=header, format="jpeg", data=jpeg.reshape(-1))
            writer.write(images, stamp, typestore.serialize_cdr(message, "sensor_msgs/msg/CompressedImage"))
            info = camera_info(typestore, header, image.shape[1], image.shape[0])
            writer.write(infos, stamp, typestore.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=PACKAGE_DIR / "samples" / "faces3.mp4")
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR / "samples" / "bags")
    args = parser.parse_args(argv)
    frames, fps = read_clip(args.clip)
    args.out.mkdir(parents=True, exist_ok=True)
    for storage in STORAGES:
        path = args.out / f"faces3_{storage}"
        write_bag(path, storage, frames, fps)
        size = sum(f.stat().st_size for f in path.iterdir())
        print(f"wrote {path} ({storage}, {len(range(0, len(frames), STEP))} images, {size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
