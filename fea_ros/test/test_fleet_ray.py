"""`fea-ros replay-many` on a real local Ray (2 workers, loopback only) over a corpus made from the bundled bags.

One Ray session is shared by the module (Ray takes seconds to start). The corpus: the two bundled bags, an
identical copy, a copy recorded an hour later (another recording, the same frames), a truncated bag, an empty
folder and a bag without an image topic. Settings keep it short: --fast, the first 2 s of each bag.
"""
from __future__ import annotations

import filecmp
import json
import os
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from fea_ros.cli import main
from fea_ros.fleet.compare import label_agreement



SAMPLE_BAGS = Path(__file__).resolve().parents[1] / "samples" / "bags"
SETTINGS = ["--fast", "--end", "2", "--no-timings", "--no-progress"]


@pytest.fixture(scope="module")
def ray_session():
    from fea_ros.fleet.executor import start_ray

    session, started = start_ray(workers=2, cpus_per_worker=1, address=None, object_store_mb=100)
    assert started, "the tests expect to own their Ray session"
    assert session.cluster_resources()["CPU"] == 2
    yield session
    session.shutdown()


def _metadata_variant(source: Path, target: Path, note: str) -> Path:
    shutil.copytree(source, target)
    metadata = target / "metadata.yaml"
    metadata.write_text(metadata.read_text().replace("every second frame", f"every second frame ({note})"))
    return target


