"""Landmarks: FaceMesh v1/v2 crops and their mapping back to the image, and the iBUG-68 subset."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core_scenes import astronaut_bgr
from fea_ros.core.config import DetectionConfig, InferenceConfig, LandmarksConfig
from fea_ros.core.detection import DETECTORS, FaceDetector
from fea_ros.core.expression import faceapi_crop
from fea_ros.core.ibug68 import IBUG68_FROM_MESH, IBUG68_TABLE
from fea_ros.core.landmarks import (MESH_MODELS, FaceMesh, Roi, box_from_mesh, keypoints_from_mesh,
                                    roi_from_detection, roi_from_landmarks)
from fea_ros.inference.factory import create_engine


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(create_engine(DETECTORS["short"].model, InferenceConfig()), DetectionConfig(detector="short"))


@pytest.fixture(scope="module", params=["v2", "v1"])
def mesh(request) -> FaceMesh:
    return FaceMesh(create_engine(MESH_MODELS[request.param][0], InferenceConfig()),
                    LandmarksConfig(model=request.param))


def landmarks_of(image: np.ndarray, detector: FaceDetector, mesh: FaceMesh):
    detections = detector(image)
    assert len(detections) == 1
    return mesh(image, roi_from_detection(detections[0], 1.5))


def test_astronaut_mesh_is_on_her_face(detector, mesh):
    landmarks = landmarks_of(astronaut_bgr(), detector, mesh)
    assert landmarks.points.shape == (mesh.num_points, 3)
    assert landmarks.presence > 0.95
    # nose tip: mediapipe's own runtime puts it at (223, 130) (research/models.md)
    assert np.linalg.norm(landmarks.points[1, :2] - [223.0, 130.0]) < 3.0
    if mesh.num_points == 478:
        right_iris, left_iris = landmarks.points[468, :2], landmarks.points[473, :2]
        assert landmarks.points[33, 0] < right_iris[0] < landmarks.points[133, 0]
        assert landmarks.points[362, 0] < left_iris[0] < landmarks.points[263, 0]


@pytest.mark.parametrize("angle_deg, scale", [(30.0, 1.0), (-25.0, 1.4), (0.0, 0.7)])
def test_mesh_follows_rotation_and_scale_of_the_photo(detector, mesh, angle_deg, scale):
    image = astronaut_bgr()
    upright = landmarks_of(image, detector, mesh)
    matrix = cv2.getRotationMatrix2D((256.0, 256.0), angle_deg, scale)
    moved = cv2.warpAffine(image, matrix, (512, 512))
    landmarks = landmarks_of(moved, detector, mesh)
    expected = upright.points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    face_size = 100.0 * scale
    assert np.linalg.norm(landmarks.points[:, :2] - expected, axis=1).mean() < 0.02 * face_size
    # z is in image pixels too: its spread scales with the face
    assert np.ptp(landmarks.points[:, 2]) == pytest.approx(np.ptp(upright.points[:, 2]) * scale, rel=0.15)


def test_crop_from_the_previous_landmarks_finds_the_same_points(detector, mesh):
    image = astronaut_bgr()
    first = landmarks_of(image, detector, mesh)
    roi = roi_from_landmarks(first.points, 1.5)
    assert roi.angle == pytest.approx(np.arctan2(first.points[263, 1] - first.points[33, 1],
                                                 first.points[263, 0] - first.points[33, 0]))
    again = mesh(image, roi)
    assert again.presence > 0.95
    assert np.linalg.norm(again.points[:, :2] - first.points[:, :2], axis=1).mean() < 1.5


def test_a_crop_without_a_face_has_low_presence(mesh):
    background = np.full((480, 640, 3), (128, 122, 115), np.uint8)
    assert mesh(background, Roi(320, 240, 150, 0.0)).presence < 0.5


def test_mesh_box_and_keypoints_agree_with_the_detector(detector, mesh):
    image = astronaut_bgr()
    detection = detector(image)[0]
    landmarks = mesh(image, roi_from_detection(detection, 1.5))
    assert np.abs(box_from_mesh(landmarks.points, "short") - detection.box).max() < 6.0
    spread = np.linalg.norm(keypoints_from_mesh(landmarks.points) - detection.keypoints, axis=1)
    assert spread[:4].max() < 8.0  # eyes, nose, mouth; the ear points are only roughly the same place


def test_ibug68_table_is_complete_and_points_are_distinct():
    assert [row[0] for row in IBUG68_TABLE] == list(range(68))
    assert len(set(IBUG68_FROM_MESH.tolist())) == 68
    assert IBUG68_FROM_MESH.max() < 468  # in both meshes


def test_ibug68_subset_agrees_with_face_api_68_point_network(detector, mesh):
    """An independent 68-point network (face-api.js, trained on iBUG-style data) finds the same points."""
    image = astronaut_bgr()
    detection = detector(image)[0]
    landmarks = mesh(image, roi_from_detection(detection, 1.5))
    ibug = landmarks.ibug68
    assert ibug.shape == (68, 2)
    net = create_engine("faceapi_landmark68_112", InferenceConfig())
    box = detection.box
    crop = faceapi_crop(image, box)
    out = net.run({"image": cv2.dnn.blobFromImage(crop, 1.0, swapRB=True)})["landmarks"].reshape(68, 2)
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = int(np.ceil(box[2])), int(np.ceil(box[3]))
    side = max(x1 - x0, y1 - y0)
    reference = out * side + [x0 - (side - (x1 - x0)) / 2, y0 - (side - (y1 - y0)) / 2]
    inter_ocular = np.linalg.norm(reference[36:42].mean(axis=0) - reference[42:48].mean(axis=0))
    error = np.linalg.norm(ibug - reference, axis=1) / inter_ocular
    # eyes, brows, nose and mouth within 10 % of the inter-ocular distance on average; the jaw line is
    # drawn differently by every 68-point annotation, so it only has to be near (25 %)
    assert error[17:].mean() < 0.10, error[17:].mean()
    assert error[:17].mean() < 0.25, error[:17].mean()
    # and the layout is iBUG's: the subject's right eye (36..41) is on the image's left
    assert ibug[36, 0] < ibug[39, 0] < ibug[42, 0] < ibug[45, 0]
    assert ibug[48, 0] < ibug[51, 0] < ibug[54, 0] and ibug[51, 1] < ibug[57, 1]


def test_docs_table_is_the_code_table():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "landmarks.md").read_text(encoding="utf-8")
    rows = {}
    for line in docs.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            rows[int(cells[0])] = (int(cells[2].rstrip(" *")), int(cells[3]))
    assert rows == {i: (ours, theirs) for i, _, ours, theirs in IBUG68_TABLE}
