"""`fea-ros run` on photos: a single image or a folder of photos is run image by image, frames as a video."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fea_ros.cli import main
from fea_ros.core.config import PipelineConfig
from fea_ros.core.inputs import is_frame_sequence
from fea_ros.core.pipeline import Pipeline

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three different photos, one face each: skimage's astronaut and cameraman, and messi5.jpg."""
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(folder / "astronaut.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "cameraman.png"), data.camera())
    (folder / "messi5.jpg").write_bytes((FIXTURES / "messi5.jpg").read_bytes())
    return folder


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_one_photo_gives_its_happy_face(photos, capsys):
    assert main(["run", str(photos / "astronaut.png"), "--summary"]) == 0
    captured = capsys.readouterr()
    (record,) = records(captured.out)
    assert record["file"] == "astronaut.png" and record["events"] == []
    (face,) = record["faces"]
    assert face["id"] == "f1" and face["track_age"] == 0 and face["expression"] == "happy"
    assert face["scores"] == face["raw_scores"]
    row = next(line for line in captured.err.splitlines() if line.startswith("astronaut.png"))
    assert row.split()[:3] == ["astronaut.png", "f1", "happy"]
    assert "1 images processed as photos, 1 faces" in captured.err


def test_a_folder_of_photos_gives_independent_results(photos, tmp_path, capsys):
    jsonl, annotated = tmp_path / "out.jsonl", tmp_path / "annotated"
    assert main(["run", str(photos), "--jsonl", str(jsonl), "--annotated", str(annotated), "--summary"]) == 0
    out = capsys.readouterr().out
    lines = records(jsonl.read_text())
    assert [r["file"] for r in lines] == ["astronaut.png", "cameraman.png", "messi5.jpg"]
    alone = Pipeline(PipelineConfig())
    for record in lines:
        assert [f["id"] for f in record["faces"]] == ["f1"]  # no id carried over from the photo before
        face = record["faces"][0]
        assert face["track_age"] == 0 and face["scores"] == face["raw_scores"]  # nothing smoothed
        image = cv2.imread(str(photos / record["file"]))
        # exactly what the photo gives on its own, in a fresh pipeline
        expected = alone.process_image(image).faces[0]
        assert face["expression"] == expected.expression
        np.testing.assert_allclose(list(face["raw_scores"].values()), expected.raw_scores, atol=1e-4)
        drawn = cv2.imread(str(annotated / record["file"]))
        assert drawn.shape == image.shape and np.abs(drawn.astype(int) - image).mean() > 0.5
    rows = [line.split() for line in out.splitlines()]
    assert [row[:2] for row in rows if row and row[0] in {r["file"] for r in lines}] == \
        [["astronaut.png", "f1"], ["cameraman.png", "f1"], ["messi5.jpg", "f1"]]  # the summary: a row per face
    assert "3 images processed as photos, 3 faces" in out


def test_sequence_flag_keeps_the_video_behaviour(photos, capsys):
    assert main(["run", str(photos), "--sequence"]) == 0
    lines = records(capsys.readouterr().out)
    assert "file" not in lines[0] and lines[0]["faces"] == []  # a track must be confirmed first
    stamps = [r["stamp_ns"] for r in lines]
    assert stamps == sorted(stamps) and stamps[1] > 0


@pytest.mark.parametrize("names,sequence", [
    (["frame0.png", "frame1.png", "frame2.png"], True),
    (["000001.jpg", "000002.jpg", "000003.jpg", "000005.jpg", "000004.jpg", "000006.jpg", "000007.jpg",
      "000008.jpg", "000009.jpg", "000010.jpg", "000012.jpg"], True),  # one dropped frame in 12
    (["frame0.png", "frame1.png"], False),  # too few to tell
    (["IMG_2041.jpg", "IMG_2107.jpg", "IMG_2230.jpg"], False),  # photos numbered by a camera
    (["a1.png", "b2.png", "c3.png"], False),
    (["frame1.png", "frame2.jpg", "frame3.png"], False),
    (["beach.jpg", "frame1.jpg", "frame2.jpg", "frame3.jpg"], False),
])
def test_numbered_frames_are_told_from_photos(names, sequence):
    assert is_frame_sequence([Path(name) for name in names]) is sequence


def test_options_that_do_not_fit_photos_are_errors(photos, tmp_path, capsys):
    assert main(["run", str(photos / "astronaut.png"), "--video", str(tmp_path / "out.mp4")]) == 2
    assert "--annotated DIR" in capsys.readouterr().err
    assert main(["run", str(photos), "--plot", str(tmp_path / "out.png")]) == 2
    assert "no time axis" in capsys.readouterr().err
    assert main(["run", str(photos), "--annotated", str(photos)]) == 2
    assert "would replace them" in capsys.readouterr().err
    assert main(["run", str(photos), "--sequence", "--annotated", str(tmp_path / "a")]) == 2
    assert "--video OUT.mp4" in capsys.readouterr().err


def test_a_bad_photo_is_skipped_and_the_rest_processed(photos, tmp_path, capsys, caplog):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "astronaut.png").write_bytes((photos / "astronaut.png").read_bytes())
    cv2.imwrite(str(folder / "dot.png"), np.zeros((1, 1, 3), np.uint8))  # too small to hold a face
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    with caplog.at_level("WARNING"):
        assert main(["run", str(folder), "--summary"]) == 0
    captured = capsys.readouterr()
    assert [r["file"] for r in records(captured.out)] == ["astronaut.png"]
    assert "1 images skipped" in captured.err
    assert "image dot.png skipped" in caplog.text and "too small" in caplog.text
    assert "broken.jpg" in caplog.text  # unreadable: logged by the folder source
