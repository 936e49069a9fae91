"""fea_ros_msgs from the .msg files via rosbags: building from core results, CDR round trips, field homes."""
import array
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from fea_ros.core.types import (EXPRESSION_LABELS, ActionUnits, FaceResult, FrameResult, Landmarks,
                                MicroExpressionEvent)
from fea_ros.ros import messages
from fea_ros.ros.msg_types import (FACE_EXPRESSION, FACE_EXPRESSION_ARRAY, MICRO_EXPRESSION_EVENT,
                                   fea_ros_typestore, find_msg_dir)

DISTROS = ("humble", "jazzy")

# where each core field lives in the messages; a new core field fails test_every_core_field_has_a_home
FACE_HOMES = {
    "face_id": "face_id", "track_age": "track_age", "box": "roi", "detection_confidence": "detection_confidence",
    "landmarks": "landmark_layout/landmarks/landmark_depths/landmark_presence/ibug68", "expression": "expression",
    "expression_confidence": "expression_confidence", "expression_scores": "expression_scores",
    "raw_scores": "expression_raw_scores", "valence": "valence", "arousal": "arousal",
    "action_units": "action_units/action_unit_intensities/blendshapes",
    "attention": "has_attention/intrinsics/head_pose/head_yaw/head_pitch/head_roll/gaze_origin/gaze/"
                 "gaze_from_eyes/gaze_angle/looking/attention_score/engagement/looking_time",
}
#: FaceResult fields that stay off the message on purpose, and why
FACE_NOT_PUBLISHED = {"per_model": "each expression network's own probabilities, for `fea-ros evaluate expression`; "
                                   "the message carries their fusion, expression_raw_scores"}
LANDMARK_HOMES = {"points": "landmarks + landmark_depths", "presence": "landmark_presence", "ibug68": "ibug68"}
UNIT_HOMES = {"blendshapes": "blendshapes", "au_numbers": "action_units", "intensities": "action_unit_intensities"}
FRAME_HOMES = {"stamp_ns": "header.stamp", "frame_id": "header.frame_id", "width": "image_width",
               "height": "image_height", "faces": "faces", "events": "MicroExpressionEvent topic",
               "timings_ms": "stage_names/stage_times", "index": "frame_index"}
EVENT_HOMES = {"face_id": "face_id", "onset_ns": "onset", "apex_ns": "apex/header.stamp", "offset_ns": "offset",
               "type": "type", "regions": "regions", "action_units": "action_units", "intensity": "intensity",
               "confidence": "confidence", "emitted_ns": "emitted"}


def make_face(rng, face_id, n_points=478, with_units=True):
    points = np.column_stack([rng.uniform(100, 300, n_points), rng.uniform(80, 320, n_points),
                              rng.uniform(-20, 20, n_points)]).astype(np.float32)
    scores = rng.dirichlet(np.ones(7)).astype(np.float32)
    raw = rng.dirichlet(np.ones(7)).astype(np.float32)
    units = ActionUnits(blendshapes=rng.uniform(0, 1, 52).astype(np.float32), au_numbers=(1, 2, 4, 6, 12, 45),
                        intensities=rng.uniform(0, 1, 6).astype(np.float32)) if with_units else None
    return FaceResult(
        face_id=face_id, track_age=17, box=np.array([101.3, 77.8, 305.2, 331.9]), detection_confidence=0.93,
        landmarks=Landmarks(points=points, presence=0.98, ibug68=points[:68, :2] + 0.5),
        expression=EXPRESSION_LABELS[int(np.argmax(scores))], expression_confidence=float(scores.max()),
        expression_scores=scores, raw_scores=raw, valence=-0.25, arousal=0.4, action_units=units)


def make_result(rng, faces=2):
    event = MicroExpressionEvent(face_id="f1", onset_ns=1_700_000_000_100_000_000, apex_ns=1_700_000_000_200_000_000,
                                 offset_ns=1_700_000_000_300_000_000, type="MICRO", regions=("brows", "mouth"),
                                 action_units=(1, 2), intensity=0.35, confidence=0.7,
                                 emitted_ns=1_700_000_000_500_000_000)
    return FrameResult(stamp_ns=1_700_000_000_533_000_123, frame_id="camera_optical", width=512, height=512,
                       faces=[make_face(rng, f"f{i + 1}", with_units=i == 0) for i in range(faces)],
                       events=[event], timings_ms={"detect": 4.5, "track": 0.1, "landmarks": 9.25}, index=42)


@pytest.fixture(scope="module", params=DISTROS)
def store(request):
    return fea_ros_typestore(request.param)


