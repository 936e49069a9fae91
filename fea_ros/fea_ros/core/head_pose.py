"""Head pose from the face mesh: MediaPipe's face-geometry pipeline, for any pinhole camera.

The canonical face model (models/face_geometry.json, 468 vertices in cm, built from the Face Landmarker's
geometry metadata) is fitted to the mesh landmarks by a weighted orthogonal Procrustes fit on the 33
landmarks of MediaPipe's Procrustes basis. Mesh landmarks have no absolute depth, only a depth relative to the
face scaled like x, so the fit is iterated as MediaPipe's geometry_pipeline.cc does: a first fit on the
projected points gives the scale (hence the distance), a second on points un-projected at that distance
refines it, and the third gives rotation and translation. MediaPipe assumes a 63-degree camera with the
principal point in the centre; here the rays come from real intrinsics (CameraInfo) or from camera.fov_deg.

Frames (REP-103 / REP-155): everything is in the camera's optical frame (x right, y down, z forward, metres).
The head frame is REP-155's face frame: x out of the face (the way the face points), y the person's left,
z up; its origin is the canonical model's origin, about 7.5 cm behind the nose tip. yaw/pitch/roll are
degrees relative to a face looking straight into the camera: yaw > 0 turns the face towards the image's
right (the person's left), pitch > 0 lifts the chin, roll > 0 tilts the face counter-clockwise in the image.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fea_ros.core.camera import CameraIntrinsics
from fea_ros.core.errors import ConfigError, InputError

MESH_POINTS = 468
CM_TO_M = 0.01
#: MediaPipe's near plane (same units as the canonical model, cm); only the ratio to the scale matters
NEAR = 1.0
#: optical frame <-> OpenGL camera frame (y up, z towards the viewer) and canonical model -> REP-155 face frame
OPTICAL_FROM_GL = np.diag([1.0, -1.0, -1.0])
CANONICAL_FROM_FACE = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class FaceGeometry:
    """The canonical face model: vertices (468, 3) in cm and the weighted Procrustes basis."""

    vertices: np.ndarray
    basis_ids: np.ndarray  # (K,) landmark indices
    basis_weights: np.ndarray  # (K,)

    @classmethod
    def load(cls, path: Path | str) -> "FaceGeometry":
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            vertices = np.asarray(doc["vertices"], np.float64)
            ids = np.asarray(doc["procrustes_landmark_ids"], np.intp)
            weights = np.asarray(doc["procrustes_weights"], np.float64)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{path} is not a face geometry file ({exc}); rebuild it with "
                              "'python fea_ros/scripts/build_models.py --only face_geometry'") from exc
        if vertices.shape != (MESH_POINTS, 3) or ids.shape != weights.shape or not len(ids):
            raise ConfigError(f"{path} has {vertices.shape} vertices and {len(ids)} basis landmarks; expected "
                              f"({MESH_POINTS}, 3) and a non-empty basis")
        return cls(vertices, ids, weights)

    @classmethod
    def from_manifest(cls, manifest: object) -> "FaceGeometry":
        """The sha256-checked face_geometry.json of a models folder (inference.models.Manifest)."""
        return cls.load(manifest.data_path("face_geometry"))  # type: ignore[attr-defined]


@dataclass
class HeadPose:
    """Where the head is and which way it points, in the camera's optical frame."""

    rotation: np.ndarray  # (3, 3) REP-155 face frame -> optical frame
    translation_m: np.ndarray  # (3,) head origin in the optical frame, metres
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    intrinsics: str  # "camera_info" | "fov": where the camera model came from
    canonical_rotation: np.ndarray  # (3, 3) canonical model frame -> optical frame
    #: the mesh landmarks the solver was asked to place in 3D (``extra_rows``), optical frame, cm
    extra_rows: tuple[int, ...]
    extra_points: np.ndarray  # (len(extra_rows), 3)

    def point_cm(self, index: int) -> np.ndarray:
        """One of the extra landmarks in the optical frame, cm (KeyError-like ValueError if not placed)."""
        return self.extra_points[self.extra_rows.index(index)]

    @property
    def forward(self) -> np.ndarray:
        """Unit vector the face points along (the face frame's x axis) in the optical frame."""
        return self.rotation[:, 0]

    @property
    def distance_m(self) -> float:
        return math.dist(self.translation_m.tolist(), (0.0, 0.0, 0.0))


