"""The text `fea-ros bench` prints: one Row per measured run, as aligned columns or BENCHMARKS.md tables.

numpy and onnxruntime are imported inside the functions that need them, so the CLI stays quick to start.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGES = ("detect", "track", "landmarks", "expression", "blendshapes", "temporal", "mie", "attention")
#: the attention stage's budget per face (issue 11)
ATTENTION_MS_PER_FACE_TARGET = 0.3
#: the issue's targets: (clip, config) -> minimum end-to-end fps
#: issue 12 (speed, round 2); issue 3 had 50 / 120 / 20 fps and 600 MB
FPS_TARGETS = {("face1", "full"): 120.0, ("face1", "fast"): 220.0, ("faces3", "full"): 50.0}
RSS_TARGET_MB = 300.0


@dataclass
class Stats:
    median_ms: float
    p95_ms: float


def _stats(values: list[float]) -> Stats:
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    return Stats(float(np.median(array)), float(np.percentile(array, 95)))


@dataclass
class Row:
    clip: str
    config: str
    data: dict[str, Any]

    @property
    def total_ms(self) -> float:
        return sum(self.data["end_to_end_ms"])

    @property
    def fps(self) -> float:
        return 1e3 * self.data["frames"] / self.total_ms if self.total_ms > 0 else float("nan")

    @property
    def overhead_pct(self) -> float | None:
        network = self.data["network_ms_total"]
        if network is None or self.data.get("frame_pipeline"):  # networks on two threads: no share of wall time
            return None
        return 100.0 * (self.total_ms - network) / self.total_ms

    @property
    def busiest_thread_cpu_ms(self) -> float:
        """CPU ms per frame of the busier of: the thread that runs the pipeline, all others together.

        1000 / this bounds the fps with two free cores (the frame pipeline splits the work between two).
        """
        frames = max(1, self.data["frames"])
        main = sum(self.data.get("main_cpu_ms", self.data["cpu_ms"])) / frames
        return max(main, sum(self.data["cpu_ms"]) / frames - main)

    @property
    def outside_ms_per_face(self) -> float:
        """CPU time outside the networks per face per frame (everything but Engine.run, MiE included)."""
        faces = max(1e-9, self.data["faces_per_frame"]) * self.data["frames"]
        return (self.total_ms - (self.data["network_ms_total"] or 0.0)) / faces

    @property
    def overhead_without_mie_pct(self) -> float | None:
        """Time outside the networks, leaving out the MiE spotter (a stage with no network at all)."""
        network = self.data["network_ms_total"]
        if network is None or self.data.get("frame_pipeline"):
            return None
        total = self.total_ms - sum(self.data["stages_ms"].get("mie", []))
        return 100.0 * (total - network) / total if total > 0 else None

    def target(self) -> str:
        goal = FPS_TARGETS.get((self.clip, self.config))
        return "-" if goal is None else f">= {goal:.0f} fps: {'met' if self.fps >= goal else 'MISSED'}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    import onnxruntime

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (f"CPU: {cpu_model()}, {cores} cores ({usable} usable), {platform.machine()}; "
            f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}")


def load_line() -> str:
    """The 1/5/15-minute load average: on a shared machine it says how far the numbers can be trusted."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average: unknown"
    return f"load average before the run: {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def _summary_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["clip", "config", "frames", "faces/frame", "fps", "e2e median ms", "e2e p95 ms",
              "networks ms/frame", "overhead %", "overhead % w/o MiE", "peak RSS MB", "CPU ms/frame",
              "busiest thread CPU ms/frame", "outside networks ms/face", "target"]
    body = []
    for row in rows:
        e2e = _stats(row.data["end_to_end_ms"])
        network = row.data["network_ms_total"]
        overhead = row.overhead_pct
        overhead_without_mie = row.overhead_without_mie_pct
        body.append([row.clip, row.config, str(row.data["frames"]), f"{row.data['faces_per_frame']:.2f}",
                     f"{row.fps:.1f}", f"{e2e.median_ms:.2f}", f"{e2e.p95_ms:.2f}",
                     "n/a" if network is None else f"{network / row.data['frames']:.2f}",
                     "n/a" if overhead is None else f"{overhead:.1f}",
                     "n/a" if overhead_without_mie is None else f"{overhead_without_mie:.1f}",
                     f"{row.data['peak_rss_mb']:.0f}",
                     f"{sum(row.data['cpu_ms']) / max(1, row.data['frames']):.2f}",
                     f"{row.busiest_thread_cpu_ms:.2f}",
                     "n/a" if network is None or row.data.get("frame_pipeline") else f"{row.outside_ms_per_face:.2f}",
                     row.target()])
    return header, body


