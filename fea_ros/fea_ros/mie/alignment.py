"""Landmark-based similarity alignment of a face onto a canonical square crop.

Only points that facial expressions barely move are used (eye corners, nose bridge, upper forehead), so the
crop follows the head (translation, in-plane rotation, scale) while expressions stay visible in it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fea_ros.core.errors import InputError

#: FaceMesh indices (valid for the 468- and 478-point meshes)
RIGHT_EYE_CORNERS = (33, 133)  # the subject's right eye: outer, inner
LEFT_EYE_CORNERS = (362, 263)  # inner, outer
NOSE_BRIDGE = (168, 6, 197, 195)
UPPER_FOREHEAD = (151, 9)
STABLE_POINTS: tuple[int, ...] = RIGHT_EYE_CORNERS + LEFT_EYE_CORNERS + NOSE_BRIDGE + UPPER_FOREHEAD
MIN_MESH_POINTS = 468

#: canonical eye centres as fractions of the crop side; the inter-ocular distance is 0.36 of the side,
#: which leaves the forehead above and the chin inside the crop
CANONICAL_RIGHT_EYE = (0.32, 0.38)
CANONICAL_LEFT_EYE = (0.68, 0.38)

#: every 4th mesh point covers the mesh evenly enough to tell how much of it is outside the image
OUTSIDE_STRIDE = 4


def outside_fraction(points: np.ndarray, shape: tuple[int, ...]) -> float:
    """Share of the mesh points that lie outside an image of ``shape`` (rows, cols, ...)."""
    xy = np.asarray(points)[::OUTSIDE_STRIDE, :2]
    h, w = shape[:2]
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    return float(1.0 - inside.mean()) if len(xy) else 1.0


def fit_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (scale, rotation, translation) mapping ``source`` onto ``target`` (Umeyama).

    Returns the 2x3 matrix for cv2.warpAffine.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c ** 2).sum()
    if src_var <= 1e-9:
        raise InputError("the alignment points coincide; the landmarks do not describe a face")
    # closed form for 2-D: a = s cos(theta), b = s sin(theta)
    a = (src_c * dst_c).sum() / src_var
    b = (src_c[:, 0] * dst_c[:, 1] - src_c[:, 1] * dst_c[:, 0]).sum() / src_var
    rotation_scale = np.array([[a, -b], [b, a]])
    translation = dst_mean - rotation_scale @ src_mean
    return np.hstack([rotation_scale, translation[:, None]])


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def eye_centres(points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points_xy[list(RIGHT_EYE_CORNERS)].mean(axis=0), points_xy[list(LEFT_EYE_CORNERS)].mean(axis=0)


@dataclass
class AlignedFace:
    crop: np.ndarray  # (crop_px, crop_px) uint8 grey, contrast-normalised
    matrix: np.ndarray  # 2x3 image -> crop
    points: np.ndarray  # (N, 2) all landmarks in crop coordinates
    interocular_px: float  # in the crop
    residual: float = 0.0  # RMS distance of the stable points from the template after the fit, in IODs


class FaceAligner:
    """Aligns each frame of one face onto a template made from that face's own first frame."""

    def __init__(self, crop_px: int = 128) -> None:
        if crop_px < 32:
            raise InputError(f"mie.crop_px={crop_px} is too small to measure facial motion; use 64 or more")
        self.crop_px = int(crop_px)
        self.template: np.ndarray | None = None

    def reset(self) -> None:
        self.template = None

    def _make_template(self, points_xy: np.ndarray) -> np.ndarray:
        right, left = eye_centres(points_xy)
        side = self.crop_px
        to_canonical = fit_similarity(np.stack([right, left]),
                                      np.array([CANONICAL_RIGHT_EYE, CANONICAL_LEFT_EYE]) * side)
        return apply_affine(to_canonical, points_xy[list(STABLE_POINTS)])

    def align(self, image_bgr: np.ndarray, points: np.ndarray) -> AlignedFace:
        points_xy = np.asarray(points, dtype=np.float64)[:, :2]
        if points_xy.shape[0] < MIN_MESH_POINTS:
            raise InputError(f"micro-expression alignment needs the FaceMesh ({MIN_MESH_POINTS}+ points), got "
                             f"{points_xy.shape[0]}; use landmarks.model v1 or v2")
        if not np.isfinite(points_xy[list(STABLE_POINTS)]).all():
            raise InputError("landmarks contain NaN/inf; the face cannot be aligned in this frame")
        if self.template is None:
            self.template = self._make_template(points_xy)
        stable = points_xy[list(STABLE_POINTS)]
        matrix = fit_similarity(stable, self.template)
        side = self.crop_px
        patch = cv2.warpAffine(image_bgr, matrix, (side, side), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
        crop_points = apply_affine(matrix, points_xy)
        right, left = eye_centres(crop_points)
        interocular = float(np.linalg.norm(left - right))
        # a head turned out of plane (or a mesh that lost the face) cannot be mapped onto the template by a
        # similarity: the stable points no longer fit
        misfit = apply_affine(matrix, stable) - self.template
        residual = float(np.sqrt((misfit ** 2).sum(axis=1).mean())) / max(interocular, 1e-6)
        return AlignedFace(normalise_contrast(grey), matrix, crop_points, interocular, residual)


def normalise_contrast(grey: np.ndarray) -> np.ndarray:
    """Zero-mean, fixed-spread grey levels, so slow global lighting changes do not read as motion."""
    values = grey.astype(np.float32)
    mean, std = cv2.meanStdDev(values)
    scaled = (values - float(mean[0, 0])) * (40.0 / max(float(std[0, 0]), 1.0)) + 128.0
    return np.clip(scaled, 0, 255).astype(np.uint8)
