"""The node's framework-free input checks: conversion rejects, sequence gaps, QoS choice, silence, clocks, numpy."""
import numpy as np
import pytest

from fea_ros.core.image_msg import ImageMessageError
from fea_ros.ros import input_watch, system_check
from fea_ros.ros.image_input import RejectLog, SequenceGaps, to_frame
from fea_ros.ros.input_watch import BEST_EFFORT, RELIABLE, Publisher


class Header:
    class stamp:  # noqa: N801 - the shape of builtin_interfaces/Time
        sec, nanosec = 5, 7

    frame_id = "cam"


class Raw:
    def __init__(self, width, height, encoding="bgr8", step=None, data=None):
        self.width, self.height, self.encoding, self.is_bigendian = width, height, encoding, 0
        self.step = width * 3 if step is None else step
        self.data = bytes(self.step * height) if data is None else data
        self.header = Header()


def test_to_frame_keeps_stamp_and_frame_id_and_rejects_by_kind():
    frame = to_frame(Raw(64, 48), compressed=False)
    assert frame.image.shape == (48, 64, 3) and frame.stamp_ns == 5_000_000_007 and frame.frame_id == "cam"
    for msg, reason in [(Raw(64, 48, step=100), "bad_step"), (Raw(64, 48, data=b"\0" * 10), "truncated_data"),
                        (Raw(4, 4, "16UC1", step=8), "depth_image"), (Raw(0, 0), "zero_size"),
                        (Raw(8, 8), "too_small"), (Raw(64, 48, "yuv9"), "unknown_encoding"),
                        (Raw(7681, 4320, data=b""), "too_large")]:
        with pytest.raises(ImageMessageError) as caught:
            to_frame(msg, compressed=False)
        assert caught.value.reason == reason


def test_reject_log_counts_every_image_and_logs_a_kind_once_per_period():
    log = RejectLog(period_s=10.0)
    error = ImageMessageError("bad_step", "step too small")
    texts = [log.add(error, now) for now in (0.0, 1.0, 9.9, 10.0, 10.5)]
    assert [t is not None for t in texts] == [True, False, False, True, False]
    assert "5 so far" not in texts[0] and "4 so far" in texts[3] and log.counts["bad_step"] == 5


def test_sequence_gaps_count_the_frames_that_never_arrived():
    gaps = SequenceGaps()
    assert [gaps.gap(n) for n in (1, 2, 5, 6, 10, 3, 4)] == [0, 0, 2, 0, 3, 0, 0]
    assert gaps.gap(SequenceGaps.UNSUPPORTED) == 0


def test_qos_auto_follows_the_publishers():
    reliable, best = Publisher("/cam", RELIABLE), Publisher("/cam2", BEST_EFFORT)
    assert input_watch.choose_reliability("auto", [reliable]) == RELIABLE
    assert input_watch.choose_reliability("auto", [reliable, best]) == BEST_EFFORT
    assert input_watch.choose_reliability("auto", []) == BEST_EFFORT
    assert input_watch.choose_reliability("reliable", [best]) == RELIABLE
    assert input_watch.choose_reliability("sensor_data", [reliable]) == BEST_EFFORT


def test_silence_report_says_what_exists_and_what_to_change():
    graph = [("/cam/image_raw", ["sensor_msgs/msg/Image"]), ("/cam/image_raw/compressed", ["sensor_msgs/msg/CompressedImage"]),
             ("/rosout", ["rcl_interfaces/msg/Log"])]
    text = input_watch.silence_report("/image", "sensor_msgs/msg/Image", BEST_EFFORT, 5, graph, [])
    assert "nobody publishes it" in text and "/cam/image_raw (sensor_msgs/msg/Image)" in text and "/rosout" not in text
    text = input_watch.silence_report("/image", "sensor_msgs/msg/Image", RELIABLE, 5, graph, [Publisher("/cam", BEST_EFFORT)])
    assert "offer best effort" in text and "qos to auto or sensor_data" in text
    text = input_watch.silence_report("/image", "sensor_msgs/msg/Image", BEST_EFFORT, 5, graph, [Publisher("/cam", BEST_EFFORT)])
    assert "Large images" in text
    assert "no image topic exists" in input_watch.silence_report("/image", "sensor_msgs/msg/Image", BEST_EFFORT, 5, [], [])


def test_clock_note_names_the_clock_to_use():
    now = 1_700_000_000 * 10**9
    assert input_watch.clock_note(now - 10**8, now, use_sim_time=False) is None
    assert "--clock" in input_watch.clock_note(10**9, now, use_sim_time=False)  # a bag played without /clock
    assert "no /clock" in input_watch.clock_note(now, 0, use_sim_time=True)
    assert "/clock time" in input_watch.clock_note(now, now + 100 * 10**9, use_sim_time=True)
    assert input_watch.clock_note(0, now, use_sim_time=False) is None  # stamp zero is reported on its own


def test_numpy_2_is_refused_only_in_a_distribution_ros_python():
    problem = system_check.numpy_problem("2.2.1", "/usr/local/lib/python3.12/dist-packages/numpy",
                                         "/opt/ros/jazzy/lib/python3.12/site-packages/rclpy", "jazzy")
    assert problem and "numpy 2.2.1" in problem and "ros-constraints.txt" in problem and "jazzy" in problem
    assert system_check.numpy_problem("1.26.4", "/usr/lib/python3/dist-packages/numpy",
                                      "/opt/ros/jazzy/lib/python3.12/site-packages/rclpy", "jazzy") is None
    # the PyPI Jazzy wheels (make test) are built against numpy 2
    assert system_check.numpy_problem("2.4.6", "/venv/lib/python3.11/site-packages/numpy",
                                      "/venv/lib/python3.11/site-packages/rclpy", "") is None
    assert system_check.current_numpy_problem() is None  # this test venv is fine
    assert np.__version__  # numpy itself imported