def weighted_procrustes(source: np.ndarray, target: np.ndarray, weights: np.ndarray) \
        -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R and translation t minimising sum w_i |s R source_i + t - target_i|^2 (3 x K)."""
    total = float(weights.sum())
    source_centre = source @ weights / total
    target_centre = target @ weights / total
    centred_source = source - source_centre[:, None]
    centred_target = target - target_centre[:, None]
    design = (centred_target * weights) @ centred_source.T
    u, _, vt = np.linalg.svd(design)
    if np.linalg.det(u @ vt) < 0:  # a reflection: flip the least significant axis
        u[:, 2] = -u[:, 2]
    rotation = u @ vt
    scale = float(np.sum((rotation @ centred_source) * centred_target * weights)
                  / np.sum(centred_source * centred_source * weights))
    translation = target_centre - scale * rotation @ source_centre
    return scale, rotation, translation


def euler_from_canonical(canonical_rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees: R_gl = Ry(yaw) Rx(-pitch) Rz(roll) in MediaPipe's OpenGL camera frame."""
    (_, _, r02), (r10, r11, r12), (_, _, r22) = canonical_rotation.tolist()
    # OPTICAL_FROM_GL @ R flips the signs of rows 1 and 2
    yaw = math.atan2(r02, -r22)
    pitch = math.asin(max(-1.0, min(1.0, -r12)))
    roll = math.atan2(-r10, -r11)
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def _det3(m: np.ndarray) -> float:
    """Determinant of a 3x3 matrix (plain Python: a tenth of np.linalg.det's call cost)."""
    (a, b, c), (d, e, f), (g, h, i) = m.tolist()
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


