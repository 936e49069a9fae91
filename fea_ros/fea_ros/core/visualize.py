"""Pictures of pipeline results: annotated frames, an mp4 writer, and a timeline plot of the expressions.

The plot uses matplotlib's Agg canvas directly (no pyplot), so it never needs a display and never touches
matplotlib's global backend setting.
"""
from __future__ import annotations

import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fea_ros.core.errors import FeaRosError
from fea_ros.core.types import EXPRESSION_LABELS, FaceResult, FrameResult, MicroExpressionEvent

#: one BGR colour per expression, used by the bars and the timeline (matplotlib gets the RGB version)
EXPRESSION_COLOURS_BGR: dict[str, tuple[int, int, int]] = {
    "neutral": (160, 160, 160),
    "happy": (0, 200, 255),
    "sad": (200, 120, 40),
    "angry": (40, 40, 220),
    "fearful": (160, 60, 150),
    "disgusted": (40, 150, 60),
    "surprised": (180, 105, 255),
}
_ID_PALETTE_BGR = [(80, 220, 80), (255, 160, 40), (60, 60, 255), (230, 80, 230), (40, 220, 220),
                   (255, 255, 80), (140, 100, 255), (80, 160, 255)]
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_SHORT_LABEL = {"neutral": "neu", "happy": "hap", "sad": "sad", "angry": "ang", "fearful": "fea",
                "disgusted": "dis", "surprised": "sur"}


class OutputError(FeaRosError):
    """An output file (video, plot) cannot be written."""


def id_colour(face_id: str) -> tuple[int, int, int]:
    """A stable colour per face id (the same id gets the same colour in every run)."""
    return _ID_PALETTE_BGR[zlib.crc32(face_id.encode()) % len(_ID_PALETTE_BGR)]


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: tuple[int, int, int]) -> None:
    # a dark outline keeps the text readable on any background
    cv2.putText(image, text, origin, _FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, _FONT, scale, colour, 1, cv2.LINE_AA)


def _probability_bars(image: np.ndarray, face: FaceResult, scale: float) -> None:
    """Seven bars beside the box: right of it, or left where the right side has no room."""
    bar_h = max(6, int(9 * scale))
    width = max(40, int(60 * scale))
    label_w = int(32 * scale)
    panel_w = label_w + width + 2
    height, image_w = image.shape[:2]
    x0, y0, x1, _ = (int(round(v)) for v in face.box)
    top = max(0, y0)
    left = x1 + 4
    if left + panel_w > image_w:
        left = x0 - 4 - panel_w if x0 - 4 - panel_w >= 0 else max(0, image_w - panel_w)
    for row, (label, p) in enumerate(zip(EXPRESSION_LABELS, face.expression_scores)):
        y = top + row * (bar_h + 2)
        if y + bar_h >= height:
            break
        cv2.rectangle(image, (left, y), (left + panel_w, y + bar_h), (30, 30, 30), -1)
        cv2.putText(image, _SHORT_LABEL[label], (left + 1, y + bar_h - 1), _FONT, 0.3 * scale, (235, 235, 235), 1,
                    cv2.LINE_AA)
        filled = int(round(float(np.clip(p, 0.0, 1.0)) * width))
        if filled > 0:
            cv2.rectangle(image, (left + label_w, y + 1), (left + label_w + filled, y + bar_h - 1),
                          EXPRESSION_COLOURS_BGR[label], -1)


