"""Multi-face spotting evaluation: which face is the subject, and `fea-ros evaluate spotting --videos`."""
from __future__ import annotations

import json

import cv2
import numpy as np

from fea_ros.cli import main
from fea_ros.core.types import MicroExpressionEvent
from fea_ros.mie.multiface import VideoSpotting
from fea_ros.mie.synthetic import Movement

from test_mie_spotter import astronaut_mesh, make_clip  # noqa: F401  (module fixture and clip maker)


def event(face_id: str, onset_s: float, offset_s: float, kind: str = "MACRO") -> MicroExpressionEvent:
    return MicroExpressionEvent(face_id=face_id, onset_ns=int(onset_s * 1e9), apex_ns=int(onset_s * 1e9),
                                offset_ns=int(offset_s * 1e9), type=kind, regions=(), action_units=(),
                                intensity=0.5, confidence=0.9, emitted_ns=int(offset_s * 1e9))


def test_the_subject_is_the_face_covering_the_labelled_box_else_the_longest_seen():
    spotting = VideoSpotting("v", 30.0)
    for i in range(30):
        stamp = int(i * 1e9 / 30) + 10 ** 9  # the video's clock does not start at 0
        spotting.see("big", (0, 0, 200, 200), stamp)
        if i < 20:
            spotting.see("small", (300, 0, 360, 60), stamp)
    spotting.add("big", [event("big", 1.5, 2.0)])
    spotting.add("small", [event("small", 1.2, 1.4, "MICRO")])
    assert spotting.subject() == "big"
    assert spotting.subject(label_box=(290, 0, 370, 70)) == "small"
    subject, others = spotting.split(lambda ns: ns * 1e-9)
    assert [(i.onset, i.offset, i.type) for i in subject] == [(0.5, 1.0, "MACRO")]
    assert [(round(i.onset, 3), i.type) for i in others] == [(0.2, "MICRO")]
    assert abs(spotting.face_minutes() - 1.0 / 60.0) < 1e-9


def test_evaluate_spotting_runs_the_pipeline_over_a_folder_of_videos(tmp_path, astronaut_mesh, capsys):  # noqa: F811
    movement = Movement("lip_corner_pull", 1.5, 1.8, 2.5, 9.0, "MACRO", hold_s=0.2)
    frames = make_clip(astronaut_mesh, 30.0, 3.4, [movement])
    videos = tmp_path / "videos"
    videos.mkdir()
    writer = cv2.VideoWriter(str(videos / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30.0,
                             frames[0][0].shape[1::-1])
    for image, _ in frames:
        writer.write(image)
    writer.release()
    labels = tmp_path / "labels.csv"
    labels.write_text("video,onset,offset,type\nclip.avi,1.5,2.5,MACRO\n")
    assert main(["evaluate", "spotting", "--videos", str(videos), "--labels", str(labels), "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{"):])
    assert result["subject_face"]["MaE"]["tp"] == 1 and result["subject_face"]["overall"]["fp"] == 0, result
    assert result["events_on_other_faces"] == 0 and 0.04 < result["face_minutes"] < 0.06


def test_evaluate_spotting_says_what_is_missing(tmp_path, capsys):
    assert main(["evaluate", "spotting", "--videos", str(tmp_path)]) == 2
    assert "--videos needs --labels" in capsys.readouterr().err
    assert main(["evaluate", "spotting"]) == 2
    assert "give --pred and --gt" in capsys.readouterr().err
    labels = tmp_path / "labels.csv"
    labels.write_text("video,onset,offset,type\n")
    assert main(["evaluate", "spotting", "--videos", str(tmp_path), "--labels", str(labels)]) == 2
    assert "holds no video file" in capsys.readouterr().err
