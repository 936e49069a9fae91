"""`fea-ros replay` end to end on real bags (rosbags-written, frames of the sample clip) and the real models.

The output bags are read back with rosbags and, independently, with Foxglove's mcap + mcap_ros2 from the
schemas embedded in the bag.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from replay_bags import CAMERA_TOPIC, START_NS, BagSpec, face_frames, write_bag
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Writer

from fea_ros.bag.reader import BagImageReader
from fea_ros.bag.replay import replay
from fea_ros.bag.report import ReplayReport
from fea_ros.cli import main
from fea_ros.core.config import PipelineConfig
from fea_ros.core.pipeline import Pipeline
from fea_ros.core.serialize import frame_result_to_dict
from fea_ros.core.types import Frame

FRAMES = face_frames(12, every=2)  # 15 fps, 0.8 s of the three-face clip
PERIOD_15FPS = 66_666_667


def jsonl(path: Path) -> list[dict]:
    """The JSONL records without the wall-time timings (which differ from run to run)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record.pop("timings_ms", None)
    return records


def bag_messages(path: Path) -> dict[str, list]:
    """topic -> [(log_ns, message)] read with rosbags."""
    out: dict[str, list] = {}
    with AnyReader([path]) as reader:
        for connection, log_ns, raw in reader.messages():
            out.setdefault(connection.topic, []).append((log_ns, reader.deserialize(raw, connection.msgtype)))
    return out


def mcap_ros2_messages(path: Path, storage: str) -> dict[str, list]:
    """topic -> [(log_ns, decoded)] decoded by mcap_ros2 from the definitions embedded in the bag only."""
    from mcap.reader import make_reader
    from mcap.records import Schema
    from mcap_ros2.decoder import DecoderFactory

    out: dict[str, list] = {}
    if storage == "mcap":
        with open(next(path.glob("*.mcap")), "rb") as handle:
            reader = make_reader(handle, decoder_factories=[DecoderFactory()])
            for _schema, channel, message, decoded in reader.iter_decoded_messages():
                out.setdefault(channel.topic, []).append((message.log_time, decoded))
        return out
    with sqlite3.connect(next(path.glob("*.db3"))) as db:
        schemas = {name: Schema(id=i, name=name, encoding=encoding, data=text.encode())
                   for i, (name, encoding, text) in enumerate(db.execute(
                       "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"))}
        rows = db.execute("SELECT t.name, t.type, m.timestamp, m.data FROM messages m JOIN topics t "
                          "ON m.topic_id = t.id ORDER BY m.timestamp, m.id").fetchall()
    decoders = {name: DecoderFactory().decoder_for("cdr", schema) for name, schema in schemas.items()}
    for topic, msgtype, log_ns, data in rows:
        out.setdefault(topic, []).append((log_ns, decoders[msgtype](data)))
    return out


def mcap_channel_qos(path: Path) -> dict[str, str]:
    """topic -> offered_qos_profiles of the MCAP channel metadata (what the Humble/Jazzy MCAP plugin reads)."""
    from mcap.reader import make_reader

    with open(next(path.glob("*.mcap")), "rb") as handle:
        summary = make_reader(handle).get_summary()
    return {channel.topic: channel.metadata["offered_qos_profiles"] for channel in summary.channels.values()}


def stamp(msg) -> int:  # type: ignore[no-untyped-def]
    return int(msg.sec) * 1_000_000_000 + int(msg.nanosec)


