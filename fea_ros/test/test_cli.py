"""`fea-ros run` and `fea-ros bench` end to end on the bundled clips and real images, with the real networks."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fea_ros.cli import main
from fea_ros.core.inputs import VideoFileSource

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def astronaut_folder(tmp_path_factory) -> Path:
    from skimage import data

    folder = tmp_path_factory.mktemp("astronaut_frames")
    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    for i in range(6):
        cv2.imwrite(str(folder / f"frame{i}.png"), np.roll(image, 3 * i, axis=1))
    return folder


def read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_video(path: Path) -> list[np.ndarray]:
    with VideoFileSource(path) as source:
        return [frame.image for frame in source]


def test_run_on_the_three_face_clip_writes_every_output(tmp_path, capsys):
    jsonl, video, plot = tmp_path / "faces3.jsonl", tmp_path / "faces3.mp4", tmp_path / "faces3.png"
    code = main(["run", str(SAMPLES / "faces3.mp4"), "--jsonl", str(jsonl), "--video", str(video),
                 "--plot", str(plot), "--summary"])
    assert code == 0
    records = read_jsonl(jsonl.read_text())
    assert len(records) == 180  # one line per frame of the 6 s, 30 fps clip
    stamps = [r["stamp_ns"] for r in records]
    assert stamps[0] == 0 and all(b > a for a, b in zip(stamps, stamps[1:]))
    assert [r["index"] for r in records] == list(range(180))
    counts = [len(r["faces"]) for r in records]
    assert max(counts) == 3
    assert sum(c >= 2 for c in counts) > 150  # faces are found through the clip, not only at the start
    for record in records:
        for face in record["faces"]:
            assert abs(sum(face["scores"].values()) - 1.0) < 1e-3
            assert face["action_units"] is not None  # the full configuration has blendshapes
    frames = read_video(video)
    assert len(frames) == 180 and frames[0].shape == (480, 640, 3)
    original = read_video(SAMPLES / "faces3.mp4")[90]
    assert np.abs(frames[90].astype(int) - original).mean() > 1.0  # boxes and bars were drawn
    assert cv2.imread(str(plot)) is not None
    out = capsys.readouterr().out
    ids = {face["id"] for r in records for face in r["faces"]}
    assert "dominant" in out and "valence" in out
    assert all(face_id in out for face_id in ids)


def test_run_folder_to_stdout_with_landmarks_in_the_fast_configuration(astronaut_folder, capsys):
    assert main(["run", str(astronaut_folder), "--fps", "10", "--fast", "--landmarks", "--summary"]) == 0
    captured = capsys.readouterr()
    records = read_jsonl(captured.out)  # the summary goes to stderr, so stdout is pure JSONL
    assert [r["stamp_ns"] for r in records] == [i * 100_000_000 for i in range(6)]
    faced = [r for r in records if r["faces"]]
    assert len(faced) >= 4  # a track is reported once it is confirmed
    face = faced[-1]["faces"][0]
    assert len(face["landmarks"]["points"]) == 468  # FaceMesh v1 in the fast configuration
    assert len(face["landmarks"]["ibug68"]) == 68
    assert face["action_units"] is None and face["blendshapes"] is None
    assert "dominant" in captured.err


def test_run_max_frames_and_settings_file(tmp_path, astronaut_folder, capsys):
    params = tmp_path / "params.yaml"
    # a ROS 2 params file: node-only keys are ignored, pipeline settings are applied
    params.write_text("pipeline_node:\n  ros__parameters:\n    image_topic: /camera/image_raw\n"
                      "    detection:\n      threshold: 0.999\n")
    assert main(["run", str(astronaut_folder), "--config", str(params), "--fast", "--max-frames", "3"]) == 0
    records = read_jsonl(capsys.readouterr().out)
    assert len(records) == 3
    assert all(r["faces"] == [] for r in records)  # no face scores 0.999


def test_run_reports_bad_input_and_bad_settings(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4 does not exist" in capsys.readouterr().err
    params = tmp_path / "bad.yaml"
    params.write_text("detection:\n  treshold: 0.5\n")
    assert main(["run", str(SAMPLES / "face1.mp4"), "--config", str(params)]) == 2
    assert "unknown setting 'detection.treshold'" in capsys.readouterr().err
    assert main(["run", str(SAMPLES / "face1.mp4"), "--jsonl", str(tmp_path / "no" / "out.jsonl")]) == 2
    assert "folder" in capsys.readouterr().err


def test_bench_prints_stage_table_for_a_short_run(capsys):
    code = main(["bench", "--clips", "face1", "--configs", "fast", "--max-frames", "8", "--warmup", "2",
                 "--markdown", "--no-frame-pipeline"])
    assert code == 0
    out = capsys.readouterr().out
    assert "CPU:" in out and "cores" in out
    row = next(line for line in out.splitlines() if line.startswith("| face1 | fast |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "8"  # frames timed
    assert float(cells[4]) > 0  # fps
    assert float(cells[8]) >= float(cells[9]) >= 0  # leaving out the MiE stage cannot add overhead
    assert float(cells[10]) > 50  # peak RSS in MB: the models are loaded
    for stage in ("detect", "landmarks", "expression"):
        assert any(line.startswith(f"| {stage} |") for line in out.splitlines())
    assert "frame pipeline off" in out
    # one frame at a time: the thread that calls the pipeline carries (nearly) all of the CPU time
    assert 0.8 * float(cells[11]) < float(cells[12]) <= float(cells[11])


def test_bench_with_the_frame_pipeline_splits_the_cpu_time_between_two_threads(capsys):
    code = main(["bench", "--clips", "face1", "--configs", "full", "--max-frames", "20", "--warmup", "2",
                 "--markdown", "--frame-pipeline"])
    assert code == 0
    out = capsys.readouterr().out
    assert "frame pipeline on" in out
    row = next(line for line in out.splitlines() if line.startswith("| face1 | full |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "20" and float(cells[4]) > 0
    assert cells[8] == cells[9] == cells[13] == "n/a"  # no share of wall time with two threads at work
    cpu, busiest = float(cells[11]), float(cells[12])
    # the front half (the mesh) runs on the second thread, the rest here: neither carries all of it
    assert busiest < 0.9 * cpu  # (busiest is at least half of cpu by its definition: max of the two shares)


def test_run_skips_a_frame_the_pipeline_rejects_and_goes_on(tmp_path, astronaut_folder, capsys, caplog):
    folder = tmp_path / "frames"
    folder.mkdir()
    for path in sorted(astronaut_folder.iterdir())[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    cv2.imwrite(str(folder / "frame1.png"), np.zeros((1, 1, 3), np.uint8))  # too small to hold a face
    with caplog.at_level("WARNING"):
        assert main(["run", str(folder), "--fast", "--summary"]) == 0
    captured = capsys.readouterr()
    records = read_jsonl(captured.out)
    assert [r["index"] for r in records] == [0, 2]
    assert "1 frames skipped" in captured.err
    assert "frame 1 skipped" in caplog.text


def test_fast_flag_wins_over_the_models_named_in_a_params_file():
    from fea_ros.cli.common import build_config

    params = Path(__file__).resolve().parents[1] / "config" / "pipeline.yaml"
    config = build_config(params, fast=True, threads=2)
    assert (config.detection.detector, config.landmarks.model, config.blendshapes) == ("short", "v1", False)
    assert config.inference.threads == 2
    assert build_config(params, fast=False, threads=None).landmarks.model == "v2"


def test_bench_mie_hands_its_arguments_to_the_spotting_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "mie", "--help"])
    assert exit_info.value.code == 0
    assert "fea-ros bench mie" in capsys.readouterr().out  # the spotting benchmark's own parser answered
