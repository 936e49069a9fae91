"""Frame sources for running the pipeline without ROS: a video file, a folder of images, a camera.

Every source yields ``Frame`` objects (BGR uint8, H x W x 3) with an integer nanosecond stamp that increases
from frame to frame, so the stamp-based smoothing and the micro-expression spotter see real time:

* video file:  the container's timestamps (``CAP_PROP_POS_MSEC``); where the container gives none or they do
               not increase, ``index / fps``;
* image folder: files sorted by name (digit runs compared as numbers, so ``frame2`` < ``frame10``), stamped
               ``position / fps``; unreadable files are logged, listed in ``skipped`` and left out;
* camera:      ``time.time_ns()`` at capture.

``open_source("clip.mp4" | "frames/" | "0")`` picks the right one.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from fea_ros.core.errors import InputError
from fea_ros.core.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"})
DEFAULT_FPS = 30.0
NS_PER_S = 1_000_000_000


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """cv2 can hand back gray or BGRA frames from some codecs and cameras; the pipeline wants BGR."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        scaled = np.empty(image.shape, np.float32)
        image = cv2.normalize(image, scaled, 0, 255, cv2.NORM_MINMAX, cv2.CV_32F).astype(np.uint8)
    return np.ascontiguousarray(image)


#: a folder is a numbered frame sequence when at least this many files differ only in one number ...
MIN_SEQUENCE_FILES = 3
#: ... and these numbers run on with at most this share of them missing (dropped frames)
MAX_SEQUENCE_GAPS = 0.1
_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


def is_frame_sequence(files: list[Path]) -> bool:
    """True for files named like the frames of one video: ``frame0001.png, frame0002.png, ...``.

    All names are the same but for their last number, and those numbers run on (a few may be missing);
    a folder of photos (``IMG_2041.jpg, beach.jpg, IMG_2107.jpg``) is not a sequence.
    """
    if len(files) < MIN_SEQUENCE_FILES:
        return False
    templates, numbers = set(), []
    for path in files:
        match = _LAST_NUMBER.match(path.stem)
        if match is None:
            return False
        templates.add((match.group(1).lower(), match.group(3).lower(), path.suffix.lower()))
        numbers.append(int(match.group(2)))
    if len(templates) != 1 or len(set(numbers)) != len(numbers):
        return False
    span = max(numbers) - min(numbers) + 1
    return span - len(numbers) <= MAX_SEQUENCE_GAPS * span


