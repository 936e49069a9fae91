"""The whole-face similarity a start is judged against."""
from __future__ import annotations

import numpy as np
import pytest

from fea_ros.mie.flow import REGION_NAMES, similarity_residual

from test_mie_spotter import astronaut_mesh  # noqa: F401


@pytest.fixture
def centres() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 128, (len(REGION_NAMES), 2))


def similarity(centres: np.ndarray, a: float, b: float, tx: float, ty: float) -> np.ndarray:
    x, y = centres[:, 0], centres[:, 1]
    return np.stack([a * x - b * y + tx, b * x + a * y + ty], axis=1)


def test_a_face_sliding_against_its_crop_leaves_no_residual(centres):
    motion = similarity(centres, 0.01, -0.02, 0.7, -0.4)
    assert np.abs(similarity_residual(motion, centres)).max() < 1e-9
    fit = np.arange(len(REGION_NAMES)) >= 4
    assert np.abs(similarity_residual(motion, centres, fit)).max() < 1e-9


def test_regions_left_out_of_the_fit_keep_their_own_movement(centres):
    slide = similarity(centres, 0.01, -0.02, 0.7, -0.4)
    moving = np.zeros(len(REGION_NAMES), bool)
    moving[:4] = True  # four regions rise together (both lids, say) while the face slides
    own = np.where(moving[:, None], [0.0, -0.8], 0.0)
    residual = similarity_residual(slide + own, centres, ~moving)
    np.testing.assert_allclose(residual, own, atol=1e-9)
    # fitted over all regions, the four pull the similarity along and keep only part of their movement
    pulled = similarity_residual(slide + own, centres)
    assert np.linalg.norm(pulled[:4], axis=1).max() < 0.8 * 0.9


def test_both_brows_lowering_keep_their_motion_against_a_fit_without_the_brows(astronaut_mesh):
    from fea_ros.mie.alignment import FaceAligner
    from fea_ros.mie.flow import BROW_REGIONS, region_boxes

    photo, mesh = astronaut_mesh
    face = FaceAligner(128).align(photo, mesh)
    centres = region_boxes(face.points, face.interocular_px, face.crop.shape[0]).centres
    brows = np.isin(REGION_NAMES, BROW_REGIONS)
    # AU4: the four brow boxes move down and towards the middle of the face, nothing else moves
    inward = np.sign(centres[:, 0].mean() - centres[:, 0])
    motion = np.where(brows[:, None], np.stack([0.3 * inward, np.full(len(REGION_NAMES), 0.6)], axis=1), 0.0)
    own = np.linalg.norm(similarity_residual(motion, centres, ~brows)[brows], axis=1)
    np.testing.assert_allclose(own, np.hypot(0.3, 0.6), rtol=1e-9)
    # a fit over the whole face reads much of it as the face shrinking and sliding down
    whole = np.linalg.norm(similarity_residual(motion, centres)[brows], axis=1)
    assert whole.max() < 0.75 * np.hypot(0.3, 0.6), whole
