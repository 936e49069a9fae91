"""Head pose against MediaPipe's own facial transformation matrix, and how it must move with the image.

The reference (test/fixtures/mediapipe_head_pose.json) was recorded by
scripts/mediapipe_reference/make_head_pose_reference.py with mediapipe 0.10.14's Face Landmarker, the same
face_landmarker.task the project converts, on the astronaut, its mirror image and frames of the sample clips.
"""
from __future__ import annotations

import json
import math
import sys
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from core_scenes import Placement, astronaut_bgr, render
from fea_ros.core.camera import DEFAULT_VERTICAL_FOV_DEG, CameraIntrinsics
from fea_ros.core.config import PipelineConfig
from fea_ros.core.head_pose import OPTICAL_FROM_GL, FaceGeometry, HeadPoseSolver
from fea_ros.core.inputs import VideoFileSource
from fea_ros.core.pipeline import Pipeline
from fea_ros.core.types import Frame, FrameResult
from fea_ros.inference.models import Manifest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REFERENCE = json.loads((FIXTURES / "mediapipe_head_pose.json").read_text(encoding="utf-8"))
NOSE_TIP = 1


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, (float(np.trace(a.T @ b)) - 1.0) / 2.0))))


def vector_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


@lru_cache(maxsize=1)
def solver() -> HeadPoseSolver:
    return HeadPoseSolver(FaceGeometry.from_manifest(Manifest()))


@lru_cache(maxsize=1)
def pipeline() -> Pipeline:
    config = PipelineConfig()
    config.mie.enabled = False
    return Pipeline(config)


def settle(image: np.ndarray, camera: CameraIntrinsics | None = None, frames: int = 3) -> FrameResult:
    """The result of the last of ``frames`` identical frames (tracks confirm on the second)."""
    run = pipeline()
    run.reset()
    result = None
    for index in range(frames):
        result = run.process(Frame(image, index * 33_333_333, camera=camera))
    assert result is not None
    return result


def reference_image(name: str) -> np.ndarray:
    """The BGR image the reference entry ``name`` was recorded on."""
    if name.startswith("astronaut"):
        image = astronaut_bgr()
        return np.ascontiguousarray(image[:, ::-1]) if name.endswith("mirrored") else image.copy()
    clip, index = name.split("#")
    with VideoFileSource(SAMPLES / clip) as source:
        for frame in source:
            if frame.index == int(index):
                return frame.image
    raise AssertionError(f"{clip} has no frame {index}")


REFERENCE_FACES = [(image["name"], i) for image in REFERENCE["images"] for i in range(len(image["faces"]))]


def reference(name: str, face: int) -> tuple[dict, np.ndarray, np.ndarray]:
    entry = next(image for image in REFERENCE["images"] if image["name"] == name)
    matrix = np.asarray(entry["faces"][face]["matrix"])
    # MediaPipe's matrix is in the OpenGL camera frame (y up, z to the viewer); ours in the optical frame
    return entry, OPTICAL_FROM_GL @ matrix[:3, :3], OPTICAL_FROM_GL @ matrix[:3, 3]


def test_the_reference_covers_several_faces_and_poses() -> None:
    assert len(REFERENCE_FACES) >= 8
    yaws = [math.degrees(math.atan2(r[0, 2], r[2, 2]))
            for r in (OPTICAL_FROM_GL @ reference(n, i)[1] for n, i in REFERENCE_FACES)]
    assert max(yaws) - min(yaws) > 15  # not only frontal faces


@pytest.mark.parametrize("name,face", REFERENCE_FACES)
def test_solver_reproduces_mediapipe_on_its_own_landmarks(name: str, face: int) -> None:
    """Same landmarks in -> the same matrix out: the fit is MediaPipe's geometry pipeline."""
    entry, rotation, translation = reference(name, face)
    width, height = entry["width"], entry["height"]
    landmarks = np.asarray(entry["faces"][face]["landmarks"])
    points = landmarks * (width, height, width)  # normalised -> px; z is scaled like x
    pose = solver()(points, CameraIntrinsics.from_fov(width, height, DEFAULT_VERTICAL_FOV_DEG))
    assert rotation_angle_deg(pose.canonical_rotation, rotation) < 0.5
    assert vector_angle_deg(pose.translation_m, translation) < 0.2
    assert pose.distance_m * 100 == pytest.approx(np.linalg.norm(translation), rel=0.01)


