"""REP-155 mapping: labels, normalised ROI, 70 landmarks, 99-slot FACS, per-face publisher lifetime."""
from types import SimpleNamespace

import numpy as np
import pytest

from fea_ros.core.types import EXPRESSION_LABELS, ActionUnits, FaceResult, FrameResult, Landmarks
from fea_ros.ros import hri
from fea_ros.ros.msg_types import find_msg_dir


class Message(SimpleNamespace):
    """Stands in for an hri_msgs class: keeps the keyword fields it was built with."""


TYPES = hri.HriTypes(IdsList=Message, NormalizedRegionOfInterest2D=Message, NormalizedPointOfInterest2D=Message,
                     Expression=Message, FacialLandmarks=Message, FacialActionUnits=Message)


class RecordingPublisher:
    def __init__(self, topic):
        self.topic, self.sent = topic, []

    def publish(self, msg):
        self.sent.append(msg)


class NodeLike:
    """The two rclpy Node methods the manager uses, recording what happens (rclpy is not installable here)."""

    def __init__(self):
        self.live, self.destroyed = {}, []

    def create_publisher(self, msg_type, topic, qos):
        assert topic not in self.live, f"duplicate publisher {topic}"
        self.live[topic] = RecordingPublisher(topic)
        return self.live[topic]

    def destroy_publisher(self, publisher):
        self.destroyed.append(self.live.pop(publisher.topic).topic)


def face(face_id, n_points=478, rng=np.random.default_rng(0)):
    points = np.column_stack([rng.uniform(200, 400, n_points), rng.uniform(100, 300, n_points),
                              np.zeros(n_points)])
    return FaceResult(face_id=face_id, track_age=3, box=np.array([200.0, 100.0, 400.0, 300.0]),
                      detection_confidence=0.9,
                      landmarks=Landmarks(points=points, presence=0.8, ibug68=points[:68, :2].copy()),
                      expression="fearful", expression_confidence=0.6, expression_scores=np.full(7, 1 / 7),
                      raw_scores=np.full(7, 1 / 7), valence=-0.6, arousal=0.7,
                      action_units=ActionUnits(blendshapes=np.zeros(52), au_numbers=(1, 4, 45),
                                               intensities=np.array([0.2, 0.5, 0.9])))


def frame(*faces):
    return FrameResult(stamp_ns=10, frame_id="cam", width=800, height=400, faces=list(faces), events=[],
                       timings_ms={})


def test_every_fea_ros_label_maps_to_an_hri_expression_constant():
    assert set(hri.HRI_EXPRESSION_CONSTANT) == set(EXPRESSION_LABELS)
    for label in EXPRESSION_LABELS:
        assert hri.hri_expression(label) in hri.HRI_EXPRESSION_VALUES.values()
    assert hri.hri_expression("fearful") == "scared" and hri.HRI_EXPRESSION_CONSTANT["fearful"] == "SCARED"
    assert hri.hri_expression("angry") == "angry" and hri.hri_expression("surprised") == "surprised"
    with pytest.raises(ValueError, match="contempt"):
        hri.hri_expression("contempt")


def test_fea_ros_label_constants_match_the_msg_file():
    text = (find_msg_dir() / "FaceExpression.msg").read_text()
    for label in EXPRESSION_LABELS:
        assert f'string {label.upper()}="{label}"' in text


def test_face_ids_become_topic_tokens():
    assert hri.hri_face_id("f12") == "f12"
    assert hri.hri_face_id("12") == "f12"
    assert hri.hri_face_id("f3", prefix="cam-left_") == "cam_left_f3"


def test_normalised_roi_is_clipped():
    assert hri.normalised_roi(np.array([-40.0, 100.0, 400.0, 500.0]), 800, 400) == (0.0, 0.25, 0.5, 1.0)


def test_seventy_landmarks_use_the_iris_centres_as_pupils():
    f = face("f1")
    points = hri.hri_landmark_points(f.landmarks)
    assert points.shape == (70, 2)
    np.testing.assert_array_equal(points[:68], f.landmarks.ibug68)
    np.testing.assert_array_equal(points[hri.RIGHT_PUPIL], f.landmarks.points[468, :2])
    np.testing.assert_array_equal(points[hri.LEFT_PUPIL], f.landmarks.points[473, :2])
    normalised = hri.normalised_landmarks(f.landmarks, 800, 400)
    np.testing.assert_allclose(normalised[:68] * [800, 400], f.landmarks.ibug68)


