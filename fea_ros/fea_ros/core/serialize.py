"""FrameResult -> JSON-ready dict: one JSON line per frame, the same for `fea-ros run` and the bag replay.

The layout is documented field by field in docs/output-schema.md; change both together. Keys come out in a
fixed order (dicts keep insertion order) and floats are rounded to what the numbers can carry, so lines
written by different tools from the same results are byte-identical (except ``timings_ms``, which is wall time;
pass ``timings=False`` to leave it out when comparing).
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable

import numpy as np

from fea_ros.core.attention import FaceAttention
from fea_ros.core.head_pose import quaternion_xyzw
from fea_ros.core.types import (
    EXPRESSION_LABELS,
    ActionUnits,
    FaceResult,
    FrameResult,
    Landmarks,
    MicroExpressionEvent,
)

SCHEMA_VERSION = 1
METRE_DECIMALS = 4  # 0.1 mm
DEGREE_DECIMALS = 2
UNIT_DECIMALS = 5  # unit vectors and quaternions
PIXEL_DECIMALS = 2  # sub-pixel landmark positions; finer digits are noise
SCORE_DECIMALS = 4  # probabilities, intensities, confidences
MS_DECIMALS = 3  # stage timings in milliseconds (microsecond resolution)


def _round(value: float, decimals: int) -> float | None:
    value = float(value)
    if not math.isfinite(value):
        return None  # JSON has no NaN/inf; null says "not available"
    rounded = round(value, decimals)
    return 0.0 if rounded == 0 else rounded  # no "-0.0"


def _round_all(values: Iterable[float] | np.ndarray, decimals: int) -> list[Any]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim > 1:
        return [_round_all(row, decimals) for row in array]
    return [_round(v, decimals) for v in array]


def _scores(values: np.ndarray) -> dict[str, float | None]:
    return {label: _round(p, SCORE_DECIMALS) for label, p in zip(EXPRESSION_LABELS, np.asarray(values))}


def _action_units(units: ActionUnits) -> dict[str, float | None]:
    return {f"AU{number}": _round(value, SCORE_DECIMALS) for number, value in zip(units.au_numbers, units.intensities)}


def _landmarks(mesh: Landmarks) -> dict[str, Any]:
    return {
        "presence": _round(mesh.presence, SCORE_DECIMALS),
        "points": _round_all(mesh.points, PIXEL_DECIMALS),
        "ibug68": _round_all(mesh.ibug68, PIXEL_DECIMALS),
    }


def _attention(attention: FaceAttention) -> dict[str, Any]:
    head, gaze = attention.head, attention.gaze
    return {
        "head": {
            "position_m": _round_all(head.translation_m, METRE_DECIMALS),
            "orientation_xyzw": _round_all(quaternion_xyzw(head.rotation), UNIT_DECIMALS),
            "yaw_deg": _round(head.yaw_deg, DEGREE_DECIMALS),
            "pitch_deg": _round(head.pitch_deg, DEGREE_DECIMALS),
            "roll_deg": _round(head.roll_deg, DEGREE_DECIMALS),
            "intrinsics": head.intrinsics,
        },
        "gaze": {
            "origin_m": _round_all(gaze.origin_m, METRE_DECIMALS),
            "direction": _round_all(gaze.direction, UNIT_DECIMALS),
            "source": gaze.source,
            "angle_to_camera_deg": _round(attention.gaze_angle_deg, DEGREE_DECIMALS),
        },
        "looking": bool(attention.looking),
        "attention_score": _round(attention.score, SCORE_DECIMALS),
        "engagement": attention.engagement,
        "looking_time_s": _round(attention.looking_time_s, 3),
    }


def face_result_to_dict(face: FaceResult, landmarks: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": face.face_id,
        "track_age": int(face.track_age),
        "box": _round_all(face.box, PIXEL_DECIMALS),
        "detection_confidence": _round(face.detection_confidence, SCORE_DECIMALS),
        "expression": face.expression,
        "expression_confidence": _round(face.expression_confidence, SCORE_DECIMALS),
        "scores": _scores(face.expression_scores),
        "raw_scores": _scores(face.raw_scores),
        "valence": _round(face.valence, SCORE_DECIMALS),
        "arousal": _round(face.arousal, SCORE_DECIMALS),
        "action_units": _action_units(face.action_units) if face.action_units is not None else None,
        "attention": _attention(face.attention) if face.attention is not None else None,
    }
    if landmarks:
        entry["blendshapes"] = (_round_all(face.action_units.blendshapes, SCORE_DECIMALS)
                                if face.action_units is not None else None)
        entry["landmarks"] = _landmarks(face.landmarks) if face.landmarks is not None else None
    return entry


def event_to_dict(event: MicroExpressionEvent) -> dict[str, Any]:
    return {
        "face_id": event.face_id,
        "type": event.type,
        "onset_ns": int(event.onset_ns),
        "apex_ns": int(event.apex_ns),
        "offset_ns": int(event.offset_ns),
        "duration_s": _round((event.offset_ns - event.onset_ns) / 1e9, 4),
        "regions": list(event.regions),
        "action_units": [int(n) for n in event.action_units],
        "intensity": _round(event.intensity, SCORE_DECIMALS),
        "confidence": _round(event.confidence, SCORE_DECIMALS),
        "emitted_ns": int(event.emitted_ns),
    }


def frame_result_to_dict(result: FrameResult, landmarks: bool = False, timings: bool = True) -> dict[str, Any]:
    """The JSONL record of one frame. ``landmarks`` adds the mesh points, the iBUG-68 subset and blendshapes."""
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "stamp_ns": int(result.stamp_ns),
        "frame_id": result.frame_id,
        "index": int(result.index),
        "width": int(result.width),
        "height": int(result.height),
        "faces": [face_result_to_dict(face, landmarks) for face in result.faces],
        "events": [event_to_dict(event) for event in result.events],
    }
    if timings:
        record["timings_ms"] = {stage: _round(ms, MS_DECIMALS) for stage, ms in result.timings_ms.items()}
    return record


def frame_result_to_json(result: FrameResult, landmarks: bool = False, timings: bool = True) -> str:
    """One compact JSON line (no trailing newline)."""
    return json.dumps(frame_result_to_dict(result, landmarks, timings), separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