@pytest.mark.parametrize("name", sorted({name for name, _ in REFERENCE_FACES}))
def test_pipeline_head_pose_agrees_with_mediapipe(name: str) -> None:
    """Our detector, mesh and fit on the same image: rotation and translation direction within 3 degrees."""
    entry = next(image for image in REFERENCE["images"] if image["name"] == name)
    result = settle(reference_image(name))
    faces = [f for f in result.faces if f.attention is not None]
    for index, expected in enumerate(entry["faces"]):
        nose = np.asarray(expected["landmarks"][NOSE_TIP][:2]) * (entry["width"], entry["height"])
        ours = min(faces, key=lambda f: float(np.linalg.norm(f.landmarks.points[NOSE_TIP, :2] - nose)))
        assert np.linalg.norm(ours.landmarks.points[NOSE_TIP, :2] - nose) < 10, f"{name}: face {index} not found"
        _, rotation, translation = reference(name, index)
        pose = ours.attention.head
        assert pose.intrinsics == "fov"
        assert rotation_angle_deg(pose.canonical_rotation, rotation) < 3.0, f"{name} face {index}"
        assert vector_angle_deg(pose.translation_m, translation) < 3.0, f"{name} face {index}"


def centred_pose(**placement: float):
    result = settle(render([Placement(320, 240, **placement)]))
    assert len(result.faces) == 1 and result.faces[0].attention is not None
    return result.faces[0].attention.head


@pytest.mark.parametrize("angle", [-30.0, 15.0, 30.0])
def test_in_plane_rotation_changes_roll_by_the_same_angle(angle: float) -> None:
    upright = centred_pose()
    rotated = centred_pose(angle_deg=angle)  # counter-clockwise in the image
    assert rotated.roll_deg - upright.roll_deg == pytest.approx(angle, abs=2.0)
    # yaw and pitch trade places under a roll (the head is pitched), but the face points as far off the axis
    off_axis = lambda pose: vector_angle_deg(pose.forward, np.array([0.0, 0.0, -1.0]))  # noqa: E731
    assert off_axis(rotated) == pytest.approx(off_axis(upright), abs=2.0)


def test_mirroring_negates_yaw_and_roll() -> None:
    plain, mirrored = centred_pose(), centred_pose(mirror=True)
    assert mirrored.yaw_deg == pytest.approx(-plain.yaw_deg, abs=2.0)
    assert mirrored.roll_deg == pytest.approx(-plain.roll_deg, abs=2.0)
    assert mirrored.pitch_deg == pytest.approx(plain.pitch_deg, abs=2.0)


def test_mirroring_the_photo_negates_mediapipes_yaw_too() -> None:
    _, plain, _ = reference("astronaut", 0)
    _, mirrored, _ = reference("astronaut_mirrored", 0)
    gl_yaw = lambda r: math.degrees(math.atan2((OPTICAL_FROM_GL @ r)[0, 2], (OPTICAL_FROM_GL @ r)[2, 2]))  # noqa
    assert gl_yaw(mirrored) == pytest.approx(-gl_yaw(plain), abs=2.0)


def test_half_the_face_size_doubles_the_distance() -> None:
    full, half = centred_pose(), centred_pose(scale=0.5)
    assert half.distance_m / full.distance_m == pytest.approx(2.0, rel=0.10)
    assert 0.3 < full.distance_m < 1.5  # a face ~200 px tall in a 63-degree 480-px view: about half a metre


def test_camera_info_intrinsics_are_used_and_reported() -> None:
    """A narrower lens (longer focal length) puts the same face farther away; the pose says which camera."""
    image = render([Placement(320, 240)])
    default = settle(image).faces[0].attention.head
    fov = CameraIntrinsics.from_fov(640, 480, DEFAULT_VERTICAL_FOV_DEG)
    tele = CameraIntrinsics.from_k([2 * fov.fx, 0, 319.5, 0, 2 * fov.fy, 239.5, 0, 0, 1], 640, 480)
    narrow = settle(image, camera=tele).faces[0].attention.head
    assert default.intrinsics == "fov" and narrow.intrinsics == "camera_info"
    assert narrow.distance_m / default.distance_m == pytest.approx(2.0, rel=0.05)
    # CameraInfo for a 1280x960 stream applied to the 640x480 image it was resized to: same camera
    full_size = CameraIntrinsics.from_k([2 * fov.fx * 2, 0, 639.5, 0, 2 * fov.fy * 2, 479.5, 0, 0, 1], 1280, 960)
    assert settle(image, camera=full_size).faces[0].attention.head.distance_m == \
        pytest.approx(narrow.distance_m, rel=0.01)


def test_an_uncalibrated_camera_info_is_refused_with_a_hint() -> None:
    from fea_ros.core.errors import InputError

    with pytest.raises(InputError, match="fov_deg"):
        CameraIntrinsics.from_k([0.0] * 9, 640, 480)


def test_a_mesh_of_the_wrong_shape_is_refused() -> None:
    from fea_ros.core.errors import InputError

    with pytest.raises(InputError, match="468 or 478"):
        solver()(np.zeros((68, 2)), CameraIntrinsics.from_fov(640, 480))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
