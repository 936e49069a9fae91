"""The MEGC spotting protocol: interval matching at IoU >= 0.5 and dataset-level precision, recall and F1.

A predicted interval is a true positive when its IoU with a ground-truth interval of the same video and the same
type (MaE or MiE) is at least ``iou_threshold``; each ground truth is matched at most once and each prediction
at most once (a maximum matching, so the count of true positives does not depend on the order of the lists).
TP, FP and FN are summed over the whole dataset, never averaged per video. "Overall" pools the MaE and MiE counts.

Intervals are ``[onset, offset]`` in any unit (frames, seconds, nanoseconds) as long as predictions and truth
use the same one. With ``inclusive_frames=True`` the bounds are frame numbers and both ends count, so
``[10, 19]`` is 10 frames long (the convention of the MEGC label sheets).
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from fea_ros.core.errors import ConfigError
from fea_ros.mie.errors import SpottingFormatError

MICRO = "MICRO"
MACRO = "MACRO"
TYPES = (MACRO, MICRO)

_TYPE_ALIASES = {
    "micro": MICRO, "mie": MICRO, "me": MICRO, "micro-expression": MICRO, "micro - 1/2": MICRO,
    "macro": MACRO, "mae": MACRO, "macro-expression": MACRO,
}


@dataclass(frozen=True)
class Interval:
    video: str
    onset: float
    offset: float
    type: str  # MICRO | MACRO


@dataclass(frozen=True)
class Counts:
    tp: int
    n_pred: int
    n_gt: int

    @property
    def fp(self) -> int:
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        return self.n_gt - self.tp

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_gt if self.n_gt else 0.0

    @property
    def f1(self) -> float:
        # 2TP / (2TP + FP + FN): defined (0) when there are no predictions or no truths
        denominator = self.n_pred + self.n_gt
        return 2.0 * self.tp / denominator if denominator else 0.0


@dataclass(frozen=True)
class SpottingScores:
    micro: Counts
    macro: Counts

    @property
    def overall(self) -> Counts:
        return Counts(self.micro.tp + self.macro.tp, self.micro.n_pred + self.macro.n_pred,
                      self.micro.n_gt + self.macro.n_gt)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {name: {"tp": c.tp, "fp": c.fp, "fn": c.fn, "n_pred": c.n_pred, "n_gt": c.n_gt,
                       "precision": c.precision, "recall": c.recall, "f1": c.f1}
                for name, c in (("MaE", self.macro), ("MiE", self.micro), ("overall", self.overall))}


def normalise_type(label: str) -> str:
    """Map the many spellings of the two classes (CAS(ME)^2, SAMM-LV, ours) to MICRO / MACRO."""
    key = str(label).strip().lower()
    if key in _TYPE_ALIASES:
        return _TYPE_ALIASES[key]
    if key.startswith("micro"):
        return MICRO
    if key.startswith("macro"):
        return MACRO
    raise SpottingFormatError(f"unknown expression type {label!r}; use MICRO/MACRO (or micro/macro, MiE/MaE)")


def interval_iou(a: tuple[float, float], b: tuple[float, float], inclusive_frames: bool = False) -> float:
    extra = 1.0 if inclusive_frames else 0.0
    intersection = min(a[1], b[1]) - max(a[0], b[0]) + extra
    if intersection <= 0:
        return 0.0
    union = (a[1] - a[0] + extra) + (b[1] - b[0] + extra) - intersection
    return float(intersection / union) if union > 0 else 0.0


def _matching(pred: list[tuple[float, float]], gt: list[tuple[float, float]], iou_threshold: float,
              inclusive_frames: bool) -> list[int]:
    """Indices into ``gt`` of the truths a maximum matching pairs with a prediction."""
    if not pred or not gt:
        return []
    iou = np.array([[interval_iou(p, g, inclusive_frames) for g in gt] for p in pred])
    eligible = iou >= iou_threshold
    if not eligible.any():
        return []
    # maximise the number of matches first, IoU only breaks ties
    weight = eligible * (1.0 + iou)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return [int(c) for r, c in zip(rows, cols) if eligible[r, c]]


def count_true_positives(pred: list[tuple[float, float]], gt: list[tuple[float, float]],
                         iou_threshold: float = 0.5, inclusive_frames: bool = False) -> int:
    """Largest number of prediction/truth pairs with IoU >= threshold, each interval used at most once."""
    return len(_matching(pred, gt, iou_threshold, inclusive_frames))


def found_truths(predictions: list[Interval], truths: list[Interval], iou_threshold: float = 0.5,
                 inclusive_frames: bool = False) -> list[bool]:
    """For each truth, whether the same maximum matching as ``evaluate`` pairs it with a prediction of its type."""
    found = [False] * len(truths)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, g in enumerate(truths):
        groups[(g.video, g.type)].append(i)
    for (video, kind), members in groups.items():
        pred = [(p.onset, p.offset) for p in predictions if p.video == video and p.type == kind]
        gt = [(truths[i].onset, truths[i].offset) for i in members]
        for j in _matching(pred, gt, iou_threshold, inclusive_frames):
            found[members[j]] = True
    return found


def evaluate(predictions: list[Interval], truths: list[Interval], iou_threshold: float = 0.5,
             inclusive_frames: bool = False) -> SpottingScores:
    if not 0.0 < iou_threshold <= 1.0:
        raise ConfigError(f"IoU threshold {iou_threshold} is outside (0, 1]; the MEGC protocol uses 0.5 (--iou 0.5)")
    counts = {}
    for kind in TYPES:
        by_video_pred: dict[str, list[tuple[float, float]]] = defaultdict(list)
        by_video_gt: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for p in predictions:
            if p.type == kind:
                by_video_pred[p.video].append((p.onset, p.offset))
        for g in truths:
            if g.type == kind:
                by_video_gt[g.video].append((g.onset, g.offset))
        tp = sum(count_true_positives(by_video_pred[v], by_video_gt.get(v, []), iou_threshold, inclusive_frames)
                 for v in by_video_pred)
        counts[kind] = Counts(tp, sum(map(len, by_video_pred.values())), sum(map(len, by_video_gt.values())))
    return SpottingScores(micro=counts[MICRO], macro=counts[MACRO])


def read_intervals(path: str | Path) -> list[Interval]:
    """Read intervals from CSV (header with video, onset, offset, type) or JSONL (one object a line, same keys).

    Extra columns/keys (apex, face_id, confidence...) are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise SpottingFormatError(f"{path} does not exist; give a CSV or JSONL file of intervals")
    rows: list[dict] = []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SpottingFormatError(f"{path}:{number}: not a JSON object ({exc.msg})") from exc
                if not isinstance(row, dict):
                    raise SpottingFormatError(f"{path}:{number}: not a JSON object; each line needs "
                                              "video, onset, offset, type")
                rows.append(row)
    else:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            # a header-only file is an empty interval list; a file without that header is a wrong file
            missing = [k for k in ("video", "onset", "offset", "type") if k not in (reader.fieldnames or [])]
            if missing:
                raise SpottingFormatError(f"{path}: the CSV header lacks {', '.join(missing)}; the first line "
                                          "must name the columns video,onset,offset,type")
    intervals = []
    for number, row in enumerate(rows, 1):
        missing = [k for k in ("video", "onset", "offset", "type") if k not in row]
        if missing:
            raise SpottingFormatError(f"{path}: row {number} lacks {', '.join(missing)}; each row needs "
                                      "video, onset, offset, type")
        try:
            onset, offset = float(row["onset"]), float(row["offset"])
        except (TypeError, ValueError) as exc:
            raise SpottingFormatError(f"{path}: row {number}: onset/offset must be numbers") from exc
        if offset < onset:
            raise SpottingFormatError(f"{path}: row {number}: offset {offset} is before onset {onset}")
        intervals.append(Interval(str(row["video"]), onset, offset, normalise_type(row["type"])))
    return intervals


def write_intervals(path: str | Path, intervals: list[Interval]) -> None:
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        path.write_text("".join(json.dumps({"video": i.video, "onset": i.onset, "offset": i.offset,
                                            "type": i.type}) + "\n" for i in intervals))
        return
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "onset", "offset", "type"])
        for i in intervals:
            writer.writerow([i.video, i.onset, i.offset, i.type])


def format_table(scores: SpottingScores) -> str:
    lines = [f"{'':8s} {'TP':>5s} {'FP':>5s} {'FN':>5s} {'precision':>9s} {'recall':>7s} {'F1':>6s}"]
    for name, values in scores.as_dict().items():
        lines.append(f"{name:8s} {values['tp']:5d} {values['fp']:5d} {values['fn']:5d} "
                     f"{values['precision']:9.3f} {values['recall']:7.3f} {values['f1']:6.3f}")
    return "\n".join(lines)