class HeadPoseSolver:
    """Fits the canonical face to one face's mesh landmarks (v1 468 or v2 478 points).

    Same result as weighted_procrustes, with the canonical side precomputed and the scale-only fits of the
    first two passes taken from the singular values: the stage must cost well under a millisecond per face.
    """

    def __init__(self, geometry: FaceGeometry, extra_rows: tuple[int, ...] = ()) -> None:
        """``extra_rows``: mesh landmarks (besides the basis) to return in 3D, e.g. the eyes for the gaze."""
        self.geometry = geometry
        self._ids = geometry.basis_ids
        self._extra_rows = tuple(extra_rows)
        self._rows = {count: np.concatenate([self._ids, [r for r in self._extra_rows if r < count]]).astype(np.intp)
                      for count in (MESH_POINTS, MESH_POINTS + 10)}
        weights = geometry.basis_weights
        self._weights = weights / weights.sum()
        source = geometry.vertices[geometry.basis_ids].T  # (3, K) cm
        self._source_centre = source @ self._weights
        centred = source - self._source_centre[:, None]
        self._weighted_centred_t = (centred * self._weights).T  # (K, 3)
        self._source_spread = float(np.sum(centred * centred * self._weights))

    def _design(self, target: np.ndarray) -> np.ndarray:
        return target @ self._weighted_centred_t  # sum_i w_i target_i (source_i - centre)^T

    def _scale(self, target: np.ndarray) -> float:
        design = self._design(target)
        singular = np.linalg.svd(design, compute_uv=False)
        total = singular[0] + singular[1] + (singular[2] if _det3(design) >= 0 else -singular[2])
        return float(total) / self._source_spread

    def _rigid(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        design = self._design(target)
        u, singular, vt = np.linalg.svd(design)
        if _det3(design) < 0:
            u[:, 2] = -u[:, 2]
            singular[2] = -singular[2]
        rotation = u @ vt
        scale = float(singular.sum()) / self._source_spread
        translation = target @ self._weights - scale * (rotation @ self._source_centre)
        return rotation, translation

    def __call__(self, points: np.ndarray, camera: CameraIntrinsics) -> HeadPose:
        """``points``: (N >= 468, 3) image px (x, y pixel-edge; z px relative depth, scaled like x)."""
        points = np.asarray(points, np.float64)
        if points.ndim != 2 or points.shape[0] < MESH_POINTS or points.shape[1] != 3:
            raise InputError(f"head pose needs the (468 or 478, 3) face mesh, got shape {points.shape}")
        # rays through each landmark (optical frame, depth 1) and the relative depth on the same scale;
        # MediaPipe's depth offset is the mean over the 468 mesh points. Only the basis and the extra rows
        # are computed: the rest of the mesh does not enter the fit.
        rows = self._rows.get(points.shape[0])
        if rows is None:
            rows = np.concatenate([self._ids, [r for r in self._extra_rows if r < points.shape[0]]]).astype(np.intp)
        offset = float(points[:MESH_POINTS, 2].sum()) / MESH_POINTS
        rays = (points[rows] - (camera.cx, camera.cy, offset)) * (1.0 / camera.fx, 1.0 / camera.fy, 1.0 / camera.fx)
        rays[:, 2] += NEAR
        count = len(self._ids)
        basis = rays[:count].T  # (3, K): x/z, y/z, relative depth + NEAR (a z offset does not change the scale)
        first_scale = self._scale(basis)
        target = basis * (basis[2] / first_scale)
        target[2] = basis[2] / first_scale
        second_scale = self._scale(target)
        depth = rays[:, 2] / (first_scale * second_scale)
        metric = rays * depth[:, None]  # (rows, 3) cm
        metric[:, 2] = depth
        rotation, translation = self._rigid(metric[:count].T)
        yaw, pitch, roll = euler_from_canonical(rotation)
        return HeadPose(rotation=rotation @ CANONICAL_FROM_FACE, translation_m=translation * CM_TO_M,
                        yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll, intrinsics=camera.source,
                        canonical_rotation=rotation, extra_rows=tuple(int(r) for r in rows[count:]),
                        extra_points=metric[count:])


def quaternion_xyzw(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """The unit quaternion (x, y, z, w) of a rotation matrix (geometry_msgs/Quaternion order), w >= 0."""
    m = rotation.tolist()
    trace = m[0][0] + m[1][1] + m[2][2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = ((m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s, 0.25 * s)
    elif m[0][0] > m[1][1] and m[0][0] > m[2][2]:
        s = 2.0 * math.sqrt(1.0 + m[0][0] - m[1][1] - m[2][2])
        q = (0.25 * s, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s, (m[2][1] - m[1][2]) / s)
    elif m[1][1] > m[2][2]:
        s = 2.0 * math.sqrt(1.0 + m[1][1] - m[0][0] - m[2][2])
        q = ((m[0][1] + m[1][0]) / s, 0.25 * s, (m[1][2] + m[2][1]) / s, (m[0][2] - m[2][0]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2][2] - m[0][0] - m[1][1])
        q = ((m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, 0.25 * s, (m[1][0] - m[0][1]) / s)
    norm = math.sqrt(sum(v * v for v in q))
    sign = -1.0 if q[3] < 0 else 1.0
    return (sign * q[0] / norm, sign * q[1] / norm, sign * q[2] / norm, sign * q[3] / norm)


def gaze_rotation(direction: np.ndarray) -> np.ndarray:
    """A rotation whose z axis is ``direction`` and whose x axis is as level as possible (optical frame).

    REP-155's gaze_<id> frame follows the camera convention: z along the gaze, y down.
    """
    z = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    down = np.array([0.0, 1.0, 0.0])
    x = np.cross(down, z)
    if np.linalg.norm(x) < 1e-6:  # looking straight up or down
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])
