"""The outputs of `fea-ros evaluate expression`: a text table, report.json, predictions.csv, a confusion-matrix
PNG (the ensemble and each network alone) and a contact sheet of the most confused, slowest and not-found faces.

The contact sheet shows the evaluated images themselves: it is written only into the --out folder the user
asked for, never anywhere else.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np

from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.core.visualize import OutputError
from fea_ros.expression_eval.metrics import Scores
from fea_ros.expression_eval.runner import ExpressionReport, ItemResult

THUMB_PX = 112
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _pct(value: float) -> str:
    return "  -  " if value != value else f"{100 * value:5.1f}"  # nan -> dash


def format_text(report: ExpressionReport) -> str:
    """The report as the plain-text table the command prints."""
    lines = [f"labels: {report.labels_file}   crop: {report.crop}   stage: {report.config_summary}",
             f"faces scored: {len(report.scored)} of {len(report.items)}   not found: {len(report.not_found)}"
             + (f" (of which rejected by the pipeline: {sum(1 for i in report.items if i.problem)})"
                if any(i.problem for i in report.items) else "")
             + (f"   unreadable: {len(report.unreadable)}" if report.unreadable else "")
             + (f"   missing files: {len(report.missing_files)}" if report.missing_files else "")]
    if report.other_labels:
        lines.append("skipped (not one of the seven labels): "
                     + ", ".join(f"{label} {count}" for label, count in sorted(report.other_labels.items())))
    scored = report.scored
    if scored:
        lines.append(f"median pipeline time per face: {np.median([i.milliseconds for i in scored]):.1f} ms")
    lines.append("")
    columns = {"ensemble": report.ensemble, **report.per_network}
    lines.append(f"{'':22s}" + "".join(f"{name:>12s}" for name in columns))
    for title, get in (("accuracy %", lambda s: s.accuracy), ("balanced accuracy %", lambda s: s.balanced_accuracy),
                       ("macro-F1 %", lambda s: s.macro_f1), ("ECE %", lambda s: s.ece)):
        lines.append(f"{title:22s}" + "".join(f"{_pct(get(s)):>12s}" for s in columns.values()))
    lines.append("")
    lines.append(f"{'class':12s}{'n':>6s}{'precision %':>13s}{'recall %':>10s}{'F1 %':>8s}"
                 + "".join(f"{'recall ' + name:>16s}" for name in report.per_network))
    for k, c in enumerate(report.ensemble.per_class):
        lines.append(f"{c.label:12s}{c.support:6d}{_pct(c.precision):>13s}{_pct(c.recall):>10s}{_pct(c.f1):>8s}"
                     + "".join(f"{_pct(s.per_class[k].recall):>16s}" for s in report.per_network.values()))
    return "\n".join(lines)


def write_report(report: ExpressionReport, out: Path, examples: int = 12) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out}: {exc}") from exc
    (out / "report.json").write_text(json.dumps(report.as_dict(), indent=1, allow_nan=True) + "\n")
    (out / "report.txt").write_text(format_text(report) + "\n")
    write_predictions(report, out / "predictions.csv")
    plot_confusions({"ensemble": report.ensemble, **report.per_network}, out / "confusion.png",
                    f"{report.labels_file.name}, crop={report.crop}")
    write_contact_sheet(report.items, out / "examples.png", examples)


def write_predictions(report: ExpressionReport, path: Path) -> None:
    networks = list(report.per_network)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "found", "predicted", "ms", *[f"p_{label}" for label in EXPRESSION_LABELS],
                         *[f"predicted_{key}" for key in networks]])
        for item in report.items:
            if not item.found:
                writer.writerow([item.name, EXPRESSION_LABELS[item.label], 0, "", f"{item.milliseconds:.2f}"]
                                + [""] * (len(EXPRESSION_LABELS) + len(networks)))
                continue
            assert item.probabilities is not None and item.predicted is not None
            writer.writerow([item.name, EXPRESSION_LABELS[item.label], 1, EXPRESSION_LABELS[item.predicted],
                             f"{item.milliseconds:.2f}", *[f"{p:.4f}" for p in item.probabilities],
                             *[EXPRESSION_LABELS[int(np.argmax(item.per_model[key]))] if key in item.per_model else ""
                               for key in networks]])


def plot_confusions(scores: dict[str, Scores], path: Path, title: str) -> Path:
    """One row-normalised confusion matrix per entry (label rows, prediction columns), counts written in."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.6 * len(scores), 4.9), dpi=100)
    FigureCanvasAgg(figure)
    short = [label[:4] for label in EXPRESSION_LABELS]
    for index, (name, s) in enumerate(scores.items()):
        axes = figure.add_subplot(1, len(scores), index + 1)
        rows = s.confusion.sum(axis=1, keepdims=True)
        normalised = np.divide(s.confusion, rows, out=np.zeros(s.confusion.shape), where=rows > 0)
        axes.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
        for i in range(len(EXPRESSION_LABELS)):
            for j in range(len(EXPRESSION_LABELS)):
                if s.confusion[i, j]:
                    axes.text(j, i, str(s.confusion[i, j]), ha="center", va="center", fontsize=7,
                              color="white" if normalised[i, j] > 0.5 else "black")
        axes.set_xticks(range(len(short)), short, fontsize=8, rotation=45)
        axes.set_yticks(range(len(short)), short, fontsize=8)
        axes.set_xlabel("predicted")
        if index == 0:
            axes.set_ylabel("label")
        axes.set_title(f"{name}\nbal. acc {100 * s.balanced_accuracy:.1f}%  macro-F1 {100 * s.macro_f1:.1f}%",
                       fontsize=9)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0.0, 0.0, 1.0, 0.95))
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
    return path


