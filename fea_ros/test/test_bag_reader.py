"""BagImageReader on real rosbag2 bags written by rosbags (sqlite3 + MCAP, metadata v8 + v9)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from replay_bags import (CAMERA_TOPIC, PERIOD_NS, START_NS, STORAGES, BagSpec, as_humble_recording, face_frames,
                         write_bag)
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_typestore

from fea_ros.bag.errors import BagError, TopicSelectionError
from fea_ros.bag.reader import BagImageReader, parse_time
from fea_ros.core.image_msg import ImageMessageError, message_to_bgr

FRAMES = face_frames(6)


@pytest.mark.parametrize("storage", sorted(STORAGES))
@pytest.mark.parametrize("version", [8, 9])
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "jpeg"])
def test_reads_the_only_image_topic_among_unrelated_ones(tmp_path, storage, version, compressed):
    stamps = [START_NS + 5_000_000 + i * PERIOD_NS for i in range(len(FRAMES))]  # header != log time
    bag = write_bag(tmp_path / "bag", BagSpec(FRAMES, storage, version, compressed, stamps_ns=stamps))
    with BagImageReader(bag) as reader:
        assert reader.topic == CAMERA_TOPIC
        assert reader.msgtype.endswith("CompressedImage" if compressed else "/Image")
        assert {t.topic for t in reader.topics} == {CAMERA_TOPIC, "/chatter", "/imu"}
        assert reader.message_count == len(FRAMES)
        messages = list(reader)
    assert [m.index for m in messages] == list(range(len(FRAMES)))
    assert [m.stamp_ns for m in messages] == stamps
    assert [m.log_ns for m in messages] == [START_NS + i * PERIOD_NS for i in range(len(FRAMES))]
    assert all(m.frame_id == "camera_optical_frame" for m in messages)
    for message, frame in zip(messages, FRAMES):
        image = message_to_bgr(message.message)
        if compressed:
            assert np.abs(image.astype(int) - frame).mean() < 4.0
        else:
            np.testing.assert_array_equal(image, frame)


def test_a_storage_file_path_opens_its_bag_folder(tmp_path):
    bag = write_bag(tmp_path / "bag", BagSpec(FRAMES[:2], "mcap"))
    with BagImageReader(bag / "bag.mcap") as reader:
        assert len(list(reader)) == 2


def test_row_padding_in_the_bag_is_honoured(tmp_path):
    bag = write_bag(tmp_path / "bag", BagSpec(FRAMES[:3], "sqlite3", bad={1: "padded"}))
    with BagImageReader(bag) as reader:
        messages = list(reader)
    assert messages[1].message.step > messages[1].message.width * 3
    np.testing.assert_array_equal(message_to_bgr(messages[1].message), FRAMES[1])


def test_damaged_cdr_record_is_one_failed_message_not_a_failed_bag(tmp_path):
    bag = write_bag(tmp_path / "bag", BagSpec(FRAMES[:4], "mcap", bad={2: "truncated_cdr"}))
    with BagImageReader(bag) as reader:
        messages = list(reader)
    assert [m.message is None for m in messages] == [False, False, True, False]
    assert "deserialisation failed" in messages[2].error
    assert messages[2].stamp_ns == messages[2].log_ns


def test_bad_image_payloads_deserialise_and_fail_in_conversion(tmp_path):
    kinds = {1: "truncated_data", 2: "bad_step", 3: "unknown_encoding", 4: "zero_size"}
    bag = write_bag(tmp_path / "bag", BagSpec(FRAMES[:5], "sqlite3", version=8, bad=kinds))
    with BagImageReader(bag) as reader:
        messages = list(reader)
    reasons = {}
    for message in messages:
        try:
            message_to_bgr(message.message)
        except ImageMessageError as exc:
            reasons[message.index] = exc.reason
    assert reasons == kinds


@pytest.mark.parametrize("start,end,expected", [
    ("0.05", None, [2, 3, 4, 5]),
    (None, "0.1", [0, 1, 2]),
    ("0.04", "0.12", [1, 2]),
    (str(START_NS + 3 * PERIOD_NS), None, [3, 4, 5]),
    (None, str(START_NS + PERIOD_NS), [0]),
])
def test_start_and_end_select_a_time_range(tmp_path, start, end, expected):
    bag = write_bag(tmp_path / "bag", BagSpec(FRAMES, "mcap"))
    with BagImageReader(bag, start=start, end=end) as reader:
        logs = [m.log_ns for m in reader]
    assert logs == [START_NS + i * PERIOD_NS for i in expected]


def test_parse_time_rejects_garbage_and_negative_values():
    assert parse_time("1.5", 10, "start") == 10 + 1_500_000_000
    assert parse_time("1700000000000000001", 0) == 1_700_000_000_000_000_001
    with pytest.raises(BagError, match="not a number"):
        parse_time("soon", 0, "start")
    with pytest.raises(BagError, match="negative"):
        parse_time("-2", 0, "end")


def test_end_before_start_is_refused(tmp_path):
    bag = write_bag(tmp_path / "bag", BagSpec(FRAMES[:2], "mcap"))
    with pytest.raises(BagError, match="not after"):
        BagImageReader(bag, start="2", end="1").open()


def two_camera_bag(path: Path) -> Path:
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    with Writer(path, version=9, storage_plugin=STORAGES["mcap"]) as writer:
        writer.add_connection("/left/image_raw", "sensor_msgs/msg/Image", typestore=typestore)
        writer.add_connection("/right/image_raw/compressed", "sensor_msgs/msg/CompressedImage",
                              typestore=typestore)
        writer.add_connection("/chatter", "std_msgs/msg/String", typestore=typestore)
    return path


def test_several_image_topics_need_topic_and_the_error_lists_them(tmp_path):
    bag = two_camera_bag(tmp_path / "bag")
    with pytest.raises(TopicSelectionError) as caught:
        BagImageReader(bag).open()
    assert "--topic" in str(caught.value)
    assert "/left/image_raw" in str(caught.value) and "/right/image_raw/compressed" in str(caught.value)
    with BagImageReader(bag, topic="/right/image_raw/compressed") as reader:
        assert reader.msgtype == "sensor_msgs/msg/CompressedImage"
        assert list(reader) == []


@pytest.mark.parametrize("topic,words", [("/nope", ["not in bag", "/left/image_raw"]),
                                          ("/chatter", ["std_msgs/msg/String", "not Image"])])
def test_a_wrong_topic_is_refused_with_the_candidates(tmp_path, topic, words):
    bag = two_camera_bag(tmp_path / "bag")
    with pytest.raises(TopicSelectionError) as caught:
        BagImageReader(bag, topic=topic).open()
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize("storage", sorted(STORAGES))
def test_a_bag_without_image_topics_says_what_it_has(tmp_path, storage):
    bag = write_bag(tmp_path / "bag", BagSpec([], storage))
    with Writer(tmp_path / "empty", version=8, storage_plugin=STORAGES[storage]):
        pass
    with pytest.raises(TopicSelectionError, match="no topics at all"):
        BagImageReader(tmp_path / "empty").open()
    with BagImageReader(bag) as reader:  # the camera connection exists, with no messages
        assert reader.message_count == 0 and list(reader) == []


def test_missing_or_broken_bag_folders_raise_bag_errors(tmp_path):
    with pytest.raises(BagError, match="no bag at"):
        BagImageReader(tmp_path / "missing").open()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.yaml").write_text("this: [is not rosbag2 metadata\n")
    with pytest.raises(BagError, match="cannot open bag"):
        BagImageReader(tmp_path / "junk").open()
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"not a bag")
    with pytest.raises(BagError, match="cannot open bag.*metadata.yaml"):
        BagImageReader(tmp_path / "images").open()


def test_a_humble_recording_without_message_definitions_is_read(tmp_path):
    bag = as_humble_recording(write_bag(tmp_path / "bag", BagSpec(FRAMES[:3], "sqlite3", 8)))
    assert "version: 5" in (bag / "metadata.yaml").read_text()
    with BagImageReader(bag) as reader:
        messages = list(reader)
    assert len(messages) == 3
    np.testing.assert_array_equal(message_to_bgr(messages[2].message), FRAMES[2])
