"""CAS(ME)^2 and SAMM Long Videos adapters on small fixtures written in those datasets' layouts."""
from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from fea_ros.core.config import MieConfig
from fea_ros.core.types import Landmarks
from fea_ros.mie import datasets
from fea_ros.mie.errors import DatasetLayoutError
from fea_ros.mie.evaluation import MACRO, MICRO, evaluate
from fea_ros.mie.spotter import MieSpotter
from fea_ros.mie.synthetic import Movement

from test_mie_spotter import astronaut_mesh, make_clip  # noqa: F401  (module fixture and clip maker)



def openpyxl_module():
    """openpyxl, or a skip of the test that writes an .xlsx sheet.

    Not a module-level importorskip: launch_testing's pytest plugin (colcon test) imports every test module
    while collecting and a module-level skip there skips the whole test folder.
    """
    return pytest.importorskip("openpyxl", reason="the label sheets are .xlsx workbooks")

#: one macro-expression in frames 46..75 of a 30 fps clip (1.5 s .. 2.5 s)
MACRO_MOVE = Movement("lip_corner_pull", 1.5, 1.8, 2.5, 9.0, "MACRO", hold_s=0.2)


def write_casme2(root, frames) -> None:
    folder = root / "rawpic" / "s15" / "15_0101disgustingteeth"
    folder.mkdir(parents=True)
    for i, (image, _) in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"img{i}.jpg"), image)
    book = openpyxl_module().Workbook()
    codes = book.active
    codes.title = "CASFEcode_final"
    codes.append([1, "disgust1_1", 46, 55, 75, "12", "disgust", "macro-expression", "disgust"])
    codes.append([1, "disgust1_2", 80, 83, 86, "4", "disgust", "micro-expression", "disgust"])
    codes.append([2, "anger1_1", 10, 0, 0, "4", "anger", "micro-expression", "anger"])  # offset/apex unmarked
    rule1 = book.create_sheet("naming rule1")
    rule1.append([15, "s15", 1])
    rule1.append([16, "s16", 2])
    rule2 = book.create_sheet("naming rule2")
    rule2.append(["0101", "disgust1"])
    rule2.append(["0401", "anger1"])
    book.save(root / "CAS(ME)^2code_final.xlsx")


def test_casme2_labels_and_spotting_with_the_pipeline(tmp_path, astronaut_mesh):  # noqa: F811
    pytest.importorskip("skimage")
    frames = make_clip(astronaut_mesh, 30.0, 3.2, [MACRO_MOVE])
    write_casme2(tmp_path, frames)
    labels = datasets.read_casme2_labels(tmp_path / "CAS(ME)^2code_final.xlsx")
    assert [(l.video, l.onset, l.apex, l.offset, l.type) for l in labels] == [
        ("s15_0101", 46, 55, 75, MACRO), ("s15_0101", 80, 83, 86, MICRO), ("s16_0401", 10, 10, 10, MICRO)]
    predictions = datasets.spot_dataset("casme2", tmp_path, labels[:1], MieSpotter(MieConfig()))
    scores = evaluate(predictions.subject, [labels[0].interval()], inclusive_frames=True)
    assert scores.macro.tp == 1 and scores.macro.fp == 0, predictions.subject
    assert predictions.other_faces == [] and len(predictions.videos) == 1
    with pytest.raises(DatasetLayoutError, match="rawpic/s16"):
        datasets.spot_dataset("casme2", tmp_path, labels[2:], MieSpotter(MieConfig()))


def write_sammlv(root, frames, as_csv: bool) -> None:
    folder = root / "SAMM_longvideos" / "006_1"
    folder.mkdir(parents=True)
    for i, (image, _) in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"006_1_{i:04d}.jpg"), image)
    metadata = [["SAMM Long Videos"], ["Release", "V3"], [], ["Notes"], [], [], [], [], []]
    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
              "Action Units", "Notes"]
    rows = [["006", "006_1_1", 1, 301, 361, 501, 201, "Macro", "12", ""],
            ["006", "006_1_2", 1, 560, -1, 600, 41, "Micro - 1/2", "4", ""]]
    if as_csv:
        with (root / "SAMM_LongVideos.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows(metadata + [header] + rows)
        return
    book = openpyxl_module().Workbook()
    sheet = book.active
    for row in metadata + [header] + rows:
        sheet.append(row)
    book.save(root / "SAMM_LongVideos_V3_Release.xlsx")


@pytest.mark.parametrize("as_csv", [False, True])
def test_sammlv_labels_and_spotting_at_200_fps(tmp_path, astronaut_mesh, as_csv):  # noqa: F811
    frames = make_clip(astronaut_mesh, 200.0, 3.2, [MACRO_MOVE])
    write_sammlv(tmp_path, frames, as_csv)
    name = "SAMM_LongVideos.csv" if as_csv else "SAMM_LongVideos_V3_Release.xlsx"
    labels = datasets.read_sammlv_labels(tmp_path / name)
    assert [(l.video, l.subject, l.onset, l.apex, l.offset, l.type) for l in labels] == [
        ("006_1", "006", 301, 361, 501, MACRO), ("006_1", "006", 560, 580, 600, MICRO)]
    # the clip's own landmarks (what the renderer drew) stand in for FaceMesh, to keep 640 frames fast
    landmarks_by_stamp = {int(round(i * 1e9 / 200.0)): points for i, (_, points) in enumerate(frames)}

    def analyse(image, stamp_ns):
        mesh = np.zeros((468, 3))
        mesh[:, :2] = landmarks_by_stamp[stamp_ns]
        # a second face: the same landmarks shifted half out of the image, seen in fewer frames
        faces = {"subject": (Landmarks(points=mesh, presence=1.0, ibug68=mesh[:68, :2]), None, None)}
        if (stamp_ns // 5_000_000) % 2 == 0:
            cut = mesh.copy()
            cut[:, 0] += image.shape[1] / 2
            faces["cut"] = (Landmarks(points=cut, presence=1.0, ibug68=cut[:68, :2]), None, None)
        return faces

    predictions = datasets.spot_dataset("sammlv", tmp_path, labels, MieSpotter(MieConfig()), analyse)
    scores = evaluate(predictions.subject, [labels[0].interval()], inclusive_frames=True)
    assert scores.macro.tp == 1 and scores.macro.fp == 0, predictions.subject
    assert predictions.videos[0].subject() == "subject" and predictions.other_faces == []


def test_layout_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        datasets.read_casme2_labels(tmp_path / "missing.xlsx")
    (tmp_path / "labels.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetLayoutError, match="three sheets"):
        datasets.read_casme2_labels(tmp_path / "labels.csv")
    with pytest.raises(DatasetLayoutError, match="Filename"):
        datasets.read_sammlv_labels(tmp_path / "labels.csv")
    (tmp_path / "samm.csv").write_text("Filename,Onset,Apex,Offset,Type\n006_1_1,301,361,n/a,Macro\n")
    with pytest.raises(DatasetLayoutError, match="row 2: Offset 'n/a' is not a frame number"):
        datasets.read_sammlv_labels(tmp_path / "samm.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="no .jpg"):
        datasets.list_frames(tmp_path / "empty")
