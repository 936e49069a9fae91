"""The Ray-free parts of `fea-ros replay-many`: finding the bags, result keys, the report's arithmetic, errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fea_ros.cli import main
from fea_ros.core.config import PipelineConfig
from fea_ros.fleet.corpus import collect, estimated_frames
from fea_ros.fleet.errors import CorpusInputError
from fea_ros.fleet.keys import ContentHasher, config_hash
from fea_ros.fleet.report import BagEntry, build_report

SAMPLE_BAGS = Path(__file__).resolve().parents[1] / "samples" / "bags"


@pytest.fixture()
def bag_tree(tmp_path) -> Path:
    """site_a/{mcap, sqlite3}, site_b/day1/mcap, an empty folder and a loose text file."""
    root = tmp_path / "recordings"
    shutil.copytree(SAMPLE_BAGS / "faces3_mcap", root / "site_a" / "faces3_mcap")
    shutil.copytree(SAMPLE_BAGS / "faces3_sqlite3", root / "site_a" / "faces3_sqlite3")
    shutil.copytree(SAMPLE_BAGS / "faces3_mcap", root / "site_b" / "day1" / "run1")
    (root / "site_b" / "empty").mkdir()
    (root / "notes.txt").write_text("not a bag")
    return root


def test_folders_of_bags_are_searched_and_each_bag_taken_once(bag_tree):
    found = collect([bag_tree, bag_tree / "site_a" / "faces3_mcap"])
    assert found == [bag_tree / "site_a" / "faces3_mcap", bag_tree / "site_a" / "faces3_sqlite3",
                     bag_tree / "site_b" / "day1" / "run1"]


def test_a_named_folder_that_holds_no_bag_is_kept_to_be_reported(bag_tree):
    assert collect([bag_tree / "site_b" / "empty"]) == [bag_tree / "site_b" / "empty"]


def test_list_files_skip_comments_and_resolve_relative_paths(bag_tree):
    listing = bag_tree / "corpus.txt"
    listing.write_text("# two bags\n\nsite_a/faces3_mcap\n  site_b/day1/run1  \n# site_a/faces3_sqlite3\n")
    assert collect([], listing) == [bag_tree / "site_a" / "faces3_mcap", bag_tree / "site_b" / "day1" / "run1"]


def test_no_bags_or_an_unreadable_list_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusInputError, match="no bags given"):
        collect([])
    with pytest.raises(CorpusInputError, match="cannot read the bag list"):
        collect([], tmp_path / "missing.txt")


def test_estimated_frames_counts_the_image_topic_of_the_metadata():
    assert estimated_frames(SAMPLE_BAGS / "faces3_mcap") == 90  # the CameraInfo topic is not counted
    assert estimated_frames(SAMPLE_BAGS / "faces3_mcap", "/camera/camera_info") == 90
    assert estimated_frames(SAMPLE_BAGS) == 0  # no metadata.yaml: unknown


def test_content_hash_follows_the_bytes_not_the_path_and_is_cached(bag_tree, tmp_path):
    cache = tmp_path / "hashes.json"
    hasher = ContentHasher(cache)
    original = hasher.content_hash(bag_tree / "site_a" / "faces3_mcap")
    assert hasher.content_hash(bag_tree / "site_b" / "day1" / "run1") == original  # a copy
    assert hasher.content_hash(bag_tree / "site_a" / "faces3_sqlite3") != original
    hasher.save()
    again = ContentHasher(cache)
    assert again.content_hash(bag_tree / "site_a" / "faces3_mcap") == original and again.hashed == 0
    storage = bag_tree / "site_b" / "day1" / "run1" / "faces3_mcap.mcap"
    data = bytearray(storage.read_bytes())
    data[1000] ^= 0xFF  # same size, one byte changed
    storage.write_bytes(bytes(data))
    assert again.content_hash(storage.parent) != original and again.hashed == 1


def test_config_hash_changes_with_settings_and_options():
    base = config_hash(PipelineConfig(), {"end": None})
    assert config_hash(PipelineConfig(), {"end": None}) == base
    assert config_hash(PipelineConfig.fast(), {"end": None}) != base
    assert config_hash(PipelineConfig(), {"end": "2"}) != base


def _done_job(key: str, labels: dict[str, int], events: dict[str, int], duration_s: float, frames: int) -> dict:
    return {"schema": 1, "key": key, "status": "done", "worker": {"host": "h", "pid": 1, "pipeline_loads": 1},
            "tally": {"face_frames": sum(labels.values()), "labels": labels, "events": events},
            "summary": {"topic": "/camera", "frames": {"read": frames, "processed": frames, "skipped": 0},
                        "faces": [{"id": "f1", "dominant_expression": max(labels, key=labels.get)}],
                        "throughput": {"bag_duration_s": duration_s, "wall_s": frames / 10, "fps": 10.0,
                                       "realtime_factor": 1.0}}}


def test_the_report_counts_each_recording_once_and_rates_per_minute():
    one = _done_job("aaa-c", {"happy": 30, "neutral": 10}, {"MICRO": 2}, 60.0, 40)
    two = _done_job("bbb-c", {"sad": 20}, {"MACRO": 3}, 120.0, 20)
    entries = [BagEntry(Path("/d/one"), "aaa-c", one), BagEntry(Path("/d/one_copy"), "aaa-c", one,
                                                                same_content_as="/d/one"),
               BagEntry(Path("/d/two"), "bbb-c", two, resumed=True),
               BagEntry(Path("/d/gone"), None, None, problem="no bag at '/d/gone'")]
    report = build_report(entries, {"wall_s": 5.0, "workers": 2}, {}, {}, "c" * 64)
    overall = report["overall"]
    assert overall["bags"] == {"given": 4, "done": 3, "failed": 1, "resumed": 1, "recordings": 2}
    assert overall["face_frames"] == 60
    assert overall["expression_shares"] == {"neutral": round(10 / 60, 4), "happy": 0.5, "sad": round(20 / 60, 4)}
    assert overall["dominant_expressions"][0] == {"label": "happy", "share": 0.5}
    assert overall["events"] == {"MICRO": 2, "MACRO": 3}
    assert overall["events_per_min"] == {"MICRO": round(2 / 3, 3), "MACRO": 1.0}  # over 3 recorded minutes
    assert overall["processing"]["frames_replayed"] == 40  # the resumed bag was not replayed in this run
    assert overall["processing"]["corpus_fps"] == 8.0
    assert overall["failed"] == [{"bag": "/d/gone", "type": "NotRun", "message": "no bag at '/d/gone'"}]
    row = report["bags"][0]
    assert row["events_per_min"] == {"MICRO": 2.0, "MACRO": 0.0} and row["dominant_expression"] == "happy"


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["replay-many", "--out", str(tmp_path / "out")]) == 2
    assert "no bags given" in capsys.readouterr().err
    not_a_report = tmp_path / "other.json"
    not_a_report.write_text(json.dumps({"hello": 1}))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "corpus_report.json").write_text(json.dumps({"kind": "fea_ros.corpus_report"}))
    assert main(["replay-many", "--out", str(tmp_path / "out"), "--compare", str(not_a_report)]) == 2
    assert "is not a corpus report" in capsys.readouterr().err
    assert main(["replay-many", str(SAMPLE_BAGS), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    # nothing listens on port 1 of the loopback: a clear error at once, not ray.init's minutes of retries
    assert main(["replay-many", str(SAMPLE_BAGS), "--out", str(tmp_path / "out2"), "--ray-address", "127.0.0.1:1",
                 "--no-progress"]) == 2
    assert "nothing answers at --ray-address 127.0.0.1:1" in capsys.readouterr().err


def test_compare_pairs_bags_by_path_then_by_content():
    from fea_ros.fleet.compare import _pairs

    a = [{"bag": "/a/one", "key": "c1-x"}, {"bag": "/a/one_copy", "key": "c1-x"}, {"bag": "/a/two", "key": "c2-x"},
         {"bag": "/a/gone", "key": None}]
    b = [{"bag": "/b/moved_one", "key": "c1-y"}, {"bag": "/a/two", "key": "c9-y"}, {"bag": "/b/new", "key": "c3-y"}]
    pairs = [(row_a and row_a["bag"], row_b and row_b["bag"]) for row_a, row_b in _pairs(a, b)]
    assert pairs == [("/a/one", "/b/moved_one"), ("/a/one_copy", "/b/moved_one"),  # same recording, moved
                     ("/a/two", "/a/two"),  # same path, new content (re-recorded): still the same bag
                     ("/a/gone", None), (None, "/b/new")]
