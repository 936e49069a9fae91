"""The corpus report: per bag and overall frames, faces, expressions, MiE/MaE events, speed, failures.

corpus_report.json (the record `--compare` reads), corpus_report.md (for people) and corpus_report.png
(expression time shares and event rates per bag). Time shares count face-frames: the share of all
(face, frame) pairs that carried each expression label, i.e. of face time at the bags' frame rates.
Overall numbers count each recording once: copies of one bag (same content hash) appear per path in the
table, but only once in the totals.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.core.visualize import EXPRESSION_COLOURS_BGR
from fea_ros.fleet.keys import fea_ros_version
from fea_ros.fleet.worker import DONE, FAILED

REPORT_KIND = "fea_ros.corpus_report"
REPORT_SCHEMA = 1
REPORT_JSON = "corpus_report.json"
REPORT_MD = "corpus_report.md"
REPORT_PNG = "corpus_report.png"
RESULTS = "results"
EVENT_TYPES = ("MICRO", "MACRO")


@dataclass
class BagEntry:
    """One path of the corpus and what became of it."""

    bag: Path
    key: str | None  # None when the bag could not even be hashed (missing path)
    job: dict[str, Any] | None  # the job.json of its result (None: not run)
    resumed: bool = False  # the result came from an earlier run
    same_content_as: str | None = None  # the earlier path of the same recording in this corpus
    problem: str = ""  # why it was not run (when key is None)


def _shares(labels: Counter[str]) -> dict[str, float]:
    total = sum(labels.values())
    return {label: round(labels[label] / total, 4) for label in EXPRESSION_LABELS if labels[label]} if total else {}


def _per_minute(counts: dict[str, int], seconds: float) -> dict[str, float | None]:
    return {kind: (round(counts.get(kind, 0) * 60.0 / seconds, 3) if seconds > 0 else None) for kind in EVENT_TYPES}


def _bag_row(entry: BagEntry) -> dict[str, Any]:
    job = entry.job or {}
    row: dict[str, Any] = {"bag": str(entry.bag), "key": entry.key, "status": job.get("status", FAILED),
                           "resumed": entry.resumed, "same_content_as": entry.same_content_as,
                           "result_dir": f"{RESULTS}/{entry.key}" if entry.key else None}
    if row["status"] != DONE:
        error = job.get("error") or {"type": "NotRun", "message": entry.problem or "the bag was not replayed"}
        row["error"] = {"type": error["type"], "message": error["message"]}
        return row
    summary, tally = job["summary"], job["tally"]
    labels = Counter(tally["labels"])
    events = {kind: int(tally["events"].get(kind, 0)) for kind in EVENT_TYPES}
    duration = float(summary["throughput"]["bag_duration_s"])
    row.update(
        topic=summary["topic"], frames=summary["frames"], faces=len(summary["faces"]),
        face_frames=int(tally["face_frames"]),
        dominant_expression=labels.most_common(1)[0][0] if labels else "",
        expression_shares=_shares(labels), expression_frames=dict(labels),
        faces_dominant={face["id"]: face["dominant_expression"] for face in summary["faces"]},
        events=events, events_per_min=_per_minute(events, duration),
        duration_s=duration, wall_s=float(summary["throughput"]["wall_s"]), fps=float(summary["throughput"]["fps"]),
        realtime_factor=float(summary["throughput"]["realtime_factor"]), cpu_s=float(job.get("cpu_s", 0.0)),
        worker=job.get("worker", {}))
    return row


def _overall(rows: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    done = [r for r in rows if r["status"] == DONE]
    unique = [r for r in done if r["same_content_as"] is None]
    labels: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for row in unique:
        labels.update(row["expression_frames"])
        events.update(row["events"])
    duration = sum(r["duration_s"] for r in unique)
    frames = {key: sum(r["frames"][key] for r in unique) for key in ("read", "processed", "skipped")}
    fresh = [r for r in unique if not r["resumed"]]
    replay_s = sum(r["wall_s"] for r in fresh)
    cpu_s = sum(r["cpu_s"] for r in fresh)
    fresh_frames = sum(r["frames"]["processed"] for r in fresh)
    wall = float(run.get("wall_s", 0.0))
    working = wall - float(run.get("startup_s", 0.0))  # from Ray up to the report
    total = sum(labels.values())
    return {
        "bags": {"given": len(rows), "done": len(done), "failed": len(rows) - len(done),
                 "resumed": sum(r["resumed"] for r in done), "recordings": len(unique)},
        "frames": frames, "faces": sum(r["faces"] for r in unique), "face_frames": total,
        "expression_shares": _shares(labels),
        "dominant_expressions": [{"label": label, "share": round(n / total, 4)} for label, n in labels.most_common(3)],
        "events": {kind: events.get(kind, 0) for kind in EVENT_TYPES},
        "events_per_min": _per_minute(dict(events), duration),
        "duration_s": round(duration, 3),
        "processing": {
            "bags_replayed": len(fresh), "frames_replayed": fresh_frames, "replay_s": round(replay_s, 3),
            "run_wall_s": round(wall, 3), "workers": run.get("workers", 0),
            "fps_per_worker": round(fresh_frames / replay_s, 2) if replay_s else None,
            "corpus_fps": round(fresh_frames / wall, 2) if wall and fresh_frames else None,
            "parallel_speedup": round(replay_s / wall, 2) if wall and replay_s else None,
            # CPU time does not depend on what else the machine runs: the fairer cost figure on a shared one
            "cpu_s": round(cpu_s, 3),
            "cpu_ms_per_frame": round(1e3 * cpu_s / fresh_frames, 2) if fresh_frames else None,
            "cores_used": round(cpu_s / working, 2) if working > 0 and cpu_s else None,
        },
        "failed": [{"bag": r["bag"], **r["error"]} for r in rows if r["status"] != DONE],
    }


def build_report(entries: list[BagEntry], run: dict[str, Any], config: dict[str, Any], options: dict[str, Any],
                 config_hash: str) -> dict[str, Any]:
    rows = [_bag_row(entry) for entry in entries]
    return {"kind": REPORT_KIND, "schema": REPORT_SCHEMA, "fea_ros": fea_ros_version(),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "config_hash": config_hash,
            "config": config, "options": options, "run": run, "overall": _overall(rows, run), "bags": rows}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_markdown(report: dict[str, Any]) -> str:
    overall, run = report["overall"], report["run"]
    bags, frames, proc = overall["bags"], overall["frames"], overall["processing"]
    dominant = ", ".join(f"{d['label']} {d['share']:.0%}" for d in overall["dominant_expressions"]) or "-"
    lines = [
        "# fea-ros corpus report", "",
        f"fea_ros {report['fea_ros']}, config {report['config_hash'][:12]}, {report['created_utc']}; "
        f"Ray {run.get('ray_version', '?')} at {run.get('address', '?')}, {run.get('workers', 0)} worker(s).", "",
        f"- bags: {bags['given']} given, {bags['done']} done ({bags['resumed']} from an earlier run), "
        f"{bags['failed']} failed; {bags['recordings']} distinct recordings",
        f"- frames: {frames['processed']} processed of {frames['read']} read ({frames['skipped']} skipped), "
        f"{overall['duration_s'] / 60:.2f} min recorded",
        f"- faces: {overall['faces']} tracks, {overall['face_frames']} face-frames; dominant: {dominant}",
        f"- events: {overall['events']['MICRO']} MICRO ({_fmt(overall['events_per_min']['MICRO'])}/min), "
        f"{overall['events']['MACRO']} MACRO ({_fmt(overall['events_per_min']['MACRO'])}/min)",
        f"- this run: {proc['bags_replayed']} bag(s), {proc['frames_replayed']} frames in {proc['run_wall_s']} s "
        f"({_fmt(proc['corpus_fps'], 1)} frames/s over the corpus, {_fmt(proc['fps_per_worker'], 1)} per worker, "
        f"speed-up {_fmt(proc['parallel_speedup'])} on {proc['workers']} worker(s); "
        f"{_fmt(proc['cpu_ms_per_frame'], 1)} CPU ms per frame, {_fmt(proc['cores_used'])} cores busy)", "",
        f"![expression shares and event rates per bag]({REPORT_PNG})", "",
        "## Bags", "",
        "| bag | status | frames | faces | dominant | time shares | MICRO (/min) | MACRO (/min) | frames/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in report["bags"]:
        name = Path(row["bag"]).name
        if row["status"] != DONE:
            lines.append(f"| {name} | failed: {row['error']['type']} | | | | | | | |")
            continue
        status = "done" + (" (earlier run)" if row["resumed"] else "") + \
            (f" (= {Path(row['same_content_as']).name})" if row["same_content_as"] else "")
        shares = ", ".join(f"{label} {share:.0%}" for label, share in
                           sorted(row["expression_shares"].items(), key=lambda item: -item[1])[:3])
        per_min = row["events_per_min"]
        lines.append(f"| {name} | {status} | {row['frames']['processed']} | {row['faces']} | "
                     f"{row['dominant_expression']} | {shares} | {row['events']['MICRO']} ({_fmt(per_min['MICRO'])}) | "
                     f"{row['events']['MACRO']} ({_fmt(per_min['MACRO'])}) | {row['fps']:.1f} |")
    if overall["failed"]:
        lines += ["", "## Failed bags", ""]
        lines += [f"- `{f['bag']}`: {f['type']}: {f['message']}" for f in overall["failed"]]
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], path: Path) -> None:
    """Stacked expression time shares per bag, and MICRO/MACRO events per minute beside them."""
    rows = [r for r in report["bags"] if r["status"] == DONE]
    figure = Figure(figsize=(11, 0.45 * max(len(rows), 2) + 1.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    shares_axis, events_axis = figure.subplots(1, 2, sharey=True, width_ratios=(3, 1))
    names = [Path(r["bag"]).name for r in rows]
    colours = {label: tuple(c / 255 for c in reversed(bgr)) for label, bgr in EXPRESSION_COLOURS_BGR.items()}
    for label in EXPRESSION_LABELS:
        lefts = [sum(r["expression_shares"].get(other, 0.0) for other in
                     EXPRESSION_LABELS[:EXPRESSION_LABELS.index(label)]) for r in rows]
        shares_axis.barh(names, [r["expression_shares"].get(label, 0.0) for r in rows], left=lefts,
                         color=colours.get(label), label=label)
    shares_axis.set_xlim(0, 1)
    shares_axis.set_xlabel("share of face-frames")
    shares_axis.set_title("expression time shares")
    shares_axis.invert_yaxis()
    shares_axis.legend(ncols=4, fontsize="small", loc="lower left", bbox_to_anchor=(0, 1.08))
    height = 0.38
    positions = range(len(rows))
    for offset, kind, colour in ((-height / 2, "MICRO", "tab:red"), (height / 2, "MACRO", "tab:blue")):
        events_axis.barh([p + offset for p in positions], [r["events_per_min"][kind] or 0.0 for r in rows],
                         height=height, color=colour, label=kind)
    events_axis.set_xlim(left=0, right=max([1.0] + [1.1 * (r["events_per_min"][k] or 0.0) for r in rows
                                                    for k in EVENT_TYPES]))
    events_axis.set_xlabel("events per minute")
    events_axis.set_title("spotted events")
    events_axis.legend(fontsize="small")
    if not rows:
        shares_axis.text(0.5, 0.5, "no bag was replayed", ha="center", va="center", transform=shares_axis.transAxes)
    figure.savefig(path)


def write_report(report: dict[str, Any], out: Path) -> None:
    (out / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / REPORT_MD).write_text(report_markdown(report), encoding="utf-8")
    plot_report(report, out / REPORT_PNG)