@pytest.mark.parametrize("in_storage,in_version,compressed,out_storage,distro", [
    ("sqlite3", 8, False, "mcap", "humble"),
    ("mcap", 9, True, "mcap", "jazzy"),
    ("mcap", 8, True, "sqlite3", "humble"),
    ("sqlite3", 9, False, "sqlite3", "jazzy"),
])
def test_replay_writes_a_result_bag_and_report(tmp_path, capsys, in_storage, in_version, compressed,
                                               out_storage, distro):
    stamps = [START_NS + 3_000_000 + i * PERIOD_15FPS for i in range(len(FRAMES))]
    source = write_bag(tmp_path / "in", BagSpec(FRAMES, in_storage, in_version, compressed, stamps_ns=stamps))
    out, report = tmp_path / "out", tmp_path / "report"
    code = main(["replay", str(source), "--out", str(out), "--storage", out_storage, "--for", distro,
                 "--report", str(report), "--with-images", "--fast", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"processed {len(FRAMES)} of {len(FRAMES)} frames" in printed and "skipped 0 messages" in printed

    records = jsonl(report / "frames.jsonl")
    assert [r["stamp_ns"] for r in records] == stamps
    assert sum(len(r["faces"]) for r in records) > 0, "the clip shows faces; the pipeline must find some"
    face_ids = sorted({f["id"] for r in records for f in r["faces"]})
    assert sorted(p.name for p in report.glob("timeline_face_*.png")) == [
        f"timeline_face_{i}.png" for i in face_ids]
    assert cv2.imread(str(report / f"timeline_face_{face_ids[0]}.png")) is not None

    metadata = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["version"] == (8 if distro == "humble" else 9)
    assert metadata["storage_identifier"] == out_storage
    for topic in metadata["topics_with_message_count"]:
        qos = topic["topic_metadata"]["offered_qos_profiles"]
        assert isinstance(qos, str) if distro == "humble" else isinstance(qos, list)

    if out_storage == "mcap":
        for topic, qos in mcap_channel_qos(out).items():
            assert qos == "" if distro == "humble" else isinstance(yaml.safe_load(qos), list), topic

    for decoded in (bag_messages(out), mcap_ros2_messages(out, out_storage)):
        faces = decoded["/fea/faces"]
        assert [log for log, _ in faces] == [START_NS + i * 40_000_000 for i in range(len(FRAMES))]
        for (_, message), record in zip(faces, records):
            assert stamp(message.header.stamp) == record["stamp_ns"]
            assert message.header.frame_id == "camera_optical_frame"
            assert list(message.expression_labels)[:2] == ["neutral", "happy"]
            assert [f.face_id for f in message.faces] == [f["id"] for f in record["faces"]]
            assert [f.expression for f in message.faces] == [f["expression"] for f in record["faces"]]
            for face, entry in zip(message.faces, record["faces"]):
                np.testing.assert_allclose(list(face.expression_scores), list(entry["scores"].values()),
                                           atol=1e-4)
                assert face.roi.width > 0 and face.roi.height > 0
        events = decoded.get("/fea/micro_expressions", [])
        assert len(events) == sum(len(r["events"]) for r in records)
        for _, event in events:
            assert event.type in ("MICRO", "MACRO") and event.face_id
        images = decoded[CAMERA_TOPIC]
        assert len(images) == len(FRAMES)
        assert stamp(images[0][1].header.stamp) == stamps[0]

    summary = json.loads((report / "summary.json").read_text())
    assert summary["frames"] == {"read": len(FRAMES), "processed": len(FRAMES), "skipped": 0}
    assert {f["id"] for f in summary["faces"]} == set(face_ids)
    assert set(summary["latency_ms"]) >= {"detect", "track", "landmarks", "expression", "convert", "pipeline_total"}
    assert summary["latency_ms"]["pipeline_total"]["p95"] >= summary["latency_ms"]["pipeline_total"]["p50"] > 0


SALTED_RAW = {1: "truncated_data", 3: "bad_step", 5: "unknown_encoding", 7: "zero_size", 9: "truncated_cdr"}
SALTED_JPEG = {2: "corrupt_jpeg", 4: "zero_size", 6: "truncated_cdr"}
EXPECTED_REASON = {"truncated_data": "truncated_data", "bad_step": "bad_step", "unknown_encoding": "unknown_encoding",
                   "zero_size": "zero_size", "truncated_cdr": "deserialize_failed",
                   "corrupt_jpeg": "corrupt_compressed"}


@pytest.mark.parametrize("compressed,bad", [(False, SALTED_RAW), (True, SALTED_JPEG)], ids=["raw", "jpeg"])
def test_bad_messages_are_skipped_counted_and_named(tmp_path, capsys, compressed, bad):
    source = write_bag(tmp_path / "in", BagSpec(FRAMES, "mcap", 9, compressed, bad=bad))
    report = tmp_path / "report"
    code = main(["replay", str(source), "--report", str(report), "--fast", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    good = [i for i in range(len(FRAMES)) if i not in bad]
    assert f"processed {len(good)} of {len(FRAMES)} frames" in printed
    assert f"skipped {len(bad)} message(s)" in printed
    for kind in bad.values():
        assert EXPECTED_REASON[kind] in printed

    assert [r["index"] for r in jsonl(report / "frames.jsonl")] == good
    summary = json.loads((report / "summary.json").read_text())
    assert summary["frames"] == {"read": len(FRAMES), "processed": len(good), "skipped": len(bad)}
    expected_counts: dict[str, int] = {}
    for kind in bad.values():
        expected_counts[EXPECTED_REASON[kind]] = expected_counts.get(EXPECTED_REASON[kind], 0) + 1
    assert summary["skipped"]["by_reason"] == expected_counts
    skipped = {s["index"]: s for s in summary["skipped"]["messages"]}
    assert {i: s["reason"] for i, s in skipped.items()} == {i: EXPECTED_REASON[k] for i, k in bad.items()}
    assert all(s["stamp_ns"] >= START_NS and s["detail"] for s in skipped.values())
    markdown = (report / "summary.md").read_text()
    for reason in expected_counts:
        assert reason in markdown


def test_an_empty_bag_fails_with_the_reason(tmp_path, capsys):
    with Writer(tmp_path / "nothing", version=8):
        pass
    assert main(["replay", str(tmp_path / "nothing"), "--fast", "--no-progress"]) != 0
    assert "no topics at all" in capsys.readouterr().err

    no_topics = write_bag(tmp_path / "none", BagSpec([], "sqlite3", unrelated=False))
    code = main(["replay", str(no_topics), "--fast", "--no-progress"])
    assert code != 0
    assert "no message on /camera/image_raw" in capsys.readouterr().err

    only_other_topics = tmp_path / "other"
    write_bag(only_other_topics, BagSpec(FRAMES[:2], "mcap"))
    code = main(["replay", str(only_other_topics), "--topic", "/imu", "--fast", "--no-progress"])
    assert code != 0
    assert "sensor_msgs/msg/Imu, not Image" in capsys.readouterr().err


def test_a_bag_without_any_usable_frame_fails_with_the_reasons(tmp_path, capsys):
    source = write_bag(tmp_path / "in", BagSpec(FRAMES[:3], "mcap", bad={0: "bad_step", 1: "zero_size",
                                                                         2: "truncated_cdr"}))
    code = main(["replay", str(source), "--fast", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert "none of the 3 messages" in err and "bad_step" in err and "deserialize_failed" in err


def test_stamps_going_backwards_reset_the_tracks(tmp_path, capsys):
    loop = 6  # a looped recording: the second half repeats the first half's frames and stamps
    stamps = [START_NS + (i % loop) * PERIOD_15FPS for i in range(2 * loop)]
    source = write_bag(tmp_path / "in", BagSpec(FRAMES[:loop] * 2, "sqlite3", stamps_ns=stamps))
    report = tmp_path / "report"
    assert main(["replay", str(source), "--report", str(report), "--fast", "--no-progress"]) == 0
    assert "tracks were reset" in capsys.readouterr().out
    summary = json.loads((report / "summary.json").read_text())
    assert summary["track_resets"] == [{"index": loop, "stamp_ns": START_NS,
                                        "previous_stamp_ns": START_NS + (loop - 1) * PERIOD_15FPS}]
    records = jsonl(report / "frames.jsonl")
    assert len(records) == 2 * loop
    assert records[loop - 1]["faces"], "faces are tracked before the loop"
    assert records[loop]["faces"] == [], "after a reset a face must be confirmed again before it is reported"
    # after the reset the pipeline starts afresh: the same faces, ids and track ages as the first pass
    assert [r["faces"] for r in records[loop:]] == [r["faces"] for r in records[:loop]]


def test_replay_gives_the_same_jsonl_as_the_pipeline_and_fea_ros_run(tmp_path, capsys):
    fps = 15.0
    stamps = [round(i * 1e9 / fps) for i in range(len(FRAMES))]  # what `fea-ros run FOLDER --fps 15` stamps
    source = write_bag(tmp_path / "in", BagSpec(FRAMES, "mcap", stamps_ns=stamps, log_ns=stamps,
                                                 frame_id="camera", encoding="bgr8", unrelated=False))
    report = tmp_path / "report"
    assert main(["replay", str(source), "--report", str(report), "--fast", "--no-progress"]) == 0
    replayed = jsonl(report / "frames.jsonl")
    assert len(replayed) == len(FRAMES) and any(r["faces"] for r in replayed)

    pipeline = Pipeline(PipelineConfig.fast())
    direct = []
    for index, (image, stamp_ns) in enumerate(zip(FRAMES, stamps)):
        result = pipeline.process(Frame(image=image.copy(), stamp_ns=stamp_ns, frame_id="camera", index=index))
        direct.append(frame_result_to_dict(result, timings=False))
    assert replayed == json.loads(json.dumps(direct))

    folder = tmp_path / "frames"
    folder.mkdir()
    for index, image in enumerate(FRAMES):
        cv2.imwrite(str(folder / f"frame{index:03d}.png"), image)
    run_jsonl = tmp_path / "run.jsonl"
    assert main(["run", str(folder), "--fps", str(fps), "--jsonl", str(run_jsonl), "--fast"]) == 0
    assert jsonl(run_jsonl) == replayed


def test_the_replay_api_works_without_the_cli(tmp_path):
    source = write_bag(tmp_path / "in", BagSpec(FRAMES[:4], "mcap", compressed=True, bad={2: "corrupt_jpeg"}))
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "timeline_face_f9.png").write_bytes(b"an earlier run's face")
    with BagImageReader(source, start="0.03") as reader, ReplayReport(tmp_path / "report") as report:
        stats = replay(reader, Pipeline(PipelineConfig.fast()), [report], progress=False)
        report.finish(stats)
    assert (stats.messages_read, stats.processed, stats.skip_counts) == (3, 2, {"corrupt_compressed": 1})
    assert stats.skipped[0].index == 1 and stats.skipped[0].log_ns == START_NS + 2 * 40_000_000
    pngs = sorted(p.name for p in (tmp_path / "report").glob("timeline_face_*.png"))
    assert pngs == [f"timeline_face_{face_id}.png" for face_id in sorted(stats.face_ids)]


def test_bundled_sample_bags_hold_the_clip(tmp_path):
    bags = Path(__file__).resolve().parents[1] / "samples" / "bags"
    counts = {}
    for storage in ("mcap", "sqlite3"):
        with BagImageReader(bags / f"faces3_{storage}") as reader:
            assert reader.topic == "/camera/image_raw/compressed"
            counts[storage] = reader.message_count
            first = next(iter(reader))
            assert first.message is not None and first.frame_id == "camera_optical_frame"
    assert counts["mcap"] == counts["sqlite3"] == 90


def test_an_existing_output_bag_is_only_replaced_with_overwrite(tmp_path, capsys):
    source = write_bag(tmp_path / "in", BagSpec(FRAMES[:2], "mcap"))
    out = tmp_path / "out"
    args = ["replay", str(source), "--out", str(out), "--fast", "--no-progress"]
    assert main(args) == 0
    assert main(args) != 0
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert len(bag_messages(out)["/fea/faces"]) == 2
    not_a_bag = tmp_path / "notes"
    not_a_bag.mkdir()
    (not_a_bag / "keep.txt").write_text("mine")
    assert main(["replay", str(source), "--out", str(not_a_bag), "--overwrite", "--fast", "--no-progress"]) != 0
    assert "not a rosbag2 folder" in capsys.readouterr().err and (not_a_bag / "keep.txt").is_file()


@pytest.mark.parametrize("storage,distro", [("mcap", "humble"), ("sqlite3", "jazzy")])
def test_micro_expression_events_round_trip_through_both_decoders(tmp_path, storage, distro):
    from fea_ros.bag.reader import BagMessage
    from fea_ros.bag.writer import ResultBagWriter
    from fea_ros.core.types import MicroExpressionEvent

    pipeline = Pipeline(PipelineConfig.fast())
    results = [pipeline.process(Frame(image=image, stamp_ns=START_NS + i * PERIOD_15FPS, frame_id="cam", index=i))
               for i, image in enumerate(FRAMES[:4])]
    face_id = results[-1].faces[0].face_id
    event = MicroExpressionEvent(face_id=face_id, onset_ns=results[0].stamp_ns, apex_ns=results[1].stamp_ns,
                                 offset_ns=results[2].stamp_ns, type="MICRO", regions=("brows", "mouth"),
                                 action_units=(1, 2, 12), intensity=0.25, confidence=0.8,
                                 emitted_ns=results[3].stamp_ns)
    results[-1].events.append(event)
    with ResultBagWriter(tmp_path / "out", storage, distro) as writer:
        for result in results:
            writer.write(result, BagMessage(result.index, result.stamp_ns + 7, "", b"", None))
    for decoded in (bag_messages(tmp_path / "out"), mcap_ros2_messages(tmp_path / "out", storage)):
        [(log_ns, message)] = decoded["/fea/micro_expressions"]
        assert log_ns == event.emitted_ns + 7
        assert stamp(message.header.stamp) == event.apex_ns and message.header.frame_id == "cam"
        assert (message.face_id, message.type, list(message.regions)) == (face_id, "MICRO", ["brows", "mouth"])
        assert [stamp(message.onset), stamp(message.apex), stamp(message.offset), stamp(message.emitted)] == [
            event.onset_ns, event.apex_ns, event.offset_ns, event.emitted_ns]
        assert list(message.action_units) == [1, 2, 12]
        assert message.intensity == pytest.approx(0.25) and message.confidence == pytest.approx(0.8)
        assert len(decoded["/fea/faces"]) == 4


def test_start_and_end_limit_the_replayed_frames(tmp_path, capsys):
    source = write_bag(tmp_path / "in", BagSpec(FRAMES[:6], "sqlite3", compressed=True))
    report = tmp_path / "report"
    args = ["replay", str(source), "--start", "0.04", "--end", str(START_NS + 4 * 40_000_000),
            "--report", str(report), "--fast", "--no-progress"]
    assert main(args) == 0
    assert "processed 3 of 3 frames" in capsys.readouterr().out
    assert [r["index"] for r in jsonl(report / "frames.jsonl")] == [0, 1, 2]
    assert [r["stamp_ns"] for r in jsonl(report / "frames.jsonl")] == [START_NS + i * 40_000_000 for i in (1, 2, 3)]
    assert main(["replay", str(source), "--start", "10", "--fast", "--no-progress"]) != 0
    assert "inside --start/--end" in capsys.readouterr().err
