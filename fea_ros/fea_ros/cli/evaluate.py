"""`fea-ros evaluate spotting|dataset|expression`: score expression spotting (MEGC protocol) and recognition.

expression: run the pipeline over labelled faces (a CSV of path,label) and score its expressions; see
`fea-ros evaluate expression --help` and docs/expression.md.

spotting: compare a prediction file with a ground-truth file. A prediction is a true positive when its IoU with
a ground-truth interval of the same video and type is >= 0.5 (--iou); each truth is matched at most once;
precision, recall and F1 are summed over the whole dataset, for MaE, MiE and overall.

File formats (both files alike):
  CSV   header row with at least: video,onset,offset,type   (more columns, e.g. apex, are ignored)
  JSONL one object per line with the keys video, onset, offset, type
onset/offset in any unit (seconds, frames) as long as both files use the same; type is MICRO or MACRO
(micro/macro, MiE/MaE, micro-expression/macro-expression and SAMM's "Micro - 1/2" are accepted).
With --frames the bounds are frame numbers and both ends count (the MEGC label sheets' convention).

spotting --videos DIR --labels CSV: run the whole pipeline over every video of a folder (progress bar) and score
its events against the labels (seconds from each video's first frame; frame indices from 0 with --frames); an
optional face_x0,face_y0,face_x1,face_y1 box per label row names the labelled face (fea_ros/mie/video_spotting.py).
A header-only labels file measures false positives per minute of face video.

dataset: run the spotter over a CAS(ME)^2 or SAMM Long Videos copy (licensed; see fea_ros/mie/datasets.py for
the layouts it reads), write its predictions and score them against the dataset's own labels.

Both run the spotter on every tracked face and score the labelled subject's face (the face whose track covers
the labelled box, else the face seen longest); other faces' events are counted apart and an "all faces" score
pools them (fea_ros/mie/multiface.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fea_ros.cli.evaluate_expression import add_expression_parser
from fea_ros.core.config import MieConfig, apply_overrides
from fea_ros.core.errors import InputError
from fea_ros.mie import datasets
from fea_ros.mie.evaluation import SpottingScores, evaluate, format_table, read_intervals, write_intervals
from fea_ros.mie.spotter import MieSpotter


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="score expression spotting (MEGC protocol) or recognition (labelled faces)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="evaluate_action", required=True)
    spotting = actions.add_parser("spotting", help="predicted intervals vs ground truth (CSV or JSONL), or a "
                                                   "folder of videos run through the pipeline vs a labels CSV")
    spotting.add_argument("--pred", type=Path, help="predicted intervals (.csv or .jsonl)")
    spotting.add_argument("--gt", type=Path, help="ground-truth intervals (.csv or .jsonl)")
    spotting.add_argument("--videos", type=Path, help="folder of videos to run the pipeline over (instead of --pred)")
    spotting.add_argument("--labels", type=Path, help="with --videos: labels CSV (video,onset,offset,type"
                                                      "[,face_x0,face_y0,face_x1,face_y1])")
    spotting.add_argument("--pred-out", type=Path, default=None, help="with --videos: write the predictions here")
    spotting.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="with --videos: override a mie.* spotter parameter")
    _add_scoring_options(spotting)
    spotting.set_defaults(func=spotting_command)
    dataset = actions.add_parser("dataset", help="run the spotter over CAS(ME)^2 or SAMM-LV frames and score it")
    dataset.add_argument("--kind", required=True, choices=("casme2", "sammlv"))
    dataset.add_argument("--root", required=True, type=Path,
                         help="dataset folder (holding rawpic/ for CAS(ME)^2, SAMM_longvideos/ for SAMM-LV)")
    dataset.add_argument("--labels", required=True, type=Path, help="the dataset's label workbook (.xlsx) or CSV")
    dataset.add_argument("--fps", type=float, default=None, help="frame rate (default 30 / 200)")
    dataset.add_argument("--pred-out", type=Path, default=None, help="write the predictions here (.csv/.jsonl)")
    dataset.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="override a mie.* spotter parameter, e.g. --set threshold_sigma=5")
    _add_scoring_options(dataset)
    dataset.set_defaults(func=dataset_command)
    add_expression_parser(actions)


def _add_scoring_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a true positive (default 0.5)")
    parser.add_argument("--frames", action="store_true", help="bounds are inclusive frame numbers")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")


def _print(scores: SpottingScores, as_json: bool) -> None:
    print(json.dumps(scores.as_dict(), indent=1) if as_json else format_table(scores))


def spotting_command(args: argparse.Namespace) -> int:
    if args.videos is not None:
        return _videos_command(args)
    if args.pred is None or args.gt is None:
        raise InputError("give --pred and --gt (two interval files), or --videos and --labels (a folder of videos "
                         "and their labels CSV)")
    scores = evaluate(read_intervals(args.pred), read_intervals(args.gt), args.iou, args.frames)
    _print(scores, args.json)
    return 0


def _videos_command(args: argparse.Namespace) -> int:
    from fea_ros.core.config import PipelineConfig
    from fea_ros.mie.video_spotting import read_labels, spot_folder

    if args.labels is None:
        raise InputError("--videos needs --labels: a CSV with the header video,onset,offset,type (a header-only "
                         "file when the videos have no labelled events)")
    truths, boxes = read_labels(args.labels)
    config = PipelineConfig()
    config.mie.enabled = True
    apply_overrides(config.mie, {k.removeprefix("mie."): _value(v)
                                 for k, _, v in (s.partition("=") for s in args.set)})
    result = spot_folder(args.videos, config, boxes, args.frames)
    if args.pred_out:
        write_intervals(args.pred_out, result.subject + result.other_faces)
    _print_faces(evaluate(result.subject, truths, args.iou, args.frames),
                 evaluate(result.subject + result.other_faces, truths, args.iou, args.frames),
                 result.other_faces, result.face_minutes, args.json)
    return 0


def _print_faces(subject: Any, everyone: Any, other_faces: list, face_minutes: float | None, as_json: bool) -> None:
    if as_json:
        summary = {"subject_face": subject.as_dict(), "all_faces": everyone.as_dict(),
                   "events_on_other_faces": len(other_faces)}
        if face_minutes:
            summary["face_minutes"] = face_minutes
            summary["predicted_per_minute"] = {"MICRO": everyone.micro.n_pred / face_minutes,
                                               "MACRO": everyone.macro.n_pred / face_minutes}
        print(json.dumps(summary, indent=1))
        return
    print("subject's face:\n" + format_table(subject))
    print("\nall faces:\n" + format_table(everyone))
    print(f"\nevents on other faces (all false positives): {len(other_faces)}")
    if face_minutes:
        print(f"{face_minutes:.2f} min of video with a face; predicted events per minute (all faces): "
              f"MiE {everyone.micro.n_pred / face_minutes:.2f}, MaE {everyone.macro.n_pred / face_minutes:.2f}")


def dataset_command(args: argparse.Namespace) -> int:
    reader = datasets.read_casme2_labels if args.kind == "casme2" else datasets.read_sammlv_labels
    labels = reader(args.labels)
    config = MieConfig()
    apply_overrides(config, {k.removeprefix("mie."): _value(v) for k, _, v in (s.partition("=") for s in args.set)})
    predictions = datasets.spot_dataset(args.kind, args.root, labels, MieSpotter(config), fps=args.fps)
    if args.pred_out:
        write_intervals(args.pred_out, predictions.subject)
    # the label sheets count frames inclusively
    truths = [label.interval() for label in labels]
    _print_faces(evaluate(predictions.subject, truths, args.iou, inclusive_frames=True),
                 evaluate(predictions.subject + predictions.other_faces, truths, args.iou, inclusive_frames=True),
                 predictions.other_faces, None, args.json)
    return 0


def _value(text: str) -> float | str | bool:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text