def test_msg_files_are_found_in_the_source_tree():
    folder = find_msg_dir()
    assert folder.name == "msg" and folder.parent.name == "fea_ros_msgs"


def test_constants_come_from_the_msg_files(store):
    face_type = store.types[FACE_EXPRESSION]
    assert [getattr(face_type, label.upper()) for label in EXPRESSION_LABELS] == list(EXPRESSION_LABELS)
    assert (face_type.NONE, face_type.IBUG_68, face_type.MEDIAPIPE_478, face_type.MEDIAPIPE_468) == (
        messages.LAYOUT_NONE, messages.LAYOUT_IBUG_68, messages.LAYOUT_MEDIAPIPE_478, messages.LAYOUT_MEDIAPIPE_468)
    event_type = store.types[MICRO_EXPRESSION_EVENT]
    assert (event_type.MICRO, event_type.MACRO) == ("MICRO", "MACRO")


def test_every_core_field_has_a_home():
    assert {f.name for f in dataclasses.fields(FaceResult)} == set(FACE_HOMES) | set(FACE_NOT_PUBLISHED)
    assert not set(FACE_HOMES) & set(FACE_NOT_PUBLISHED)
    assert {f.name for f in dataclasses.fields(Landmarks)} == set(LANDMARK_HOMES)
    assert {f.name for f in dataclasses.fields(ActionUnits)} == set(UNIT_HOMES)
    assert {f.name for f in dataclasses.fields(FrameResult)} == set(FRAME_HOMES)
    assert {f.name for f in dataclasses.fields(MicroExpressionEvent)} == set(EVENT_HOMES)


def check_face(msg, face, width, height):
    assert msg.face_id == face.face_id and msg.track_age == face.track_age
    assert (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height) == (101, 77, 306 - 101, 332 - 77)
    assert msg.detection_confidence == pytest.approx(face.detection_confidence)
    assert msg.landmark_layout == messages.LAYOUT_MEDIAPIPE_478
    np.testing.assert_array_equal(np.asarray(msg.landmarks).reshape(-1, 2), face.landmarks.points[:, :2])
    np.testing.assert_array_equal(np.asarray(msg.landmark_depths), face.landmarks.points[:, 2])
    assert msg.landmark_presence == pytest.approx(face.landmarks.presence)
    np.testing.assert_array_equal(np.asarray(msg.ibug68).reshape(68, 2), face.landmarks.ibug68)
    assert msg.expression == face.expression
    assert msg.expression_confidence == pytest.approx(face.expression_confidence)
    np.testing.assert_array_equal(np.asarray(msg.expression_scores), face.expression_scores)
    np.testing.assert_array_equal(np.asarray(msg.expression_raw_scores), face.raw_scores)
    assert (msg.valence, msg.arousal) == pytest.approx((face.valence, face.arousal))
    if face.action_units is None:
        assert len(msg.action_units) == len(msg.action_unit_intensities) == len(msg.blendshapes) == 0
    else:
        assert list(msg.action_units) == list(face.action_units.au_numbers)
        np.testing.assert_array_equal(np.asarray(msg.action_unit_intensities), face.action_units.intensities)
        np.testing.assert_array_equal(np.asarray(msg.blendshapes), face.action_units.blendshapes)


def test_face_array_cdr_round_trip_keeps_every_value(store):
    result = make_result(np.random.default_rng(3))
    types = messages.rosbags_message_types(store)
    msg = messages.face_array_message(result, types)
    back = store.deserialize_cdr(store.serialize_cdr(msg, FACE_EXPRESSION_ARRAY), FACE_EXPRESSION_ARRAY)
    assert messages.stamp_ns(back.header.stamp) == result.stamp_ns and back.header.frame_id == result.frame_id
    assert (back.image_width, back.image_height, back.frame_index) == (512, 512, 42)
    assert list(back.expression_labels) == list(EXPRESSION_LABELS)
    assert list(back.stage_names) == ["detect", "track", "landmarks"]
    np.testing.assert_allclose(back.stage_times, [4.5, 0.1, 9.25], rtol=1e-6)
    assert messages.stamp_ns(back.processing_time) == 13_850_000
    assert len(back.faces) == 2
    for msg_face, face in zip(back.faces, result.faces):
        check_face(msg_face, face, result.width, result.height)