def _stage_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["stage ms: median / p95 / mean"] + [f"{row.clip} {row.config}" for row in rows]
    names = list(STAGES) + sorted({s for row in rows for s in row.data["stages_ms"]} - set(STAGES))
    body = []
    for stage in names:
        cells = []
        for row in rows:
            values = row.data["stages_ms"].get(stage)
            if not values or max(values) < 1e-3:  # a switched-off stage reports (about) 0 ms
                cells.append("-")
            else:
                stats = _stats(values)
                cells.append(f"{stats.median_ms:.2f} / {stats.p95_ms:.2f} / {sum(values) / len(values):.2f}")
        if any(c != "-" for c in cells):
            body.append([stage] + cells)
    per_face = []
    for row in rows:  # head pose + gaze + engagement: the stage's budget is per face
        values = row.data["stages_ms"].get("attention") or []
        shares = [ms / count for ms, count in zip(values, row.data.get("faces_each", [])) if count and ms > 0]
        if shares:
            stats = _stats(shares)
            per_face.append(f"{stats.median_ms:.3f} / {stats.p95_ms:.3f} (target {ATTENTION_MS_PER_FACE_TARGET})")
        else:
            per_face.append("-")
    if any(c != "-" for c in per_face):
        body.append(["attention ms per face: median / p95"] + per_face)
        body.append(["attention ms per face, stage alone (best of 5 x 200)"] + [
            f"{row.data['attention_isolated_ms']:.3f}" if row.data.get("attention_isolated_ms") is not None else "-"
            for row in rows])
    return header, body


def _network_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["network: ms per frame (calls per frame)"] + [f"{row.clip} {row.config}" for row in rows]
    names = sorted({name for row in rows for name in row.data.get("network_ms", {})})
    body = []
    for name in names:
        cells = []
        for row in rows:
            frames = max(1, row.data["frames"])
            if name in row.data.get("network_ms", {}):
                cells.append(f"{row.data['network_ms'][name] / frames:.2f} "
                             f"({row.data['network_calls'][name] / frames:.2f})")
            else:
                cells.append("-")
        body.append([name] + cells)
    return header, body


def format_table(header: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(header[i]), *(len(cells[i]) for cells in body)) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    return "\n".join(lines + ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in body])


def report(rows: list[Row], threads: int, markdown: bool, backend: str = "onnxruntime", load: str = "",
           precision: str = "auto", stage_threads: int = 1, frame_pipeline: bool | None = None) -> str:
    from fea_ros.core.config import InferenceConfig

    engine = f"{threads} ONNX Runtime thread(s) per network" if backend == "onnxruntime" else f"backend {backend}"
    pipelined = InferenceConfig().frame_pipeline if frame_pipeline is None else frame_pipeline
    engine += (f", inference.precision {precision}, stage threads {stage_threads}, frame pipeline "
               f"{'on (fps from the interval between results)' if pipelined else 'off'}")
    parts = [machine_line(), f"640x480, {engine}, frames decoded outside the timed region"] + ([load] if load else [])
    if markdown:
        parts = [f"- {p}" for p in parts]
    parts += ["", format_table(*_summary_rows(rows), markdown), "", format_table(*_stage_rows(rows), markdown)]
    if any(row.data.get("network_ms") for row in rows):
        parts += ["", format_table(*_network_rows(rows), markdown)]
    if rows and rows[0].data["network_ms_total"] is not None:
        parts += ["", "networks ms/frame: wall time inside Engine.run; overhead %: share of the end-to-end time "
                  "spent outside the networks (pre/post-processing, tracking, smoothing, MiE spotting, Python); "
                  "w/o MiE: the same without the MiE spotter stage, which runs no network; CPU ms/frame: "
                  "process CPU time (every thread) per frame, which a busy machine moves far less than wall time; with the "
                  "frame pipeline on, networks ms/frame adds up both threads and the shares of wall time are n/a; busiest "
                  "thread: the CPU ms/frame of the thread running the pipeline or of all others together, "
                  "whichever is more (1000 / it bounds the fps on two free cores)"]
    parts.append(f"peak RSS: ru_maxrss of the process that ran that row (target <= {RSS_TARGET_MB:.0f} MB)")
    return "\n".join(parts)
