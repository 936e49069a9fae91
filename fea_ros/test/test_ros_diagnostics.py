"""/diagnostics levels and values computed from runner statistics (framework-free part of the node)."""
import math
import threading

from fea_ros.core.config import PipelineConfig
from fea_ros.ros import diagnostics
from fea_ros.ros.diagnostics import DiagnosticThresholds, NodeHealth, pipeline_status
from fea_ros.ros.runner import FrameRunner, RunnerStats

MODELS = {"detector": "blazeface_full_192"}
HEALTH = NodeHealth("onnxruntime", MODELS, models_dir="/opt/models", input_topic="/camera/image_raw")


def stats(**changes):
    values = dict(submitted=300, processed=290, dropped=10, errors=0, submitted_in_window=150,
                  dropped_in_window=5, errors_in_window=0, lost=0, input_rate_hz=30.0, processed_rate_hz=29.0,
                  latency_p50_ms=40.0, latency_p95_ms=60.0, seconds_since_input=0.03, window_s=5.0)
    values.update(changes)
    return RunnerStats(**values)


def test_healthy_pipeline_is_ok_and_reports_everything():
    report = pipeline_status(stats(), HEALTH, DiagnosticThresholds())
    assert report.level == diagnostics.OK
    values = dict(report.values)
    assert values["backend"] == "onnxruntime" and values["model detector"] == "blazeface_full_192"
    assert values["models folder"] == "/opt/models" and values["input topic"] == "/camera/image_raw"
    assert values["input rate"] == "30.0 Hz" and values["processed rate"] == "29.0 Hz"
    assert values["dropped frames"] == "10" and values["latency p50"] == "40.0 ms" and values["latency p95"] == "60.0 ms"
    assert values["dropped share"] == "3 % of 150 in 5 s"


def test_latency_thresholds():
    thresholds = DiagnosticThresholds(latency_warn_ms=100.0, latency_error_ms=500.0)
    assert pipeline_status(stats(latency_p95_ms=150.0), HEALTH, thresholds).level == diagnostics.WARN
    report = pipeline_status(stats(latency_p95_ms=900.0), HEALTH, thresholds)
    assert report.level == diagnostics.ERROR and "900 ms" in report.message


def test_drop_ratio_compares_drops_and_inputs_of_the_same_window():
    thresholds = DiagnosticThresholds(drop_warn_ratio=0.5, drop_error_ratio=0.9)
    # 60 % of the window's frames dropped: the old check (one second of drops / five seconds of input) read OK
    report = pipeline_status(stats(submitted_in_window=150, dropped_in_window=90), HEALTH, thresholds)
    assert report.level == diagnostics.WARN and "dropping 60 %" in report.message
    report = pipeline_status(stats(submitted_in_window=150, dropped_in_window=140), HEALTH, thresholds)
    assert report.level == diagnostics.ERROR and "dropping 93 %" in report.message
    assert pipeline_status(stats(submitted_in_window=150, dropped_in_window=70), HEALTH, thresholds).level == diagnostics.OK
    # too few frames in the window to judge
    assert pipeline_status(stats(submitted_in_window=4, dropped_in_window=3), HEALTH, thresholds).level == diagnostics.OK


def test_runner_counts_drops_in_the_same_window_as_inputs():
    now = [0.0]
    busy, release = threading.Event(), threading.Event()

    def process(item):
        busy.set()
        release.wait(10)  # the worker holds the first frame; every later submit replaces the waiting one
        return item

    runner = FrameRunner(process, lambda item, result: None, window_s=5.0, clock=lambda: now[0])
    runner.start()
    runner.submit(0)
    assert busy.wait(10)
    for step in range(1, 100):
        now[0] = step * 0.1
        runner.submit(step)
    result = runner.stats()  # at 9.9 s: the window holds the submits of 4.9 .. 9.9 s, each a drop
    release.set()
    runner.stop()
    assert result.submitted_in_window == 51 and result.dropped_in_window == 51
    assert result.submitted == 100 and result.dropped == 98


def test_silence_and_failures():
    thresholds = DiagnosticThresholds()
    health = NodeHealth("x", {}, input_topic="/cam/image", silence="image topics that exist: /cam2/image (sensor_msgs/msg/Image)")
    report = pipeline_status(stats(seconds_since_input=math.inf, input_rate_hz=0.0), health, thresholds)
    assert report.level == diagnostics.WARN and "no image received yet on /cam/image" in report.message
    assert "/cam2/image" in report.message
    failing = NodeHealth("x", {}, last_error="ValueError: bad")
    report = pipeline_status(stats(errors=3, errors_in_window=3), failing, thresholds)
    assert report.level == diagnostics.ERROR and "ValueError: bad" in report.message


def test_rejected_images_are_counted_by_kind():
    health = NodeHealth("x", {}, rejected={"bad_step": 2, "corrupt_compressed": 1})
    values = dict(pipeline_status(stats(), health, DiagnosticThresholds()).values)
    assert values["rejected images"] == "3" and values["rejected bad_step"] == "2"
    assert values["rejected corrupt_compressed"] == "1"


def test_inactive_node_is_ok_with_backend_only():
    report = pipeline_status(None, NodeHealth("tensorrt", MODELS), DiagnosticThresholds())
    assert report.level == diagnostics.OK and "inactive" in report.message
    assert dict(report.values)["backend"] == "tensorrt"


def test_model_names_follow_the_config():
    config = PipelineConfig()
    names = diagnostics.model_names(config)
    assert names["detector"] == "blazeface_full_192" and names["landmarks"] == "facemesh_v2_478_256"
    fast = PipelineConfig.fast()
    fast.expression.weights = {"faceapi": 0.0, "fer": 1.0}
    names = diagnostics.model_names(fast)
    assert names["detector"] == "blazeface_short_128" and "blendshapes" not in names
    assert "expression faceapi" not in names and names["expression fer"] == "fer_minixception_64"