def _thumbnail(item: ItemResult, lines: list[str]) -> np.ndarray:
    tile = np.full((THUMB_PX + 14 * len(lines) + 4, THUMB_PX, 3), 255, np.uint8)
    image = cv2.imdecode(np.fromfile(str(item.path), np.uint8), cv2.IMREAD_COLOR) \
        if item.path.suffix.lower() not in (".mp4", ".avi", ".mkv", ".mov", ".webm") else _first_frame(item.path)
    if image is not None:
        height, width = image.shape[:2]
        scale = THUMB_PX / max(height, width)
        small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        y, x = (THUMB_PX - small.shape[0]) // 2, (THUMB_PX - small.shape[1]) // 2
        tile[y:y + small.shape[0], x:x + small.shape[1]] = small
    for row, text in enumerate(lines):
        cv2.putText(tile, text, (2, THUMB_PX + 12 + 14 * row), _FONT, 0.34, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def _first_frame(path: Path) -> np.ndarray | None:
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read()
    capture.release()
    return frame if ok else None


def _section(title: str, tiles: list[np.ndarray], width: int) -> np.ndarray:
    header = np.full((24, width, 3), 235, np.uint8)
    cv2.putText(header, title, (4, 17), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    if not tiles:
        return header
    per_row = width // THUMB_PX
    height = max(t.shape[0] for t in tiles)
    rows = []
    for start in range(0, len(tiles), per_row):
        row = np.full((height, width, 3), 255, np.uint8)
        for i, tile in enumerate(tiles[start:start + per_row]):
            row[:tile.shape[0], i * THUMB_PX:(i + 1) * THUMB_PX] = tile
        rows.append(row)
    return np.vstack([header, *rows])


def write_contact_sheet(items: list[ItemResult], path: Path, count: int = 12) -> Path:
    """Most-confused (wrong with the highest probability on the wrong label), slowest and not-found faces."""
    per_row = max(4, min(8, int(math.ceil(count / 2))))
    width = per_row * THUMB_PX
    scored = [item for item in items if item.found]
    wrong = [item for item in scored if item.predicted != item.label]
    wrong.sort(key=lambda item: -float(np.max(item.probabilities)))  # type: ignore[arg-type]
    tiles_wrong = [_thumbnail(item, [f"{EXPRESSION_LABELS[item.label][:4]}->"
                                     f"{EXPRESSION_LABELS[item.predicted or 0][:4]} "
                                     f"{float(np.max(item.probabilities)):.2f}",  # type: ignore[arg-type]
                                     Path(item.name).name[:17]]) for item in wrong[:count]]
    slowest = sorted(scored, key=lambda item: -item.milliseconds)[:count]
    tiles_slow = [_thumbnail(item, [f"{item.milliseconds:.1f} ms", Path(item.name).name[:17]]) for item in slowest]
    missing = [item for item in items if not item.found][:count]
    tiles_missing = [_thumbnail(item, [EXPRESSION_LABELS[item.label], Path(item.name).name[:17]]) for item in missing]
    sheet = np.vstack([
        _section(f"most confused ({len(wrong)} of {len(scored)} wrong)",
                 tiles_wrong, width),
        _section("slowest (pipeline ms)", tiles_slow, width),
        _section(f"no face found ({sum(not i.found for i in items)})", tiles_missing, width),
    ])
    if not cv2.imwrite(str(path), sheet):
        raise OutputError(f"cannot write {path}")
    return path
