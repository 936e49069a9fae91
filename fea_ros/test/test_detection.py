"""Face detection: SSD anchors and weighted NMS on hand-made cases, BlazeFace on the real photo."""
from __future__ import annotations

import numpy as np
import pytest

from core_scenes import ASTRONAUT_SHORT_RANGE_BOX, Placement, astronaut_bgr, box_centre, render
from fea_ros.core.config import DetectionConfig, InferenceConfig
from fea_ros.core.detection import DETECTORS, FaceDetector, box_iou, ssd_anchor_centres, weighted_nms
from fea_ros.core.errors import ConfigError
from fea_ros.inference.factory import create_engine


def make_detector(name: str, **settings) -> FaceDetector:
    config = DetectionConfig(detector=name, **settings)
    return FaceDetector(create_engine(DETECTORS[name].model, InferenceConfig()), config)


@pytest.fixture(scope="module")
def short_detector() -> FaceDetector:
    return make_detector("short")


@pytest.fixture(scope="module")
def full_detector() -> FaceDetector:
    return make_detector("full")


def test_short_range_anchors_are_mediapipes_896():
    anchors = ssd_anchor_centres(128, DETECTORS["short"].layers)
    assert anchors.shape == (896, 2)
    # stride 8: 16x16 cells with 2 anchors each, centred on (col + 0.5) / 16, row-major
    np.testing.assert_allclose(anchors[0], anchors[1])
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[32], [0.5 / 16, 1.5 / 16])
    # stride 16: 8x8 cells with 6 anchors each start after 512
    np.testing.assert_allclose(anchors[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchors_are_a_48_grid():
    anchors = ssd_anchor_centres(192, DETECTORS["full"].layers)
    assert anchors.shape == (2304, 2)
    np.testing.assert_allclose(anchors[47], [47.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(anchors[48], [0.5 / 48, 1.5 / 48])


def test_iou_of_hand_made_boxes():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(box_iou(boxes[0], boxes), [1.0, 50 / 150, 0.0])


def test_weighted_nms_averages_the_cluster_by_score():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], float)
    keypoints = np.zeros((3, 6, 2))
    keypoints[1] += 3.0
    scores = np.array([0.9, 0.6, 0.8])
    merged = weighted_nms(boxes, keypoints, scores, iou_threshold=0.3, max_count=10)
    assert len(merged) == 2
    box, points, score = merged[0]
    # the cluster keeps its best score, its box is the score-weighted mean: x0 = (0*0.9 + 2*0.6) / 1.5
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, [0.8, 0.0, 10.8, 10.0])
    np.testing.assert_allclose(points, np.full((6, 2), 3.0 * 0.6 / 1.5))
    np.testing.assert_allclose(merged[1][0], boxes[2])
    assert merged[1][2] == pytest.approx(0.8)


def test_weighted_nms_keeps_boxes_below_the_iou_threshold_apart():
    boxes = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], float)  # IoU 4/16 = 0.25
    merged = weighted_nms(boxes, np.zeros((2, 6, 2)), np.array([0.7, 0.9]), 0.3, 10)
    assert [round(m[2], 2) for m in merged] == [0.9, 0.7]


def test_astronaut_box_matches_the_mediapipe_reference(short_detector):
    detections = short_detector(astronaut_bgr())
    assert len(detections) == 1
    face = detections[0]
    assert np.abs(face.box - ASTRONAUT_SHORT_RANGE_BOX).max() <= 3.0, face.box
    assert face.score == pytest.approx(0.921, abs=0.01)
    right_eye, left_eye = face.keypoints[0], face.keypoints[1]
    assert right_eye[0] < left_eye[0]  # the subject's right eye is on the image's left
    assert face.box[0] < face.keypoints[2][0] < face.box[2]


def test_full_range_finds_the_astronaut_with_mediapipes_score(full_detector):
    detections = full_detector(astronaut_bgr())
    assert len(detections) == 1
    assert detections[0].score == pytest.approx(0.937, abs=0.01)
    assert box_iou(detections[0].box, ASTRONAUT_SHORT_RANGE_BOX[None])[0] > 0.6


@pytest.mark.parametrize("x0, y0, x1, y1", [(60, 0, 512, 300), (100, 20, 420, 512)])
def test_letterbox_maps_boxes_back_to_image_pixels(short_detector, x0, y0, x1, y1):
    # A wide and a tall cut of the photo: the letterbox pads a different axis, the face must stay put.
    detections = short_detector(np.ascontiguousarray(astronaut_bgr()[y0:y1, x0:x1]))
    assert len(detections) == 1
    shifted = ASTRONAUT_SHORT_RANGE_BOX - np.array([x0, y0, x0, y0])
    box = detections[0].box
    # the network sees the face at another scale, so the box size may change a little; its centre may not
    assert np.abs(box_centre(box) - box_centre(shifted)).max() < 2.5, (box, shifted)
    assert (box[2] - box[0]) == pytest.approx(shifted[2] - shifted[0], rel=0.08)


def test_min_face_size_and_max_faces_are_applied():
    scene = render([Placement(160, 240, 0.9), Placement(480, 240, 0.9, mirror=True)])
    assert len(make_detector("short")(scene)) == 2
    assert len(make_detector("short", max_faces=1)(scene)) == 1
    assert make_detector("short", min_face_px=120.0)(scene) == []


def test_no_face_gives_no_detection(short_detector):
    assert short_detector(render([])) == []


def test_unknown_detector_is_a_config_error():
    with pytest.raises(ConfigError, match="detection.detector"):
        FaceDetector(create_engine("blazeface_short_128", InferenceConfig()), DetectionConfig(detector="tiny"))
