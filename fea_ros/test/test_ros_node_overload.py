"""Overload: a camera at four times the rate the node can process, for 20 s, against the node as a process.

The one-slot mailbox must keep latency bounded (a queue would grow it by seconds), drops must show in
/diagnostics (counted, WARN/ERROR by the drop ratio), and memory must not grow. The figures are printed:
``python -m pytest fea_ros/test/test_ros_node_overload.py -s`` (docs/ros.md quotes them).
"""
import signal
import time

import cv2
import numpy as np
import pytest

from ros_harness import NodeProcess, image_message, values, wait_until

DURATION_S = 20.0


def test_four_times_overload_keeps_latency_bounded_counts_drops_and_holds_memory(peer, tmp_path):
    from diagnostic_msgs.msg import DiagnosticStatus
    from fea_ros_msgs.msg import FaceExpressionArray
    from lifecycle_msgs.msg import Transition
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    skimage_data = pytest.importorskip("skimage.data", reason="the astronaut photo comes from scikit-image")
    frame = cv2.resize(cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR), (640, 480))
    # default thresholds: 4x overload drops ~75 % of the frames, above drop_warn_ratio (0.5); the frames the
    # node's depth-1 DDS reader discards before the executor takes them count too (publisher sequence gaps)
    with NodeProcess(tmp_path / "overload.log", ["-r", "__ns:=/overload"]) as node:
        name = "/overload/pipeline_node"
        assert peer.change_state(name, Transition.TRANSITION_CONFIGURE)
        assert peer.change_state(name, Transition.TRANSITION_ACTIVATE)
        faces = peer.collect(FaceExpressionArray, "/overload/faces", 500)
        camera = peer.publisher(Image, "/overload/image", qos_profile_sensor_data)
        peer.wait_for_subscriber(camera)

        def publish_for(seconds, rate_hz):
            sent, start = 0, time.monotonic()
            while time.monotonic() - start < seconds:
                camera.publish(image_message(frame, stamp=time.time_ns()))
                sent += 1
                time.sleep(max(0.0, start + sent / rate_hz - time.monotonic()))
            return sent / (time.monotonic() - start)

        publish_for(3.0, 5.0)  # warm up at a rate every machine keeps up with
        faces.clear()
        probe_start = time.monotonic()
        publish_for(4.0, 200.0)
        capacity_hz = len(faces.snapshot()) / (time.monotonic() - probe_start)
        assert capacity_hz > 0, "nothing processed"
        faces.clear()
        rss_start = node.rss_kib()
        input_hz = publish_for(DURATION_S, 4.0 * capacity_hz)
        rss_end = node.rss_kib()
        results = faces.snapshot()
        latencies_ms = np.array([m.processing_time.sec * 1e3 + m.processing_time.nanosec * 1e-6 for m in results])
        status = wait_until(lambda: (s := peer.status(name)) is not None and s, 10, "a /diagnostics status")
        kv = values(status)
        processed_hz = len(results) / DURATION_S
        p50, p95 = np.percentile(latencies_ms, [50, 95])
        print(f"\noverload: input {input_hz:.1f} Hz (4 x measured capacity {capacity_hz:.1f} Hz), processed "
              f"{processed_hz:.1f} Hz (received {kv['input rate']}), latency stamp->publish p50 {p50:.0f} ms p95 {p95:.0f} ms, "
              f"dropped {kv['dropped frames']} ({kv['dropped share']}), diagnostics {status.level!r}: "
              f"{status.message[:100]}, RSS {rss_start / 1024:.0f} -> {rss_end / 1024:.0f} MiB")
        assert len(results) > 0.5 * capacity_hz * DURATION_S * 0.5
        # a queue would hold 3/4 of 20 s of input and its latency would reach ~15 s: the mailbox keeps it to
        # about one frame's processing time plus one waiting frame
        assert p95 < 10 * 1000 / capacity_hz + 500
        assert int(kv["dropped frames"]) > 0
        assert status.level in (DiagnosticStatus.WARN, DiagnosticStatus.ERROR) and "dropping" in status.message
        assert rss_end - rss_start < 60 * 1024, "memory grew under overload"
        node.signal_group(signal.SIGINT)
        assert node.wait(30) == 0