def test_mesh_without_irises_uses_eye_contour_centroids():
    f = face("f1", n_points=468)
    points = hri.hri_landmark_points(f.landmarks)
    np.testing.assert_allclose(points[hri.RIGHT_PUPIL], f.landmarks.ibug68[36:42].mean(axis=0))
    np.testing.assert_allclose(points[hri.LEFT_PUPIL], f.landmarks.ibug68[42:48].mean(axis=0))


def test_facs_slots_are_facs_numbers():
    intensity, confidence = hri.facs_arrays((1, 4, 45), (0.2, 0.5, 0.9), 0.8)
    assert len(intensity) == len(confidence) == 99
    assert (intensity[1], intensity[4], intensity[45]) == (0.2, 0.5, 0.9)
    assert sum(intensity) == pytest.approx(1.6) and confidence[45] == 0.8 and confidence[2] == 0.0
    with pytest.raises(ValueError, match="99"):
        hri.facs_arrays((99,), (0.1,), 1.0)


def test_publishers_follow_faces_as_they_come_and_go():
    node = NodeLike()
    manager = hri.HriPublisherManager(node, TYPES, id_prefix="cam1_")
    header = Message(stamp=10, frame_id="cam")
    manager.publish(frame(face("f1"), face("f2")), header)
    assert set(node.live) == {"/humans/faces/tracked"} | {
        f"/humans/faces/cam1_f{i}/{topic}" for i in (1, 2) for topic in ("roi", "expression", "landmarks", "facs")}
    expression = node.live["/humans/faces/cam1_f1/expression"].sent[0]
    assert (expression.expression, expression.valence, expression.arousal, expression.confidence) == (
        "scared", -0.6, 0.7, 0.6) and expression.header is header
    roi = node.live["/humans/faces/cam1_f1/roi"].sent[0]
    assert (roi.xmin, roi.ymin, roi.xmax, roi.ymax, roi.c) == (0.25, 0.25, 0.5, 0.75, 0.9)
    landmarks = node.live["/humans/faces/cam1_f2/landmarks"].sent[0]
    assert len(landmarks.landmarks) == 70 and (landmarks.width, landmarks.height) == (800, 400)
    facs = node.live["/humans/faces/cam1_f1/facs"].sent[0]
    assert facs.intensity[45] == 0.9 and len(facs.confidence) == 99
    assert node.live["/humans/faces/tracked"].sent[-1].ids == ["cam1_f1", "cam1_f2"]

    manager.publish(frame(face("f2")), header)  # f1 left
    assert "/humans/faces/cam1_f1/roi" not in node.live and "/humans/faces/cam1_f2/roi" in node.live
    assert sorted(node.destroyed) == sorted(f"/humans/faces/cam1_f1/{t}" for t in ("roi", "expression", "landmarks", "facs"))
    assert node.live["/humans/faces/tracked"].sent[-1].ids == ["cam1_f2"]

    manager.publish(frame(), header)
    assert set(node.live) == {"/humans/faces/tracked"} and node.live["/humans/faces/tracked"].sent[-1].ids == []
    tracked = node.live["/humans/faces/tracked"]
    manager.publish(frame(face("f3")), header)
    manager.close(Message(stamp=11, frame_id="cam"))
    assert node.live == {} and tracked.sent[-1].ids == [] and tracked.sent[-1].header.stamp == 11


def test_pupils_of_the_real_mesh_lie_inside_the_matching_eye():
    from fea_ros.core import pipeline as pipeline_module
    skimage_data = pytest.importorskip("skimage.data")
    import cv2

    from fea_ros.core.types import Frame

    pipeline = pipeline_module.Pipeline()
    image = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    result = None
    for index in range(4):
        result = pipeline.process(Frame(image=image, stamp_ns=index * 33_333_333, frame_id="astronaut", index=index))
    faces = [f for f in result.faces if f.landmarks is not None and f.landmarks.points.shape[0] == 478]
    assert faces, "no face with a 478-point mesh on the astronaut"
    points = hri.hri_landmark_points(faces[0].landmarks)
    for pupil, contour in ((hri.RIGHT_PUPIL, hri.IBUG_RIGHT_EYE), (hri.LEFT_PUPIL, hri.IBUG_LEFT_EYE)):
        eye = points[:68][contour]
        assert (eye.min(axis=0) <= points[pupil]).all() and (points[pupil] <= eye.max(axis=0)).all(), pupil
    normalised = hri.normalised_landmarks(faces[0].landmarks, result.width, result.height)
    assert normalised.shape == (70, 2) and (normalised > 0).all() and (normalised < 1).all()