def test_event_cdr_round_trip_keeps_every_value(store):
    result = make_result(np.random.default_rng(4))
    event = result.events[0]
    types = messages.rosbags_message_types(store)
    msg = messages.event_message(event, result.frame_id, types)
    back = store.deserialize_cdr(store.serialize_cdr(msg, MICRO_EXPRESSION_EVENT), MICRO_EXPRESSION_EVENT)
    assert messages.stamp_ns(back.header.stamp) == event.apex_ns and back.header.frame_id == "camera_optical"
    assert [messages.stamp_ns(t) for t in (back.onset, back.apex, back.offset, back.emitted)] == [
        event.onset_ns, event.apex_ns, event.offset_ns, event.emitted_ns]
    assert (back.face_id, back.type, list(back.regions), list(back.action_units)) == (
        "f1", "MICRO", ["brows", "mouth"], [1, 2])
    assert (back.intensity, back.confidence) == pytest.approx((0.35, 0.7))


def test_empty_frame_and_faces_without_landmarks():
    store = fea_ros_typestore("jazzy")
    types = messages.rosbags_message_types(store)
    result = FrameResult(stamp_ns=5, frame_id="cam", width=64, height=48, faces=[], events=[], timings_ms={})
    back = store.deserialize_cdr(store.serialize_cdr(messages.face_array_message(result, types), FACE_EXPRESSION_ARRAY),
                                 FACE_EXPRESSION_ARRAY)
    assert back.faces == [] and messages.stamp_ns(back.header.stamp) == 5
    face = make_face(np.random.default_rng(5), "f9")
    face.box = np.array([-10.0, -3.0, 70.0, 50.0])  # partly outside the 64 x 48 image
    face.track_age = -1  # a brand-new track; the field is uint32
    msg = messages.face_message(face, 64, 48, types, include_landmarks=False)
    assert msg.track_age == 0
    assert msg.landmark_layout == messages.LAYOUT_NONE and msg.landmarks.size == 0 and msg.ibug68.size == 0
    assert (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height) == (0, 0, 64, 48)


def test_negative_and_large_stamps_split_like_builtin_interfaces():
    assert messages.split_ns(-1) == (-1, 999_999_999)
    assert messages.split_ns(1_700_000_000_533_000_123) == (1_700_000_000, 533_000_123)


def test_the_same_builder_fills_rclpy_style_classes_with_array_arrays():
    """rclpy rejects numpy arrays in float32[]/uint8[] fields: the rclpy adapter must hand it array.array."""
    store = fea_ros_typestore("jazzy")
    names = {"FaceExpressionArray": FACE_EXPRESSION_ARRAY, "FaceExpression": FACE_EXPRESSION,
             "MicroExpressionEvent": MICRO_EXPRESSION_EVENT}
    fea_module = SimpleNamespace(**{short: store.types[full] for short, full in names.items()})
    types = messages.rclpy_message_types(
        fea_module, SimpleNamespace(Header=store.types["std_msgs/msg/Header"]),
        SimpleNamespace(Time=store.types["builtin_interfaces/msg/Time"],
                        Duration=store.types["builtin_interfaces/msg/Duration"]),
        SimpleNamespace(RegionOfInterest=store.types["sensor_msgs/msg/RegionOfInterest"]),
        SimpleNamespace(**{name: store.types[f"geometry_msgs/msg/{name}"]
                           for name in ("Pose", "Point", "Quaternion", "Vector3")}))
    result = make_result(np.random.default_rng(6), faces=1)
    msg = messages.face_array_message(result, types)
    face = msg.faces[0]
    for name in ("landmarks", "landmark_depths", "ibug68", "expression_scores", "expression_raw_scores",
                 "action_unit_intensities", "blendshapes"):
        assert isinstance(getattr(face, name), array.array) and getattr(face, name).typecode == "f", name
    assert isinstance(face.action_units, array.array) and face.action_units.typecode == "B"
    assert isinstance(face.valence, float) and type(face.detection_confidence) is float
    check_face(face, result.faces[0], result.width, result.height)
    event = messages.event_message(result.events[0], result.frame_id, types)
    assert list(event.action_units) == [1, 2] and isinstance(event.action_units, array.array)


