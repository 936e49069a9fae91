"""The MEGC spotting metric on hand-made cases."""
import pytest

from fea_ros.mie.errors import SpottingFormatError
from fea_ros.mie.evaluation import (MACRO, MICRO, Interval, count_true_positives, evaluate, interval_iou,
                                    read_intervals, write_intervals)


def test_iou_continuous_and_inclusive_frames():
    assert interval_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert interval_iou((0, 10), (10, 20)) == 0.0
    # frame numbers, both ends inclusive: [1,10] and [6,15] share 5 frames of 15
    assert interval_iou((1, 10), (6, 15), inclusive_frames=True) == pytest.approx(5 / 15)
    assert interval_iou((1, 10), (10, 20), inclusive_frames=True) == pytest.approx(1 / 20)


def test_partial_overlap_just_above_and_below_half():
    gt = [Interval("v", 0, 10, MICRO)]
    above = evaluate([Interval("v", 0, 5.1, MICRO)], gt)
    below = evaluate([Interval("v", 0, 4.9, MICRO)], gt)
    assert above.micro.tp == 1 and above.micro.f1 == pytest.approx(1.0)
    assert below.micro.tp == 0 and below.micro.fp == 1 and below.micro.fn == 1 and below.micro.f1 == 0.0


def test_two_predictions_on_one_truth_give_one_tp_one_fp():
    scores = evaluate([Interval("v", 0, 10, MICRO), Interval("v", 1, 10, MICRO)], [Interval("v", 0, 10, MICRO)])
    assert (scores.micro.tp, scores.micro.fp, scores.micro.fn) == (1, 1, 0)
    assert scores.micro.precision == pytest.approx(0.5) and scores.micro.recall == pytest.approx(1.0)


def test_adjacent_truths_one_wide_prediction_matches_at_most_one():
    truths = [Interval("v", 0, 10, MICRO), Interval("v", 10, 20, MICRO)]
    wide = evaluate([Interval("v", 0, 20, MICRO)], truths)
    assert wide.micro.tp == 1 and wide.micro.fn == 1  # IoU exactly 0.5 with each; one truth only
    two = evaluate([Interval("v", 1, 10, MICRO), Interval("v", 10, 19, MICRO)], truths)
    assert two.micro.tp == 2 and two.micro.fp == 0


def test_matching_is_maximal_not_greedy():
    # p0 overlaps g0 best but is the only prediction that can reach g1; letting each prediction in list
    # order take its best free truth would give 1 TP, the maximum matching gives 2
    pred = [(0.0, 10.0), (2.0, 11.0)]
    gt = [(1.0, 11.0), (-4.0, 8.0)]
    assert interval_iou(pred[1], gt[0]) > 0.5 and interval_iou(pred[0], gt[0]) > interval_iou(pred[0], gt[1]) >= 0.5
    assert count_true_positives(pred, gt) == 2


def test_mae_mie_split_and_overall_pooling_and_video_separation():
    truths = [Interval("a", 0, 10, MICRO), Interval("a", 50, 100, MACRO), Interval("b", 0, 10, MICRO)]
    preds = [
        Interval("a", 0, 10, MACRO),   # right place, wrong type: FP for MaE, MiE truth missed
        Interval("a", 55, 100, MACRO),  # TP MaE
        Interval("b", 1, 10, MICRO),    # TP MiE
        Interval("a", 200, 210, MICRO),  # FP MiE
        Interval("c", 0, 10, MICRO),    # video without truth: FP
    ]
    s = evaluate(preds, truths)
    assert (s.macro.tp, s.macro.n_pred, s.macro.n_gt) == (1, 2, 1)
    assert (s.micro.tp, s.micro.n_pred, s.micro.n_gt) == (1, 3, 2)
    assert (s.overall.tp, s.overall.n_pred, s.overall.n_gt) == (2, 5, 3)
    assert s.overall.f1 == pytest.approx(2 * 2 / (5 + 3))
    assert s.macro.f1 == pytest.approx(2 / 3) and s.micro.f1 == pytest.approx(2 * 1 / (3 + 2))


@pytest.mark.parametrize("iou", [0.0, -0.5, 1.5])
def test_an_iou_threshold_outside_0_1_is_refused(iou):
    from fea_ros.core.errors import ConfigError

    with pytest.raises(ConfigError, match="outside \\(0, 1\\]"):
        evaluate([Interval("v", 0, 1, MICRO)], [Interval("v", 0, 1, MICRO)], iou)
    assert evaluate([Interval("v", 0, 1, MICRO)], [Interval("v", 0, 1, MICRO)], 1.0).micro.tp == 1


def test_empty_predictions_score_zero():
    s = evaluate([], [Interval("v", 0, 1, MICRO)])
    assert s.micro.f1 == 0.0 and s.micro.fn == 1 and s.macro.f1 == 0.0


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_interval_files_round_trip(tmp_path, suffix):
    intervals = [Interval("s15_0101", 12, 20, MICRO), Interval("s15_0101", 100, 180.5, MACRO)]
    path = tmp_path / f"pred{suffix}"
    write_intervals(path, intervals)
    assert read_intervals(path) == intervals


def test_bad_rows_name_the_problem(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("video,onset,offset,type\nv,10,5,micro\n")
    with pytest.raises(SpottingFormatError, match="before onset"):
        read_intervals(path)
    path.write_text("video,onset,offset\nv,1,5\n")
    with pytest.raises(SpottingFormatError, match="lacks type"):
        read_intervals(path)
    path.write_text("video,onset,offset,type\nv,1,5,smile\n")
    with pytest.raises(SpottingFormatError, match="unknown expression type"):
        read_intervals(path)


def test_a_file_that_is_not_an_interval_table_is_refused_not_read_as_empty(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("not an interval file\n")
    with pytest.raises(SpottingFormatError, match="header lacks video, onset, offset, type"):
        read_intervals(path)
    path.write_text("")
    with pytest.raises(SpottingFormatError, match="header lacks"):
        read_intervals(path)
    path.write_text("video,onset,offset,type\n")
    assert read_intervals(path) == []
    lines = tmp_path / "pred.jsonl"
    lines.write_text('{"video": "v", "onset": 1, "offset": 2, "type": "micro"}\n[1, 2]\n')
    with pytest.raises(SpottingFormatError, match=":2: not a JSON object"):
        read_intervals(lines)


def test_evaluate_command_prints_the_table_and_json(tmp_path, capsys):
    import json

    from fea_ros.cli import main

    write_intervals(tmp_path / "gt.csv", [Interval("v", 0, 10, MICRO), Interval("v", 20, 60, MACRO)])
    write_intervals(tmp_path / "pred.jsonl", [Interval("v", 1, 10, MICRO), Interval("v", 70, 80, MACRO)])
    assert main(["evaluate", "spotting", "--pred", str(tmp_path / "pred.jsonl"), "--gt", str(tmp_path / "gt.csv"),
                 "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["MiE"]["f1"] == pytest.approx(1.0) and scores["MaE"]["f1"] == 0.0
    assert scores["overall"]["tp"] == 1 and scores["overall"]["fp"] == 1 and scores["overall"]["fn"] == 1
    assert main(["evaluate", "spotting", "--pred", str(tmp_path / "nope.csv"), "--gt", str(tmp_path / "gt.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