def _later_copy(source: Path, target: Path, shift_ns: int) -> Path:
    """The bag re-recorded ``shift_ns`` later (receive times and header stamps): the same frames, another
    recording. Replayed after an earlier bag by the same worker, its stamps go forward, so only an explicit
    reset of the kept pipeline (not the stamp-went-back reset) makes it start afresh."""
    with AnyReader([source]) as reader, Writer(target, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        for connection in reader.connections:
            out = writer.add_connection(connection.topic, connection.msgtype, typestore=reader.typestore)
            for _, log_ns, raw in reader.messages(connections=[connection]):
                message = reader.deserialize(raw, connection.msgtype)
                stamp = message.header.stamp
                total = stamp.sec * 10**9 + stamp.nanosec + shift_ns
                stamp.sec, stamp.nanosec = total // 10**9, total % 10**9
                writer.write(out, log_ns + shift_ns, reader.typestore.serialize_cdr(message, connection.msgtype))
    return target


def _bag_without_images(path: Path) -> Path:
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    with Writer(path, version=8) as writer:
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=typestore)
        for index in range(3):
            text = typestore.types["std_msgs/msg/String"](data=f"hello {index}")
            writer.write(chatter, 1_700_000_000_000_000_000 + index, typestore.serialize_cdr(text, "std_msgs/msg/String"))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    bags = {
        "mcap": shutil.copytree(SAMPLE_BAGS / "faces3_mcap", root / "a_mcap"),
        "sqlite3": shutil.copytree(SAMPLE_BAGS / "faces3_sqlite3", root / "b_sqlite3"),
        "copy": shutil.copytree(SAMPLE_BAGS / "faces3_mcap", root / "c_mcap_copy"),
        "variant": _later_copy(SAMPLE_BAGS / "faces3_mcap", root / "d_mcap_later", 3600 * 10**9),
        "truncated": shutil.copytree(SAMPLE_BAGS / "faces3_mcap", root / "e_truncated"),
        "empty": root / "f_empty",
        "no_image": _bag_without_images(root / "g_no_image"),
    }
    storage = bags["truncated"] / "faces3_mcap.mcap"
    with open(storage, "r+b") as handle:
        handle.truncate(storage.stat().st_size * 6 // 10)
    bags["empty"].mkdir()
    return bags


def _write_list(path: Path, bags: list[Path]) -> Path:
    path.write_text("# corpus for the fleet tests\n\n" + "\n".join(str(b) for b in bags) + "\n")
    return path


def _report(out: Path) -> dict:
    return json.loads((out / "corpus_report.json").read_text())


def _rows(report: dict) -> dict[str, dict]:
    return {Path(row["bag"]).name: row for row in report["bags"]}


@pytest.fixture(scope="module")
def first_run(ray_session, corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fleet") / "out"
    listing = _write_list(out.parent / "bags.txt", list(corpus.values()))
    assert main(["replay-many", "--list", str(listing), "--out", str(out), *SETTINGS]) == 1  # some bags failed
    return out


def test_each_bag_gets_the_same_jsonl_as_fea_ros_replay(first_run, corpus, tmp_path):
    rows = _rows(_report(first_run))
    for name in ("mcap", "sqlite3", "variant"):
        row = rows[corpus[name].name]
        assert row["status"] == "done" and row["frames"]["processed"] > 0
        single = tmp_path / name
        assert main(["replay", str(corpus[name]), "--report", str(single), *SETTINGS]) == 0
        fleet_jsonl = first_run / row["result_dir"] / "frames.jsonl"
        assert filecmp.cmp(single / "frames.jsonl", fleet_jsonl, shallow=False), f"{name}: JSONL differs from replay"
        summary = json.loads((first_run / row["result_dir"] / "summary.json").read_text())
        assert summary["frames"] == json.loads((single / "summary.json").read_text())["frames"]
        with AnyReader([first_run / row["result_dir"] / "fea_bag"]) as reader:
            faces = [c for c in reader.connections if c.topic == "/fea/faces"]
            assert sum(c.msgcount for c in faces) == row["frames"]["processed"]


def test_copies_are_replayed_once_and_failed_bags_say_why(first_run, corpus):
    report = _report(first_run)
    rows = _rows(report)
    assert rows[corpus["copy"].name]["same_content_as"] == str(corpus["mcap"])
    assert rows[corpus["copy"].name]["result_dir"] == rows[corpus["mcap"].name]["result_dir"]
    failed = {Path(f["bag"]).name: f for f in report["overall"]["failed"]}
    assert set(failed) == {corpus[n].name for n in ("truncated", "empty", "no_image")}
    assert "cannot open bag" in failed[corpus["truncated"].name]["message"]
    assert "cannot open bag" in failed[corpus["empty"].name]["message"]
    assert failed[corpus["no_image"].name]["type"] == "TopicSelectionError"
    assert "no sensor_msgs/msg/Image" in failed[corpus["no_image"].name]["message"]
    overall = report["overall"]
    assert overall["bags"] == {"given": 7, "done": 4, "failed": 3, "resumed": 0, "recordings": 3}
    per_bag = rows[corpus["mcap"].name]["frames"]["processed"]
    assert overall["frames"]["processed"] == 3 * per_bag  # the copy is counted once
    shares = overall["expression_shares"]
    assert shares and abs(sum(shares.values()) - 1) < 1e-3
    assert set(overall["events_per_min"]) == {"MICRO", "MACRO"}
    assert (first_run / "corpus_report.md").read_text().count("failed:") == 3
    assert (first_run / "corpus_report.png").stat().st_size > 0


def test_models_are_loaded_once_per_worker_process(first_run):
    jobs = [json.loads(path.read_text()) for path in (first_run / "results").glob("*/job.json")]
    done = [job for job in jobs if job["status"] == "done"]
    assert len(done) == 3
    bags_per_process = Counter(job["worker"]["pid"] for job in jobs)
    assert len(bags_per_process) <= 2
    assert max(Counter(job["worker"]["pid"] for job in done).values()) >= 2, "some worker replayed two bags"
    assert {job["worker"]["pipeline_loads"] for job in jobs} == {1}


def test_a_rerun_does_no_work_twice_and_only_new_bags_run(first_run, corpus, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(first_run, out)
    listing = _write_list(tmp_path / "bags.txt", list(corpus.values()))
    stamps = {path: path.stat().st_mtime_ns for path in out.glob("results/*/*") if path.is_file()}
    assert main(["replay-many", "--list", str(listing), "--out", str(out), *SETTINGS]) == 1
    overall = _report(out)["overall"]
    assert overall["processing"]["bags_replayed"] == 0
    assert overall["bags"]["resumed"] == 4 and overall["bags"]["failed"] == 3
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps, "a finished result was written again"

    extra = _metadata_variant(SAMPLE_BAGS / "faces3_sqlite3", tmp_path / "h_sqlite3_variant", "another")
    _write_list(listing, [*corpus.values(), extra])
    assert main(["replay-many", "--list", str(listing), "--out", str(out), *SETTINGS]) == 1
    report = _report(out)
    assert report["overall"]["processing"]["bags_replayed"] == 1
    assert _rows(report)[extra.name]["status"] == "done" and not _rows(report)[extra.name]["resumed"]
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps


def test_compare_pairs_faces_across_runs(first_run, corpus, tmp_path, capsys):
    out = tmp_path / "shorter"
    settings = [s if s != "2" else "1" for s in SETTINGS]  # another config: the first second only
    code = main(["replay-many", str(corpus["mcap"]), str(corpus["sqlite3"]), "--out", str(out), *settings,
                 "--compare", str(first_run)])
    assert code == 0
    diff = json.loads((out / "compare.json").read_text())
    assert "label agreement 100.0%" in capsys.readouterr().out
    assert diff["overall"]["agreement"] == 1.0 and diff["overall"]["faces_paired"] > 0
    pairs = {Path(b["bag_a"] or b["bag_b"]).name: b for b in diff["bags"]}
    assert pairs[corpus["mcap"].name]["labels"]["frames_compared"] == _rows(_report(out))[corpus["mcap"].name][
        "frames"]["processed"]
    assert "labels" not in pairs[corpus["variant"].name]  # only in the first report
    assert (out / "compare.md").is_file()


def test_label_agreement_counts_changed_labels_whatever_the_face_ids(first_run, corpus, tmp_path):
    result = first_run / _rows(_report(first_run))[corpus["mcap"].name]["result_dir"]
    lines = (result / "frames.jsonl").read_text().splitlines()
    changed = faces = 0
    edited = []
    for number, line in enumerate(lines):
        record = json.loads(line)
        for face in record["faces"]:
            faces += 1
            face["id"] = "other_" + face["id"]  # ids differ between versions; boxes pair the faces
        if number % 3 == 0 and record["faces"]:
            first = record["faces"][0]
            first["expression"] = "surprised" if first["expression"] != "surprised" else "sad"
            changed += 1
        edited.append(json.dumps(record))
    other = tmp_path / "other"
    other.mkdir()
    (other / "frames.jsonl").write_text("\n".join(edited) + "\n")
    agreement = label_agreement(result, other)
    assert changed > 0 and agreement["faces_paired"] == faces
    assert agreement["labels_same"] == faces - changed


def _busy_worker_pids(bag_folders: list[Path]) -> list[int]:
    """BagWorker actor processes (only this test session runs Ray here) that are replaying a bag now.

    Ray titles a busy actor "ray::BagWorker.run", but not in every environment (in the venv whose ROS wheels
    re-exec Python at start-up the title stays "ray::BagWorker"), so a worker also counts as busy when it has
    one of the bags open. (Its CPU use does not tell: an actor still importing at start-up, before any bag,
    is as busy, and killing that one loses no bag and so tests nothing.)
    """
    roots = tuple(str(folder.resolve()) for folder in bag_folders)
    busy = []
    for proc in Path("/proc").iterdir():
        try:
            if not (proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(b"ray::BagWorker")):
                continue
            titled = (proc / "cmdline").read_bytes().startswith(b"ray::BagWorker.run")
            if titled or any(os.readlink(fd).startswith(roots) for fd in (proc / "fd").iterdir()):
                busy.append(int(proc.name))
        except OSError:  # a process or one of its files went away meanwhile
            continue
    return busy


def test_a_lost_worker_process_costs_no_bag(ray_session, corpus, tmp_path, caplog):
    killed: list[int] = []

    def kill_the_first_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for pid in _busy_worker_pids([corpus["mcap"], corpus["sqlite3"]])[:1]:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_busy_worker, daemon=True)
    killer.start()
    out = tmp_path / "out"
    code = main(["replay-many", str(corpus["mcap"]), str(corpus["sqlite3"]), "--out", str(out), *SETTINGS])
    killer.join()
    assert killed, "no worker was seen replaying"
    assert code == 0
    report = _report(out)
    assert report["overall"]["bags"]["done"] == 2
    jobs = [json.loads(path.read_text()) for path in (out / "results").glob("*/job.json")]
    assert killed[0] not in {job["worker"]["pid"] for job in jobs}
    assert "trying the bag again on a new worker" in caplog.text
