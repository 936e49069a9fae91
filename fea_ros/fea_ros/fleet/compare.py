"""`--compare`: the differences between two corpus reports (two configs, two fea_ros versions, two machines).

Bags are paired by path, else by content hash (a bag moved or copied between the two runs still pairs).
Label agreement is measured frame by frame from the two frames.jsonl: in each frame with the same stamp,
faces are paired by box overlap (IoU >= 0.5, Hungarian assignment; face ids may differ between versions),
and agreement is the share of paired faces with the same expression label. Event counts and speed come from
the reports.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from fea_ros.fleet.errors import CorpusReportError
from fea_ros.fleet.report import EVENT_TYPES, REPORT_JSON, REPORT_KIND
from fea_ros.fleet.worker import DONE

MIN_IOU = 0.5
COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"


def load_report(path: Path) -> tuple[dict[str, Any], Path]:
    """A corpus report and its folder; ``path`` may be the report file or the replay-many output folder."""
    file = path / REPORT_JSON if path.is_dir() else path
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusReportError(f"cannot read a corpus report from '{path}': {exc}; give the {REPORT_JSON} "
                                "(or the --out folder) of an earlier `fea-ros replay-many`") from exc
    if not isinstance(report, dict) or report.get("kind") != REPORT_KIND:
        raise CorpusReportError(f"'{file}' is not a corpus report (no \"kind\": \"{REPORT_KIND}\"); give the "
                                f"{REPORT_JSON} written by `fea-ros replay-many`")
    return report, file.parent


def _iou(a: list[float], b: list[float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _frames(folder: Path) -> dict[int, list[dict[str, Any]]] | None:
    try:
        with open(folder / "frames.jsonl", encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError):
        return None
    return {int(r["stamp_ns"]): r["faces"] for r in records}


def label_agreement(folder_a: Path, folder_b: Path) -> dict[str, Any] | None:
    """Faces paired across the two runs' frames.jsonl, and the share of pairs with the same label."""
    frames_a, frames_b = _frames(folder_a), _frames(folder_b)
    if frames_a is None or frames_b is None:
        return None
    paired = same = faces_a = faces_b = 0
    common = frames_a.keys() & frames_b.keys()
    for stamp in common:
        a, b = frames_a[stamp], frames_b[stamp]
        faces_a += len(a)
        faces_b += len(b)
        if not a or not b:
            continue
        iou = np.array([[_iou(fa["box"], fb["box"]) for fb in b] for fa in a])
        rows, cols = linear_sum_assignment(-iou)
        for i, j in zip(rows, cols):
            if iou[i, j] >= MIN_IOU:
                paired += 1
                same += a[i]["expression"] == b[j]["expression"]
    return {"frames_compared": len(common), "faces_a": faces_a, "faces_b": faces_b, "faces_paired": paired,
            "labels_same": same, "agreement": round(same / paired, 4) if paired else None}


def _pairs(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]) -> list[tuple[dict | None, dict | None]]:
    """Each bag of A with the bag of B at the same path, else with one of the same content (copies may share)."""
    def content(row: dict[str, Any]) -> str | None:
        return row["key"].split("-")[0] if row.get("key") else None

    by_path = {r["bag"]: r for r in rows_b}
    by_content = {content(r): r for r in reversed(rows_b) if content(r)}  # the first of B's copies
    used: set[int] = set()
    pairs: list[tuple[dict | None, dict | None]] = []
    for row in rows_a:
        match = by_path.get(row["bag"]) or (by_content.get(content(row)) if content(row) else None)
        if match is not None:
            used.add(id(match))
        pairs.append((row, match))
    pairs += [(None, r) for r in rows_b if id(r) not in used]
    return pairs