def annotate_face(image: np.ndarray, face: FaceResult, landmarks: bool = False) -> None:
    colour = id_colour(face.face_id)
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    scale = float(np.clip(image.shape[0] / 480.0, 0.8, 2.0))
    cv2.rectangle(image, (x0, y0), (x1, y1), colour, max(1, int(2 * scale)), cv2.LINE_AA)
    if landmarks and face.landmarks is not None:
        for x, y in np.asarray(face.landmarks.xy):
            cv2.circle(image, (int(round(x)), int(round(y))), 1, (255, 255, 255), -1, cv2.LINE_AA)
        for x, y in np.asarray(face.landmarks.ibug68):
            cv2.circle(image, (int(round(x)), int(round(y))), 2, colour, -1, cv2.LINE_AA)
    title = f"{face.face_id} {face.expression} {face.expression_confidence:.2f}"
    _text(image, title, (x0, max(12, y0 - 6)), 0.5 * scale, colour)
    _probability_bars(image, face, scale)
    if face.attention is not None:
        from fea_ros.core.attention_draw import draw_attention

        draw_attention(image, face.attention, (x0, min(image.shape[0] - 4, y1 + int(32 * scale))), scale,
                       ray_px=float(x1 - x0))


def annotate(image: np.ndarray, result: FrameResult, landmarks: bool = False,
             active_events: list[MicroExpressionEvent] | None = None, still: bool = False) -> np.ndarray:
    """A copy of ``image`` with each face's box, id, label, probability bars (and landmarks if asked).

    ``active_events``: events whose span covers this frame; their faces get a "MiE" tag. ``still``: a photo,
    whose header has no time.
    """
    canvas = np.ascontiguousarray(image.copy())
    for face in result.faces:
        annotate_face(canvas, face, landmarks)
    tagged = {event.face_id: event for event in (active_events or [])}
    for face in result.faces:
        if face.face_id in tagged:
            x0, _, _, y1 = (int(round(v)) for v in face.box)
            _text(canvas, f"{tagged[face.face_id].type} expression", (x0, min(canvas.shape[0] - 4, y1 + 16)),
                  0.5, (0, 0, 255))
    header = f"faces={len(result.faces)}" if still else f"t={result.stamp_ns / 1e9:.2f}s  faces={len(result.faces)}"
    _text(canvas, header, (6, 16), 0.45, (255, 255, 255))
    return canvas


class VideoSink:
    """Writes BGR frames to an mp4 (codec 'mp4v'); opened on the first frame, whose size fixes the video's."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        height, width = image.shape[:2]
        if self._writer is None:
            if self.path.parent and not self.path.parent.exists():
                raise OutputError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (width, height))
            if not self._writer.isOpened():
                raise OutputError(f"cannot write {self.path} with the mp4v codec; check the path is writable and "
                                  "ends in .mp4")
            self._size = (width, height)
        if (width, height) != self._size:
            # a video has one frame size; frames of other sizes are scaled to it
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(image))
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class FaceSeries:
    """The smoothed expression probabilities of one face over time."""

    stamps_ns: list[int] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    attention: list[float] = field(default_factory=list)  # score 0..1, NaN where no attention estimate
    looking: list[bool] = field(default_factory=list)


@dataclass
class Timeline:
    """Collects what the timeline plot needs while the pipeline runs."""

    faces: dict[str, FaceSeries] = field(default_factory=lambda: defaultdict(FaceSeries))
    events: list[MicroExpressionEvent] = field(default_factory=list)
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None

    def add(self, result: FrameResult) -> None:
        if self.first_stamp_ns is None:
            self.first_stamp_ns = result.stamp_ns
        self.last_stamp_ns = result.stamp_ns
        for face in result.faces:
            series = self.faces[face.face_id]
            series.stamps_ns.append(result.stamp_ns)
            series.scores.append(np.asarray(face.expression_scores, dtype=np.float64))
            series.attention.append(face.attention.score if face.attention is not None else float("nan"))
            series.looking.append(face.attention is not None and face.attention.looking)
        self.events.extend(result.events)


def _natural_key(face_id: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", face_id)]


def _attention_track(axis: object, series: FaceSeries, origin: int) -> None:
    """Under a face's expression panel: its attention score, shaded green while it looks at the camera."""
    seconds = (np.asarray(series.stamps_ns, dtype=np.int64) - origin) / 1e9
    scores = np.asarray(series.attention, dtype=np.float64)
    looking = np.asarray(series.looking, dtype=bool)
    axis.plot(seconds, scores, color="black", linewidth=1.0)  # type: ignore[attr-defined]
    axis.fill_between(seconds, 0, 1, where=looking, color="green", alpha=0.25, step="mid",  # type: ignore
                      label="looking at camera")
    axis.set_ylim(-0.03, 1.03)  # type: ignore[attr-defined]
    axis.set_ylabel("attention")  # type: ignore[attr-defined]
    axis.grid(alpha=0.3)  # type: ignore[attr-defined]


