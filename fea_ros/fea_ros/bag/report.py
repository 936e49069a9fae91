"""The replay report folder: frames.jsonl, one timeline PNG per face, summary.json and summary.md.

frames.jsonl has the same lines `fea-ros run` writes (fea_ros.core.serialize), so the two can be diffed.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from fea_ros.bag.errors import BagError
from fea_ros.bag.reader import BagMessage
from fea_ros.bag.replay import ReplayStats
from fea_ros.core.serialize import frame_result_to_json
from fea_ros.core.types import FrameResult
from fea_ros.core.visualize import Timeline, plot_timeline

JSONL_NAME = "frames.jsonl"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
PNG_PREFIX = "timeline_face_"


@dataclass
class FaceStats:
    frames: int = 0
    first_stamp_ns: int = 0
    last_stamp_ns: int = 0
    labels: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)  # MICRO / MACRO
    looking_s: float | None = None  # time spent looking at the camera (None: attention off / no mesh)


def _percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(array, 50)), 3), "p95": round(float(np.percentile(array, 95)), 3),
            "mean": round(float(array.mean()), 3), "frames": int(array.size)}


def _png_name(face_id: str) -> str:
    return f"{PNG_PREFIX}{re.sub(r'[^A-Za-z0-9_.-]', '_', face_id)}.png"


class ReplayReport:
    """ReplaySink writing the report folder; call finish() with the replay's stats at the end."""

    def __init__(self, directory: str | Path, landmarks: bool = False, timings: bool = True) -> None:
        self.directory = Path(directory)
        self.landmarks = landmarks
        self.timings = timings  # False: no wall-time timings_ms in frames.jsonl, so reruns are byte-identical
        self.timeline = Timeline()
        self.faces: dict[str, FaceStats] = {}
        self._jsonl: IO[str] | None = None

    def __enter__(self) -> "ReplayReport":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for stale in self.directory.glob(f"{PNG_PREFIX}*.png"):  # an earlier run's faces
                stale.unlink()
            self._jsonl = open(self.directory / JSONL_NAME, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise BagError(f"cannot write the report folder '{self.directory}': {exc}; "
                           "choose another --report") from exc

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None

    def write(self, result: FrameResult, message: BagMessage) -> None:
        if self._jsonl is None:
            raise BagError("the report is not open; use ReplayReport as a context manager")
        self._jsonl.write(frame_result_to_json(result, landmarks=self.landmarks, timings=self.timings) + "\n")
        self.timeline.add(result)
        for face in result.faces:
            stats = self.faces.setdefault(face.face_id, FaceStats(first_stamp_ns=result.stamp_ns))
            stats.frames += 1
            stats.last_stamp_ns = result.stamp_ns
            stats.labels[face.expression] += 1
            if face.attention is not None:  # a track's running total: the last value is the total
                stats.looking_s = face.attention.looking_time_s
        for event in result.events:
            self.faces.setdefault(event.face_id, FaceStats()).events[event.type] += 1

    def _plot_faces(self) -> dict[str, str]:
        written = {}
        for face_id in sorted(self.timeline.faces):
            single = Timeline(faces={face_id: self.timeline.faces[face_id]},
                              events=[e for e in self.timeline.events if e.face_id == face_id],
                              first_stamp_ns=self.timeline.first_stamp_ns, last_stamp_ns=self.timeline.last_stamp_ns)
            name = _png_name(face_id)
            plot_timeline(single, self.directory / name)  # the panel's axis label names the face
            written[face_id] = name
        return written

    def summary(self, stats: ReplayStats, plots: dict[str, str], outputs: dict[str, str]) -> dict[str, Any]:
        latency = {stage: _percentiles(values) for stage, values in stats.stage_ms.items() if values}
        if stats.convert_ms:
            latency["convert"] = _percentiles(stats.convert_ms)
        if stats.stage_ms:
            totals = np.sum([values for values in stats.stage_ms.values()
                             if len(values) == stats.processed], axis=0)
            latency["pipeline_total"] = _percentiles(list(np.atleast_1d(totals)))
        faces = []
        for face_id in stats.face_ids:
            face = self.faces.get(face_id, FaceStats())
            dominant = face.labels.most_common(1)[0][0] if face.labels else ""
            faces.append({"id": face_id, "frames": face.frames, "first_stamp_ns": face.first_stamp_ns,
                          "last_stamp_ns": face.last_stamp_ns, "dominant_expression": dominant,
                          "events": dict(face.events),
                          "looking_at_camera_s": None if face.looking_s is None else round(face.looking_s, 3),
                          "timeline_png": plots.get(face_id, "")})
        events = Counter(e.type for e in self.timeline.events)
        return {
            "bag": stats.bag, "topic": stats.topic, "msgtype": stats.msgtype,
            "frames": {"read": stats.messages_read, "processed": stats.processed, "skipped": len(stats.skipped)},
            "skipped": {
                "by_reason": stats.skip_counts,
                "messages": [{"index": s.index, "log_ns": s.log_ns, "stamp_ns": s.stamp_ns, "reason": s.reason,
                              "detail": s.detail} for s in stats.skipped],
            },
            "track_resets": [{"index": r.index, "stamp_ns": r.stamp_ns, "previous_stamp_ns": r.previous_stamp_ns}
                             for r in stats.resets],
            "faces": faces,
            "events": {"total": stats.events, **dict(events)},
            "latency_ms": latency,
            "throughput": {"wall_s": round(stats.wall_s, 3), "fps": round(stats.fps, 2),
                           "bag_duration_s": round(stats.bag_duration_s, 3),
                           "realtime_factor": round(stats.bag_duration_s / stats.wall_s, 2) if stats.wall_s else 0.0},
            "outputs": {"jsonl": JSONL_NAME, **outputs},
        }

    def finish(self, stats: ReplayStats, outputs: dict[str, str] | None = None) -> dict[str, Any]:
        """Close the JSONL, draw the per-face timelines, write summary.json and summary.md; return the summary."""
        self.close()
        summary = self.summary(stats, self._plot_faces(), outputs or {})
        (self.directory / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        (self.directory / SUMMARY_MD).write_text(summary_markdown(summary), encoding="utf-8")
        return summary


def summary_markdown(summary: dict[str, Any]) -> str:
    frames, skipped = summary["frames"], summary["skipped"]
    lines = [f"# fea-ros replay of `{summary['bag']}`", "",
             f"Topic `{summary['topic']}` ({summary['msgtype']}).", "",
             f"- frames read: {frames['read']}", f"- frames processed: {frames['processed']}",
             f"- frames skipped: {frames['skipped']}"]
    lines += [f"  - {reason}: {count}" for reason, count in sorted(skipped["by_reason"].items())]
    lines += [f"- track resets (stamp went back): {len(summary['track_resets'])}",
              f"- faces: {len(summary['faces'])}, events: {summary['events']['total']}",
              f"- wall time {summary['throughput']['wall_s']} s, {summary['throughput']['fps']} frames/s, "
              f"{summary['throughput']['realtime_factor']} x real time", ""]
    if summary["faces"]:
        lines += ["## Faces", "", "| face | frames | dominant expression | events | looking at the robot (s) | "
                  "timeline |", "| --- | --- | --- | --- | --- | --- |"]
        for face in summary["faces"]:
            events = ", ".join(f"{n} {kind}" for kind, n in sorted(face["events"].items())) or "0"
            png = f"![face {face['id']}]({face['timeline_png']})" if face["timeline_png"] else ""
            looking = "-" if face.get("looking_at_camera_s") is None else f"{face['looking_at_camera_s']:.2f}"
            lines.append(f"| {face['id']} | {face['frames']} | {face['dominant_expression']} | {events} | "
                         f"{looking} | {png} |")
        lines.append("")
    if summary["latency_ms"]:
        lines += ["## Latency per stage (ms)", "", "| stage | p50 | p95 | mean | frames |",
                  "| --- | --- | --- | --- | --- |"]
        for stage, row in summary["latency_ms"].items():
            lines.append(f"| {stage} | {row['p50']} | {row['p95']} | {row['mean']} | {row['frames']} |")
        lines.append("")
    if skipped["messages"]:
        lines += ["## Skipped messages", "", "| index | stamp (ns) | reason | detail |", "| --- | --- | --- | --- |"]
        for skip in skipped["messages"]:
            detail = skip["detail"].replace("|", "\\|")
            lines.append(f"| {skip['index']} | {skip['stamp_ns']} | {skip['reason']} | {detail} |")
        lines.append("")
    if summary["track_resets"]:
        lines += ["## Track resets", ""]
        lines += [f"- message {r['index']}: stamp {r['stamp_ns']} after {r['previous_stamp_ns']}"
                  for r in summary["track_resets"]]
        lines.append("")
    return "\n".join(lines)