def test_messages_from_the_real_pipeline_on_the_astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    import cv2

    from fea_ros.core import pipeline as pipeline_module
    from fea_ros.core.types import Frame

    pipeline = pipeline_module.Pipeline()
    image = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    result = None
    for index in range(4):  # tracks are reported after tracking.confirm_frames
        result = pipeline.process(Frame(image=image, stamp_ns=1_000_000_000 + index * 33_333_333,
                                        frame_id="astronaut", index=index))
    assert result.faces, "the astronaut's face must be found"
    store = fea_ros_typestore("jazzy")
    types = messages.rosbags_message_types(store)
    back = store.deserialize_cdr(store.serialize_cdr(messages.face_array_message(result, types),
                                                     FACE_EXPRESSION_ARRAY), FACE_EXPRESSION_ARRAY)
    assert messages.stamp_ns(back.header.stamp) == result.stamp_ns
    for msg_face, face in zip(back.faces, result.faces):
        assert msg_face.face_id == face.face_id and msg_face.expression in EXPRESSION_LABELS
        np.testing.assert_array_equal(np.asarray(msg_face.expression_scores), face.expression_scores.astype(np.float32))
        if face.landmarks is not None:
            np.testing.assert_array_equal(np.asarray(msg_face.landmarks).reshape(-1, 2),
                                          face.landmarks.points[:, :2].astype(np.float32))


def real_attention(stamps_s=(0.0, 0.5, 1.5)):
    """A FaceAttention from MediaPipe's own landmarks of the astronaut (fixture), after a few looks."""
    import json
    from pathlib import Path

    from fea_ros.core.attention import AttentionEstimator
    from fea_ros.core.camera import CameraIntrinsics
    from fea_ros.core.config import AttentionConfig
    from fea_ros.core.head_pose import FaceGeometry
    from fea_ros.inference.models import Manifest

    reference = json.loads((Path(__file__).parent / "fixtures" / "mediapipe_head_pose.json").read_text())
    entry = reference["images"][0]
    points = np.asarray(entry["faces"][0]["landmarks"]) * (entry["width"], entry["height"], entry["width"])
    estimator = AttentionEstimator(FaceGeometry.from_manifest(Manifest()), AttentionConfig(release_angle_deg=80,
                                                                                           looking_angle_deg=80))
    camera = CameraIntrinsics.from_fov(entry["width"], entry["height"])
    for stamp in stamps_s:
        attention = estimator.update("f1", int(stamp * 1e9), points, camera)
    return attention


def test_attention_constants_match_rep155_and_the_core(store):
    from fea_ros.core.attention import ENGAGEMENT_STATES

    face_type = store.types[FACE_EXPRESSION]
    assert [getattr(face_type, f"ENGAGEMENT_{s.upper()}") for s in ENGAGEMENT_STATES] == [0, 1, 2, 3, 4]
    assert (face_type.INTRINSICS_NONE, face_type.INTRINSICS_CAMERA_INFO, face_type.INTRINSICS_FOV) == (
        messages.INTRINSICS_NONE, messages.INTRINSICS_BY_SOURCE["camera_info"], messages.INTRINSICS_BY_SOURCE["fov"])


def test_attention_fields_cdr_round_trip(store):
    from fea_ros.core.head_pose import quaternion_xyzw

    rng = np.random.default_rng(5)
    result = make_result(rng)
    attention = real_attention()
    result.faces[0].attention = attention
    types = messages.rosbags_message_types(store)
    back = store.deserialize_cdr(store.serialize_cdr(messages.face_array_message(result, types),
                                                     FACE_EXPRESSION_ARRAY), FACE_EXPRESSION_ARRAY)
    with_attention, without = back.faces
    assert with_attention.has_attention and not without.has_attention
    assert without.engagement == 0 and without.intrinsics == messages.INTRINSICS_NONE
    pose = with_attention.head_pose
    np.testing.assert_allclose([pose.position.x, pose.position.y, pose.position.z], attention.head.translation_m)
    quaternion = [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w]
    np.testing.assert_allclose(quaternion, quaternion_xyzw(attention.head.rotation))
    # the quaternion turns the face frame's x axis (out of the face) into the head's forward direction
    x, y, z, w = quaternion
    forward = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)])
    np.testing.assert_allclose(forward, attention.head.forward, atol=1e-9)
    assert forward[2] < -0.9  # the astronaut faces the camera: her face's x axis points back along -z
    np.testing.assert_allclose([with_attention.gaze.x, with_attention.gaze.y, with_attention.gaze.z],
                               attention.gaze.direction)
    assert with_attention.head_yaw == pytest.approx(attention.head.yaw_deg, abs=1e-4)
    assert with_attention.intrinsics == messages.INTRINSICS_BY_SOURCE["fov"]
    assert with_attention.gaze_from_eyes is False  # MediaPipe's 468 landmarks in the fixture: no irises
    assert with_attention.looking and with_attention.engagement == 3  # looked 1.5 s: ENGAGED
    assert with_attention.looking_time == pytest.approx(1.5)
