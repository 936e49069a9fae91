#!/usr/bin/env python3
"""Write the 112x112 RGB face crops fed to face-api in node and to the ONNX nets in the fidelity test.

    python fea_ros/scripts/faceapi_reference/make_crops.py fea_ros/test/fixtures/faceapi_crops_112.rgb

Crops: skimage's astronaut, the same mirrored, and the small face in the Debian opencv-doc messi5.jpg; each
face box is enlarged x1.1, made square and resized as face-api does (zero padding outside the image).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

SIZE = 112
FIXTURES = Path(__file__).resolve().parents[2] / "test" / "fixtures"
#: (x1, y1, x2, y2) face boxes, as in test/model_fidelity_support.py
ASTRONAUT_BOX = (179.0, 82.0, 271.0, 175.0)
MESSI_BOX = (227.0, 93.0, 255.0, 131.0)


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], scale: float) -> np.ndarray:
    x1, y1, x2, y2 = box
    side = scale * max(x2 - x1, y2 - y1)
    factor = SIZE / side
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    matrix = np.array([[factor, 0, SIZE / 2 - cx * factor], [0, factor, SIZE / 2 - cy * factor]], np.float64)
    return cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)


def crops() -> np.ndarray:
    from skimage import data

    astronaut = np.ascontiguousarray(data.astronaut())
    messi = cv2.cvtColor(cv2.imread(str(FIXTURES / "messi5.jpg"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    face = square_crop(astronaut, ASTRONAUT_BOX, 1.1)
    return np.stack([face, face[:, ::-1], square_crop(messi, MESSI_BOX, 1.1)]).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output .rgb file (N x 112 x 112 x 3 uint8)")
    args = parser.parse_args()
    batch = crops()
    args.out.write_bytes(np.ascontiguousarray(batch).tobytes())
    print(f"wrote {args.out}: {batch.shape[0]} crops")


if __name__ == "__main__":
    main()