def plot_timeline(timeline: Timeline, path: str | Path, title: str = "") -> Path:
    """One panel per face id: the 7 smoothed probabilities over time, MiE events shaded; under it (when the
    attention stage ran) the attention score with the time spent looking at the camera shaded. Writes a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if path.parent and not path.parent.exists():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    ids = sorted(timeline.faces, key=_natural_key)
    origin = timeline.first_stamp_ns or 0
    end_s = ((timeline.last_stamp_ns or origin) - origin) / 1e9
    panels = max(1, len(ids))
    with_attention = any(np.isfinite(s).any() for s in (timeline.faces[i].attention for i in ids) if s)
    rows = 2 if with_attention else 1
    figure = Figure(figsize=(10, (1.9 + 0.7 * (rows - 1)) * panels + 0.8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(panels * rows, 1, sharex=True, squeeze=False,
                           gridspec_kw={"height_ratios": [3, 1] * panels if rows == 2 else [1] * panels})[:, 0]
    axes = grid[::rows]
    attention_axes: list[Any] = list(grid[1::rows]) if rows == 2 else []
    colours = {label: tuple(c / 255 for c in reversed(bgr)) for label, bgr in EXPRESSION_COLOURS_BGR.items()}
    if not ids:
        axes[0].text(0.5, 0.5, "no face was tracked", ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_yticks([])
    for axis, face_id in zip(axes, ids):
        series = timeline.faces[face_id]
        seconds = (np.asarray(series.stamps_ns, dtype=np.int64) - origin) / 1e9
        scores = np.vstack(series.scores)
        # a gap longer than a few frames (face left the view) is drawn as a gap, not a straight line
        breaks = np.flatnonzero(np.diff(seconds) > 0.25) + 1
        for label_index, label in enumerate(EXPRESSION_LABELS):
            parts = zip(np.split(seconds, breaks), np.split(scores[:, label_index], breaks))
            for part, (part_s, part_p) in enumerate(parts):
                axis.plot(part_s, part_p, color=colours[label], linewidth=1.4, label=label if part == 0 else None)
        for event in timeline.events:
            if event.face_id == face_id:
                axis.axvspan((event.onset_ns - origin) / 1e9, (event.offset_ns - origin) / 1e9,
                             color="red" if event.type == "MICRO" else "orange", alpha=0.25)
        axis.set_ylim(-0.03, 1.03)  # a probability of exactly 0 or 1 stays visible above the frame line
        axis.set_xlim(0, max(end_s, 1e-3))
        axis.set_ylabel(f"face {face_id}\nprobability")
        axis.grid(alpha=0.3)
    for axis, face_id in zip(attention_axes, ids):
        _attention_track(axis, timeline.faces[face_id], origin)
    handles, labels = axes[0].get_legend_handles_labels()
    handles, labels = handles[:len(EXPRESSION_LABELS)], labels[:len(EXPRESSION_LABELS)]
    if timeline.events:
        from matplotlib.patches import Patch

        handles += [Patch(color="red", alpha=0.25), Patch(color="orange", alpha=0.25)]
        labels += ["micro-expression", "macro-expression"]
    if with_attention:
        from matplotlib.patches import Patch

        handles.append(Patch(color="green", alpha=0.25))
        labels.append("looking at camera")
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 9), fontsize="small",
                      frameon=False)
    grid[-1].set_xlabel("time (s)")
    if title:
        figure.suptitle(title)
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
    return path
