"""`fea-ros evaluate expression` on the project's own images: face crops cut from the astronaut photo."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from core_scenes import Placement, astronaut_bgr, render
from fea_ros.cli import main
from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.expression_eval.errors import LabelsFileError
from fea_ros.expression_eval.labels import read_labels
from fea_ros.expression_eval.metrics import expected_calibration_error, score
from fea_ros.expression_eval.runner import evaluate_expression

HAPPY, SAD = EXPRESSION_LABELS.index("happy"), EXPRESSION_LABELS.index("sad")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """Tight face crops of the smiling astronaut (happy), a plain wall (neutral, no face), a contempt row, a
    missing file, and a short video of the smile."""
    folder = tmp_path_factory.mktemp("labelled")
    photo = astronaut_bgr()
    rows = []
    for i, (x0, y0, x1, y1) in enumerate([(165, 60, 285, 190), (155, 50, 295, 200), (175, 70, 275, 185)]):
        crop = np.ascontiguousarray(photo[y0:y1, x0:x1])
        cv2.imwrite(str(folder / f"smile{i}.png"), crop if i != 1 else crop[:, ::-1])
        rows.append((f"smile{i}.png", "happiness" if i == 2 else "happy"))
    cv2.imwrite(str(folder / "wall.png"), np.full((120, 120, 3), 128, np.uint8))
    cv2.imwrite(str(folder / "tiny.png"), photo[100:112, 200:215])  # too small for the pipeline: rejected
    rows += [("wall.png", "neutral"), ("smile0.png", "contempt"), ("gone.png", "sad"), ("tiny.png", "sad")]
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for k in range(4):
        writer.write(render([Placement(320 + 4 * k, 240, 1.4)]))
    writer.release()
    rows.append(("clip.avi", "happy"))
    with (folder / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("path", "label"), *rows])
    return folder


def test_scores_match_a_hand_count():
    truth = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.eye(7)[[0, 1, 1, 1, 2, 0]] * 0.9 + 0.1 / 7
    s = score(truth, probabilities)
    assert s.accuracy == pytest.approx(4 / 6)
    assert s.balanced_accuracy == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # F1: neutral 2*1/(2+2)=0.5, happy 2*2/(2+3)=0.8, sad 2*1/(2+1)=2/3
    assert s.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert s.confusion[0].tolist()[:3] == [1, 1, 0] and s.confusion.sum() == 6
    assert s.recall("sad") == pytest.approx(0.5) and np.isnan(s.recall("angry"))
    confident = np.eye(7)[[0, 1]]
    assert expected_calibration_error(confident, np.array([0, 1])) == pytest.approx(0.0)
    assert expected_calibration_error(confident, np.array([1, 0])) == pytest.approx(1.0)


def test_labels_file_aliases_other_labels_and_missing_files(labelled, tmp_path):
    labels = read_labels(labelled / "labels.csv")
    assert [i.name for i in labels.items] == ["smile0.png", "smile1.png", "smile2.png", "wall.png", "tiny.png",
                                              "clip.avi"]
    assert labels.items[2].label == HAPPY  # "happiness"
    assert labels.other_labels == {"contempt": 1} and labels.missing_files == ["gone.png"]
    (tmp_path / "bad.csv").write_text("file,emotion\na.png,happy\n")
    with pytest.raises(LabelsFileError, match="path,label"):
        read_labels(tmp_path / "bad.csv")
    with pytest.raises(LabelsFileError, match="does not exist"):
        read_labels(tmp_path / "none.csv")


def test_detect_mode_scores_the_smiles_and_reports_the_wall_as_not_found(labelled, tmp_path):
    out = tmp_path / "report"
    report = evaluate_expression(labelled / "labels.csv", out=out, crop="detect", progress=False)
    assert [i.name for i in report.not_found] == ["wall.png", "tiny.png"]  # tiny: padded, but no face in it
    assert report.ensemble.n == 4 and report.ensemble.recall("happy") == 1.0
    assert set(report.per_network) == {"faceapi", "fer"}
    # the default configuration runs the blendshapes, and the fusion reads them: evaluated as shipped
    assert "blendshapes" in report.config_summary
    assert all(i.blendshapes is not None and i.blendshapes.shape == (52,) for i in report.scored)
    video = next(i for i in report.items if i.name == "clip.avi")
    assert video.frames == 4 and video.found
    for item in report.scored:
        assert item.probabilities.sum() == pytest.approx(1.0) and item.milliseconds > 0
        x0, y0, x1, y1 = item.box  # in the item's own pixels: the padding is taken off again
        assert x0 > -20 and y0 > -20 and x1 - x0 > 40
    for name in ("report.json", "report.txt", "predictions.csv", "confusion.png", "examples.png"):
        assert (out / name).stat().st_size > 0
    sheet = cv2.imread(str(out / "examples.png"))
    confusion = cv2.imread(str(out / "confusion.png"))
    assert sheet is not None and sheet.shape[1] >= 4 * 112 and confusion is not None
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == 6 and {r["found"] for r in rows} == {"0", "1"}
    assert next(r for r in rows if r["path"] == "smile0.png")["predicted"] == "happy"


def test_whole_mode_takes_each_image_as_the_face(labelled):
    report = evaluate_expression(labelled / "labels.csv", crop="whole", progress=False)
    # no detector: even the wall is scored as a face; only the image too small for the pipeline is not
    assert [i.name for i in report.not_found] == ["tiny.png"]
    assert "too small" in report.not_found[0].problem
    assert report.ensemble.n == 5
    smiles = [i for i in report.items if i.name.startswith("smile")]
    assert all(i.predicted == HAPPY for i in smiles)


def test_the_command_prints_the_table(labelled, tmp_path, capsys):
    assert main(["evaluate", "expression", str(labelled / "labels.csv"), "--crop", "detect", "--fast",
                 "--out", str(tmp_path / "cli")]) == 0
    text = capsys.readouterr().out
    assert "balanced accuracy" in text and "not found: 2" in text and "contempt 1" in text
    assert main(["evaluate", "expression", str(tmp_path / "nothing.csv")]) == 2


class CountingEngine:
    """A real engine that counts its network runs."""

    def __init__(self, engine):
        self.engine, self.runs = engine, 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def run(self, inputs):
        self.runs += 1
        return self.engine.run(inputs)


@pytest.mark.parametrize("crop", ["whole", "detect"])
def test_each_network_runs_once_per_face_and_its_output_is_what_a_direct_call_gives(labelled, monkeypatch, crop):
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.inputs import VideoFileSource
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.expression_eval import runner

    counters: dict[str, CountingEngine] = {}

    def counting_pipeline(config):
        pipeline = Pipeline(config)
        for key, engine in pipeline.expression.engines.items():
            counters[key] = pipeline.expression.engines[key] = CountingEngine(engine)
        return pipeline

    monkeypatch.setattr(runner, "Pipeline", counting_pipeline)
    report = evaluate_expression(labelled / "labels.csv", crop=crop, progress=False)
    assert set(counters) == {"faceapi", "fer"}
    # the pipeline's own expression stage is the only run: one per image or video frame with a face
    faces = sum(item.frames for item in report.scored)
    assert faces >= 7 and all(counter.runs == faces for counter in counters.values())

    config = PipelineConfig()
    config.mie.enabled = False
    direct = Pipeline(config)

    def networks_on(image):
        """What the evaluation ran before: the largest face, then each network once more on it alone."""
        if crop == "detect":
            pad = int(round(runner.DEFAULT_PAD * max(image.shape[:2])))
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
            face = runner._largest(direct.process_image(image).faces)
        else:
            face = direct.process_image(image, boxes=[(0.0, 0.0, float(image.shape[1]), float(image.shape[0]))]).faces[0]
        return {key: p[0] for key, p in direct.expression.networks(image, [face.box], [face.landmarks]).items()}

    for item in report.scored:
        if item.name.endswith(".png"):
            expected = networks_on(cv2.imread(str(item.path)))
        else:
            with VideoFileSource(item.path) as source:
                frames = [networks_on(frame.image) for frame in source]
            expected = {key: np.mean([f[key] for f in frames], axis=0) for key in frames[0]}
        assert set(item.per_model) == set(expected)
        for key in expected:
            np.testing.assert_array_equal(item.per_model[key], expected[key], err_msg=f"{item.name} {key}")