class FrameSource:
    """Base of the sources: iterable of Frame, a context manager, with what is known about length and rate."""

    description: str = ""
    fps: float = DEFAULT_FPS
    frame_count: int | None = None  # None when unknown (camera)

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; iterating after close is not supported."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileSource(FrameSource):
    """Frames of a video file, stamped from the container's timestamps."""

    def __init__(self, path: str | Path, frame_id: str = "camera") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"video file {self.path} does not exist; give an existing video, an image folder "
                             "or a camera index such as 0")
        self.frame_id = frame_id
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise InputError(f"cannot open {self.path} as a video: not a video file, or a codec this OpenCV build "
                             "lacks (convert it with: ffmpeg -i IN -c:v libx264 OUT.mp4)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        self.description = f"video {self.path.name} ({self.fps:.3g} fps)"

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        last_stamp = -1
        while True:
            ok, image = self._capture.read()
            if not ok or image is None:
                break
            stamp = self._stamp_ns(index, last_stamp)
            last_stamp = stamp
            yield Frame(image=_as_bgr(image), stamp_ns=stamp, frame_id=self.frame_id, index=index)
            index += 1
        if index == 0:
            raise InputError(f"{self.path} opened but no frame could be decoded; the file is empty or damaged")

    def _stamp_ns(self, index: int, last_stamp: int) -> int:
        position_ms = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if np.isfinite(position_ms) and position_ms >= 0:
            stamp = int(round(position_ms * 1e6))
            if stamp > last_stamp:
                return stamp
        fallback = int(round(index * NS_PER_S / self.fps))
        return fallback if fallback > last_stamp else last_stamp + 1

    def close(self) -> None:
        self._capture.release()


@dataclass
class SkippedFile:
    path: Path
    reason: str


class ImageFolderSource(FrameSource):
    """The images of one folder (not recursive), in name order, stamped position / fps."""

    def __init__(self, folder: str | Path, fps: float = DEFAULT_FPS, frame_id: str = "camera",
                 files: list[Path] | None = None) -> None:
        self.folder = Path(folder)
        if fps <= 0 or not np.isfinite(fps):
            raise InputError(f"--fps must be a positive number of frames per second, got {fps}")
        self.fps = float(fps)
        self.frame_id = frame_id
        if files is None:
            if not self.folder.is_dir():
                raise InputError(f"{self.folder} is not a folder; give a folder of images, a video or a camera index")
            files = sorted((p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                           key=_natural_key)
            if not files:
                raise InputError(f"{self.folder} holds no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        self.files = files
        self.frame_count = len(files)
        self.skipped: list[SkippedFile] = []
        self.description = f"{len(files)} images in {self.folder} ({self.fps:.3g} fps)"

    def __iter__(self) -> Iterator[Frame]:
        produced = 0
        for position, path in enumerate(self.files):
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None or image.size == 0:
                self.skipped.append(SkippedFile(path, "cannot be decoded as an image"))
                log.warning("skipping %s: cannot be decoded as an image", path)
                continue
            yield Frame(image=_as_bgr(image), stamp_ns=int(round(position * NS_PER_S / self.fps)),
                        frame_id=self.frame_id, index=position)
            produced += 1
        if produced == 0:
            raise InputError(f"none of the {len(self.files)} images in {self.folder} could be read")


class CameraSource(FrameSource):
    """A live camera through cv2.VideoCapture, stamped with the wall clock at capture."""

    def __init__(self, index: int, frame_id: str = "camera") -> None:
        self.index = index
        self.frame_id = frame_id
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            self._capture.release()
            raise InputError(f"camera {index} cannot be opened; check that /dev/video{index} exists and that "
                             "you may read it (group 'video'), or give a video file or image folder instead")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        self.frame_count = None
        self.description = f"camera {index}"

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        last_stamp = -1
        while True:
            ok, image = self._capture.read()
            stamp = max(time.time_ns(), last_stamp + 1)
            if not ok or image is None:
                if index == 0:
                    raise InputError(f"camera {self.index} opened but delivered no frame")
                log.info("camera %d stopped delivering frames after %d", self.index, index)
                break
            last_stamp = stamp
            yield Frame(image=_as_bgr(image), stamp_ns=stamp, frame_id=self.frame_id, index=index)
            index += 1

    def close(self) -> None:
        self._capture.release()


def open_source(spec: str | int | Path, fps: float | None = None, frame_id: str = "camera") -> FrameSource:
    """Open a video file, an image folder, a single image or a camera index (``0`` or ``"0"``).

    ``fps`` sets the stamps of image folders (default 30); videos and cameras keep their own clock, so it is
    rejected there rather than silently ignored.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit() and not Path(spec).exists()):
        if fps is not None:
            raise InputError("--fps applies to image folders only; a camera stamps frames with the wall clock")
        return CameraSource(int(spec), frame_id=frame_id)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, fps=fps if fps is not None else DEFAULT_FPS, frame_id=frame_id)
    if not path.exists():
        raise InputError(f"{path} does not exist; give a video file, a folder of images or a camera index such as 0")
    if fps is not None and path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError("--fps applies to image folders only; a video's frames are stamped from the container")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(path.parent, fps=fps if fps is not None else DEFAULT_FPS, frame_id=frame_id,
                                 files=[path])
    return VideoFileSource(path, frame_id=frame_id)
