"""/diagnostics levels and values computed from runner statistics."""
import math

from fea_ros.core.config import PipelineConfig
from fea_ros.ros import diagnostics
from fea_ros.ros.diagnostics import DiagnosticThresholds, pipeline_status
from fea_ros.ros.runner import RunnerStats

MODELS = {"detector": "blazeface_full_192"}


def stats(**changes):
    values = dict(submitted=300, processed=290, dropped=10, errors=0, input_rate_hz=30.0, processed_rate_hz=29.0,
                  latency_p50_ms=40.0, latency_p95_ms=60.0, seconds_since_input=0.03, window_s=5.0)
    values.update(changes)
    return RunnerStats(**values)


def test_healthy_pipeline_is_ok_and_reports_everything():
    report = pipeline_status(stats(), "onnxruntime", MODELS, DiagnosticThresholds())
    assert report.level == diagnostics.OK
    values = dict(report.values)
    assert values["backend"] == "onnxruntime" and values["model detector"] == "blazeface_full_192"
    assert values["input rate"] == "30.0 Hz" and values["processed rate"] == "29.0 Hz"
    assert values["dropped frames"] == "10" and values["latency p50"] == "40.0 ms" and values["latency p95"] == "60.0 ms"


def test_latency_thresholds():
    thresholds = DiagnosticThresholds(latency_warn_ms=100.0, latency_error_ms=500.0)
    assert pipeline_status(stats(latency_p95_ms=150.0), "x", {}, thresholds).level == diagnostics.WARN
    report = pipeline_status(stats(latency_p95_ms=900.0), "x", {}, thresholds)
    assert report.level == diagnostics.ERROR and "900 ms" in report.message


def test_drops_silence_and_failures():
    thresholds = DiagnosticThresholds()
    report = pipeline_status(stats(), "x", {}, thresholds, dropped_in_window=120)
    assert report.level == diagnostics.WARN and "dropping" in report.message
    report = pipeline_status(stats(seconds_since_input=math.inf, input_rate_hz=0.0), "x", {}, thresholds)
    assert report.level == diagnostics.WARN and "no image received yet" in report.message
    report = pipeline_status(stats(errors=3), "x", {}, thresholds, errors_in_window=3, last_error="ValueError: bad")
    assert report.level == diagnostics.ERROR and "ValueError: bad" in report.message


def test_inactive_node_is_ok_with_backend_only():
    report = pipeline_status(None, "tensorrt", MODELS, DiagnosticThresholds())
    assert report.level == diagnostics.OK and "inactive" in report.message
    assert dict(report.values)["backend"] == "tensorrt"


def test_model_names_follow_the_config():
    config = PipelineConfig()
    names = diagnostics.model_names(config)
    assert names["detector"] == "blazeface_full_192" and names["landmarks"] == "facemesh_v2_478_256"
    assert names["fallback detector"] == "blazeface_short_128"
    fast = PipelineConfig.fast()
    fast.expression.weights = {"faceapi": 0.0, "fer": 1.0}
    names = diagnostics.model_names(fast)
    assert names["detector"] == "blazeface_short_128" and "blendshapes" not in names
    assert "fallback detector" not in names  # the fallback is the detector itself
    assert "expression faceapi" not in names and names["expression fer"] == "fer_minixception_64"
