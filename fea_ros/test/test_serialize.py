"""The JSONL record of a frame: fields, order, rounding, optional parts, no NaN, deterministic text."""
from __future__ import annotations

import json

import numpy as np

from fea_ros.core.serialize import SCHEMA_VERSION, frame_result_to_dict, frame_result_to_json
from fea_ros.core.types import (
    EXPRESSION_LABELS,
    ActionUnits,
    FaceResult,
    FrameResult,
    Landmarks,
    MicroExpressionEvent,
)


def make_result(valence: float = 0.61234567) -> FrameResult:
    rng = np.random.default_rng(3)
    points = np.column_stack([rng.uniform(100, 200, 478), rng.uniform(80, 180, 478), rng.normal(0, 5, 478)])
    scores = np.array([0.05, 0.8, 0.03, 0.02, 0.04, 0.01, 0.05])
    face = FaceResult(
        face_id="f1", track_age=12, box=np.array([179.123456, 82.5, 271.0, 175.999]), detection_confidence=0.93712,
        landmarks=Landmarks(points=points, presence=0.99, ibug68=points[:68, :2]),
        expression="happy", expression_confidence=0.8, expression_scores=scores,
        raw_scores=np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]), valence=valence, arousal=-0.0000001,
        action_units=ActionUnits(blendshapes=np.linspace(0, 1, 52), au_numbers=(1, 12, 45),
                                 intensities=np.array([0.1, 0.87654, 0.0])),
        per_model={"faceapi": np.array([0.1, 0.7, 0.05, 0.05, 0.04, 0.03, 0.03]), "fer": scores.copy()},
    )
    event = MicroExpressionEvent(face_id="f1", onset_ns=1_000_000_000, apex_ns=1_100_000_000,
                                 offset_ns=1_250_000_000, type="MICRO", regions=("mouth",), action_units=(12,),
                                 intensity=0.3, confidence=0.7, emitted_ns=1_450_000_000)
    return FrameResult(stamp_ns=1_466_666_667, frame_id="camera", width=640, height=480, faces=[face],
                       events=[event], timings_ms={"detect": 3.14159, "track": 0.0123}, index=44)


def test_fields_in_fixed_order():
    record = frame_result_to_dict(make_result())
    assert list(record) == ["schema", "stamp_ns", "frame_id", "index", "width", "height", "faces", "events",
                            "timings_ms"]
    assert record["schema"] == SCHEMA_VERSION
    face = record["faces"][0]
    assert list(face) == ["id", "track_age", "box", "detection_confidence", "expression", "expression_confidence",
                          "scores", "raw_scores", "valence", "arousal", "action_units", "attention"]
    assert face["attention"] is None  # no attention estimate on this face
    assert list(face["scores"]) == list(EXPRESSION_LABELS)
    assert list(record["events"][0]) == ["face_id", "type", "onset_ns", "apex_ns", "offset_ns", "duration_s",
                                         "regions", "action_units", "intensity", "confidence", "emitted_ns"]


def test_the_networks_own_outputs_stay_out_of_the_record():
    """FaceResult.per_model is for `fea-ros evaluate expression` in-process; a JSONL line carries the fusion only."""
    result = make_result()
    assert result.faces[0].per_model  # filled, as the pipeline fills it
    for landmarks in (False, True):
        keys = set()

        def collect(value):
            if isinstance(value, dict):
                keys.update(value)
                for item in value.values():
                    collect(item)
            elif isinstance(value, list):
                for item in value:
                    collect(item)

        collect(json.loads(frame_result_to_json(result, landmarks=landmarks)))
        assert not keys & {"per_model", "faceapi", "fer"}


def test_values_are_plain_json_and_rounded():
    record = frame_result_to_dict(make_result())
    face = record["faces"][0]
    assert record["stamp_ns"] == 1_466_666_667 and isinstance(record["stamp_ns"], int)
    assert face["box"] == [179.12, 82.5, 271.0, 176.0]
    assert face["detection_confidence"] == 0.9371
    assert face["valence"] == 0.6123
    assert face["arousal"] == 0.0 and str(face["arousal"]) == "0.0"  # no "-0.0"
    assert face["scores"]["happy"] == 0.8
    assert face["action_units"] == {"AU1": 0.1, "AU12": 0.8765, "AU45": 0.0}
    assert record["events"][0]["duration_s"] == 0.25
    assert record["timings_ms"] == {"detect": 3.142, "track": 0.012}
    assert "landmarks" not in face and "blendshapes" not in face


def test_landmarks_flag_adds_mesh_and_blendshapes():
    result = make_result()
    face = frame_result_to_dict(result, landmarks=True)["faces"][0]
    assert len(face["landmarks"]["points"]) == 478 and len(face["landmarks"]["points"][0]) == 3
    assert len(face["landmarks"]["ibug68"]) == 68
    assert face["landmarks"]["points"][5][0] == round(float(result.faces[0].landmarks.points[5, 0]), 2)
    assert len(face["blendshapes"]) == 52 and face["blendshapes"][-1] == 1.0


def test_missing_parts_become_null_not_errors():
    result = make_result(valence=float("nan"))
    result.faces[0].landmarks = None
    result.faces[0].action_units = None
    face = frame_result_to_dict(result, landmarks=True)["faces"][0]
    assert face["valence"] is None
    assert face["action_units"] is None and face["landmarks"] is None and face["blendshapes"] is None
    json.loads(frame_result_to_json(result, landmarks=True))  # strict JSON: NaN would not parse as null


def test_json_line_is_deterministic_and_single_line():
    first = frame_result_to_json(make_result(), landmarks=True)
    second = frame_result_to_json(make_result(), landmarks=True)
    assert first == second
    assert "\n" not in first
    assert json.loads(first)["faces"][0]["id"] == "f1"
    without = json.loads(frame_result_to_json(make_result(), timings=False))
    assert "timings_ms" not in without


def test_empty_frame():
    result = FrameResult(stamp_ns=0, frame_id="", width=1, height=1, faces=[], events=[], timings_ms={})
    assert frame_result_to_dict(result) == {"schema": SCHEMA_VERSION, "stamp_ns": 0, "frame_id": "", "index": 0,
                                            "width": 1, "height": 1, "faces": [], "events": [], "timings_ms": {}}


def test_attention_record_is_rounded_json_in_the_optical_frame():
    from test_ros_messages import real_attention

    result = make_result()
    attention = real_attention()
    result.faces[0].attention = attention
    record = json.loads(frame_result_to_json(result))
    entry = record["faces"][0]["attention"]
    assert list(entry) == ["head", "gaze", "looking", "attention_score", "engagement", "looking_time_s"]
    assert list(entry["head"]) == ["position_m", "orientation_xyzw", "yaw_deg", "pitch_deg", "roll_deg",
                                   "intrinsics"]
    assert entry["head"]["position_m"] == [round(float(v), 4) for v in attention.head.translation_m]
    assert entry["head"]["position_m"][2] > 0.3  # in front of the camera (z forward), metres
    assert abs(sum(q * q for q in entry["head"]["orientation_xyzw"]) - 1) < 1e-4
    assert entry["head"]["intrinsics"] == "fov" and entry["gaze"]["source"] == "head"
    assert abs(sum(v * v for v in entry["gaze"]["direction"]) - 1) < 1e-4
    assert (entry["looking"], entry["engagement"], entry["looking_time_s"]) == (True, "engaged", 1.5)