def compare_reports(report_a: dict[str, Any], folder_a: Path, report_b: dict[str, Any],
                    folder_b: Path) -> dict[str, Any]:
    """Per bag and overall: label agreement, events in A and B, speed in A and B. A is the reference."""
    bags = []
    paired = same = 0
    for row_a, row_b in _pairs(report_a["bags"], report_b["bags"]):
        entry: dict[str, Any] = {"bag_a": row_a and row_a["bag"], "bag_b": row_b and row_b["bag"],
                                 "status_a": row_a and row_a["status"], "status_b": row_b and row_b["status"]}
        if row_a and row_b and row_a["status"] == DONE and row_b["status"] == DONE:
            agreement = label_agreement(folder_a / row_a["result_dir"], folder_b / row_b["result_dir"])
            entry.update(
                labels=agreement,
                dominant=[row_a["dominant_expression"], row_b["dominant_expression"]],
                events={kind: [row_a["events"][kind], row_b["events"][kind]] for kind in EVENT_TYPES},
                fps=[row_a["fps"], row_b["fps"]],
                speed_ratio=round(row_b["fps"] / row_a["fps"], 3) if row_a["fps"] else None)
            if agreement is not None and not row_a.get("same_content_as"):  # each recording once in the totals
                paired += agreement["faces_paired"]
                same += agreement["labels_same"]
        bags.append(entry)
    overall_a, overall_b = report_a["overall"], report_b["overall"]
    fps_a, fps_b = overall_a["processing"]["fps_per_worker"], overall_b["processing"]["fps_per_worker"]
    return {
        "a": {"created_utc": report_a["created_utc"], "config_hash": report_a["config_hash"], "fea_ros": report_a["fea_ros"]},
        "b": {"created_utc": report_b["created_utc"], "config_hash": report_b["config_hash"], "fea_ros": report_b["fea_ros"]},
        "overall": {
            "faces_paired": paired, "labels_same": same, "agreement": round(same / paired, 4) if paired else None,
            "events": {kind: [overall_a["events"][kind], overall_b["events"][kind]] for kind in EVENT_TYPES},
            "events_per_min": {kind: [overall_a["events_per_min"][kind], overall_b["events_per_min"][kind]]
                               for kind in EVENT_TYPES},
            "failed": [overall_a["bags"]["failed"], overall_b["bags"]["failed"]],
            "fps_per_worker": [fps_a, fps_b],
            "speed_ratio": round(fps_b / fps_a, 3) if fps_a and fps_b else None,
        },
        "bags": bags,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def compare_markdown(diff: dict[str, Any]) -> str:
    overall = diff["overall"]
    lines = ["# fea-ros corpus comparison", "",
             f"A: config {diff['a']['config_hash'][:12]} (fea_ros {diff['a']['fea_ros']}, {diff['a']['created_utc']}); "
             f"B: config {diff['b']['config_hash'][:12]} (fea_ros {diff['b']['fea_ros']}, {diff['b']['created_utc']}).", "",
             f"- label agreement: {_pct(overall['agreement'])} of {overall['faces_paired']} paired face-frames",
             f"- MICRO events: {overall['events']['MICRO'][0]} -> {overall['events']['MICRO'][1]}; "
             f"MACRO events: {overall['events']['MACRO'][0]} -> {overall['events']['MACRO'][1]}",
             f"- failed bags: {overall['failed'][0]} -> {overall['failed'][1]}",
             f"- frames/s per worker: {overall['fps_per_worker'][0]} -> {overall['fps_per_worker'][1]} "
             f"(B/A {overall['speed_ratio'] if overall['speed_ratio'] is not None else '-'})", "",
             "| bag | label agreement | dominant A -> B | MICRO A -> B | MACRO A -> B | frames/s A -> B |",
             "| --- | --- | --- | --- | --- | --- |"]
    for bag in diff["bags"]:
        names = [Path(path).name for path in (bag["bag_a"], bag["bag_b"]) if path]
        name = names[0] if len(set(names)) == 1 else " / ".join(names)
        if "labels" not in bag:
            lines.append(f"| {name} | not compared (A: {bag['status_a'] or 'absent'}, B: {bag['status_b'] or 'absent'}) "
                         "| | | | |")
            continue
        labels = bag["labels"]
        agreement = f"{_pct(labels['agreement'])} of {labels['faces_paired']}" if labels else "frames.jsonl missing"
        lines.append(f"| {name} | {agreement} | {bag['dominant'][0]} -> {bag['dominant'][1]} | "
                     f"{bag['events']['MICRO'][0]} -> {bag['events']['MICRO'][1]} | "
                     f"{bag['events']['MACRO'][0]} -> {bag['events']['MACRO'][1]} | "
                     f"{bag['fps'][0]:.1f} -> {bag['fps'][1]:.1f} |")
    return "\n".join(lines) + "\n"


def write_comparison(diff: dict[str, Any], out: Path) -> None:
    (out / COMPARE_JSON).write_text(json.dumps(diff, indent=2) + "\n", encoding="utf-8")
    (out / COMPARE_MD).write_text(compare_markdown(diff), encoding="utf-8")
