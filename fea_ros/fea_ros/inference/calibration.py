"""INT8 calibration data for TensorRT: a folder of face images, preprocessed the way the model expects.

The image handling (finding files, the model's normalisation, batching, a digest of the data set) is plain
numpy/cv2 and tested without TensorRT. Only ``make_entropy_calibrator`` touches TensorRT and pycuda: it
returns an ``IInt8EntropyCalibrator2`` that feeds those batches to the builder and keeps TensorRT's
calibration table in a cache file, so a rebuild (new TensorRT, other precision) does not recalibrate.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from fea_ros.inference.engine_cache import atomic_write_bytes
from fea_ros.inference.errors import BackendError

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class CalibrationError(BackendError):
    """INT8 calibration cannot run: no images, or a model whose input is not an image."""


@dataclass(frozen=True)
class ImagePreprocessing:
    """uint8 pixels -> network input: ``x * scale + offset`` on RGB (or gray) values."""

    gray: bool
    scale: float
    offset: float


# Matched in this order against the manifest's normalisation sentence (see models/manifest.json).
_NORMALISATION_RULES: tuple[tuple[str, ImagePreprocessing], ...] = (
    (r"\(x\s*/\s*255\s*-\s*0\.5\)\s*\*\s*2", ImagePreprocessing(gray=True, scale=2.0 / 255.0, offset=-1.0)),
    (r"x\s*/\s*127\.5\s*-\s*1", ImagePreprocessing(gray=False, scale=1.0 / 127.5, offset=-1.0)),
    (r"0\s*(\.\.|,)\s*255|raw rgb", ImagePreprocessing(gray=False, scale=1.0, offset=0.0)),
    (r"\[0\s*,\s*1\]|0\s*\.\.\s*1\b|x\s*/\s*255", ImagePreprocessing(gray=False, scale=1.0 / 255.0, offset=0.0)),
)


def preprocessing_for(normalisation: str, channels: int) -> ImagePreprocessing:
    """The pixel transform named by a manifest normalisation sentence, checked against the input's channels."""
    text = normalisation.lower()
    if channels in (1, 3):
        for pattern, prep in _NORMALISATION_RULES:
            if re.search(pattern, text):
                return replace(prep, gray=channels == 1)
    raise CalibrationError(
        f"cannot calibrate from images: the model's input ({channels} channels, normalisation "
        f"'{normalisation[:80]}') is not an image this calibrator knows. Use precision fp16 for it, "
        "or an INT8 model with QuantizeLinear/DequantizeLinear nodes.")


def list_images(folder: Path | str) -> list[Path]:
    """The image files directly in ``folder``, sorted by name, so calibration is repeatable."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CalibrationError(f"INT8 calibration folder {folder} does not exist; point "
                               "inference.int8_calibration_dir at a folder of face images (jpg/png)")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise CalibrationError(f"INT8 calibration folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


def dataset_digest(images: list[Path]) -> str:
    """sha256 over the names and bytes of the images: a new or changed image gives a new engine."""
    digest = hashlib.sha256()
    for path in images:
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def image_tensor(path: Path, height: int, width: int, prep: ImagePreprocessing) -> np.ndarray:
    """One image file as a float32 CHW tensor (see ``preprocess``)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise CalibrationError(f"{path} is not a readable image; remove it from the calibration folder")
    return preprocess(bgr, height, width, prep)


def preprocess(bgr: np.ndarray, height: int, width: int, prep: ImagePreprocessing) -> np.ndarray:
    """A BGR uint8 image as a float32 CHW tensor: padded to a square (bottom/right, black), resized, normalised."""
    side = max(bgr.shape[:2])
    square = np.zeros((side, side, 3), np.uint8)
    square[:bgr.shape[0], :bgr.shape[1]] = bgr
    resized = cv2.resize(square, (width, height), interpolation=cv2.INTER_AREA)
    if prep.gray:
        pixels = cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY)[None]
    else:
        pixels = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
    return (pixels.astype(np.float32) * prep.scale + prep.offset).astype(np.float32)


class CalibrationBatches:
    """Fixed-size NCHW batches over a list of images; a short last batch is dropped (TensorRT wants full ones)."""

    def __init__(self, images: list[Path], shape: tuple[int, int, int, int], prep: ImagePreprocessing) -> None:
        batch, channels, _, _ = shape
        if channels != (1 if prep.gray else 3):
            raise CalibrationError(f"input has {channels} channels but the preprocessing gives "
                                   f"{1 if prep.gray else 3}")
        if len(images) < batch:
            raise CalibrationError(f"{len(images)} calibration images cannot fill one batch of {batch}; "
                                   "add images (a few hundred faces calibrate well)")
        self.images = images
        self.shape = shape
        self.prep = prep

    def __len__(self) -> int:
        return len(self.images) // self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        batch, _, height, width = self.shape
        for start in range(0, len(self) * batch, batch):
            tensors = [image_tensor(p, height, width, self.prep) for p in self.images[start:start + batch]]
            yield np.ascontiguousarray(np.stack(tensors))


def make_entropy_calibrator(batches: CalibrationBatches, cache_file: Path) -> Any:
    """A ``tensorrt.IInt8EntropyCalibrator2`` over ``batches``; call with the CUDA context current."""
    import pycuda.driver as cuda
    import tensorrt as trt

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)  # TensorRT's pybind classes need the explicit call
            self._batches = iter(batches)
            self._host = cuda.pagelocked_empty(batches.shape, np.float32)
            self._device = cuda.mem_alloc(self._host.nbytes)
            self.batches_fed = 0

        def get_batch_size(self) -> int:
            return batches.shape[0]

        def get_batch(self, names: list[str]) -> list[int]:
            batch = next(self._batches, None)
            if batch is None:
                return []  # TensorRT 10: an empty list says there are no more batches
            np.copyto(self._host, batch)
            cuda.memcpy_htod(self._device, self._host)
            self.batches_fed += 1
            if self.batches_fed % 10 == 0:
                log.info("INT8 calibration: %d/%d batches", self.batches_fed, len(batches))
            return [int(self._device)]

        def read_calibration_cache(self) -> bytes | None:
            if cache_file.is_file():
                log.info("INT8 calibration: reusing %s", cache_file)
                return cache_file.read_bytes()
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            atomic_write_bytes(cache_file, bytes(cache))

    return EntropyCalibrator()
