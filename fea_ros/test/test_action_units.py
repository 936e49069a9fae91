"""Action units: the blendshape -> AU table on hand-made vectors, and the network on the real smile."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core_scenes import astronaut_bgr
from fea_ros.core.action_units import (AU_NUMBERS, AU_TABLE, BLENDSHAPE_LANDMARKS, BLENDSHAPE_NAMES,
                                       BlendshapeEstimator, au_weight_matrix)
from fea_ros.core.config import DetectionConfig, InferenceConfig, LandmarksConfig
from fea_ros.core.detection import DETECTORS, FaceDetector
from fea_ros.core.landmarks import FaceMesh, roi_from_detection
from fea_ros.inference.factory import create_engine

MODELS = Path(__file__).resolve().parents[1] / "models"


def blendshapes(**values: float) -> np.ndarray:
    vector = np.zeros(len(BLENDSHAPE_NAMES))
    for name, value in values.items():
        vector[BLENDSHAPE_NAMES.index(name)] = value
    return vector


def intensities(vector: np.ndarray) -> dict[int, float]:
    return dict(zip(AU_NUMBERS, np.clip(au_weight_matrix() @ vector, 0, 1)))


def test_the_issue_lists_every_au():
    assert AU_NUMBERS == (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 45)
    assert all(name in BLENDSHAPE_NAMES for _, terms in AU_TABLE.values() for name, _ in terms)


def test_subset_and_names_match_the_models_folder():
    data = json.loads((MODELS / "blendshapes.json").read_text())
    assert tuple(data["landmark_subset"]) == BLENDSHAPE_LANDMARKS
    assert tuple(data["names"]) == BLENDSHAPE_NAMES


def test_paired_shapes_average_left_and_right():
    au = intensities(blendshapes(mouthSmileLeft=0.8, mouthSmileRight=0.6, eyeBlinkLeft=1.0))
    assert au[12] == pytest.approx(0.7)
    assert au[45] == pytest.approx(0.5)
    assert au[1] == 0.0 and au[26] == 0.0


def test_lips_part_is_jaw_open_unless_the_lips_stay_closed():
    assert intensities(blendshapes(jawOpen=0.6))[25] == pytest.approx(0.6)
    assert intensities(blendshapes(jawOpen=0.6, mouthClose=0.6))[25] == pytest.approx(0.0)
    assert intensities(blendshapes(mouthLowerDownLeft=0.4, mouthLowerDownRight=0.4))[25] == pytest.approx(0.4)
    assert intensities(blendshapes(jawOpen=0.9, mouthLowerDownLeft=0.8, mouthLowerDownRight=0.8))[25] == 1.0


def test_the_astronauts_smile_gives_au12_and_not_a_frown():
    image = astronaut_bgr()
    detector = FaceDetector(create_engine(DETECTORS["short"].model, InferenceConfig()),
                            DetectionConfig(detector="short"))
    mesh = FaceMesh(create_engine("facemesh_v2_478_256", InferenceConfig()), LandmarksConfig(model="v2"))
    landmarks = mesh(image, roi_from_detection(detector(image)[0], 1.5))
    units = BlendshapeEstimator(create_engine("face_blendshapes_52", InferenceConfig()))(landmarks.points)
    assert units.blendshapes.shape == (52,) and units.au_numbers == AU_NUMBERS
    shapes = dict(zip(BLENDSHAPE_NAMES, units.blendshapes))
    # mediapipe 0.10.14 on the same photo: mouthSmileLeft 0.904, mouthSmileRight 0.899 (research/models.md)
    assert shapes["mouthSmileLeft"] == pytest.approx(0.904, abs=0.06)
    assert shapes["mouthSmileRight"] == pytest.approx(0.899, abs=0.06)
    au = dict(zip(units.au_numbers, units.intensities))
    assert au[12] > 0.8
    assert au[15] < 0.1 and au[4] < 0.2 and au[45] < 0.3


def test_docs_table_is_the_code_table():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "action_units.md").read_text(encoding="utf-8")
    for au, (name, terms) in AU_TABLE.items():
        row = next(line for line in docs.splitlines() if line.startswith(f"| AU{au} |"))
        assert name in row
        for shape, weight in terms:
            assert f"{abs(weight):g} x `{shape}`" in row, (au, shape)
