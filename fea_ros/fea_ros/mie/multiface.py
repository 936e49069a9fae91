"""Spotting evaluation over every face of a video: which face is the labelled subject, and whose events are whose.

The spotter runs on every tracked face, each with its own state (as in the pipeline). For scoring, the labelled
subject is the face whose track covers the labelled face box best (when the labels name one), else the face
seen in the most frames (single-subject datasets: the subject fills the video, a bystander passes through).
Predictions on the subject's face are scored against the labels; every other face's events are false positives
and are reported on their own, and "all faces" pools both (what a user of the raw event stream would see).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from fea_ros.core.types import MicroExpressionEvent
from fea_ros.mie.evaluation import Interval

Box = tuple[float, float, float, float]


@dataclass
class FaceTrack:
    frames: int = 0
    box_sum: np.ndarray = field(default_factory=lambda: np.zeros(4))
    events: list[MicroExpressionEvent] = field(default_factory=list)

    @property
    def mean_box(self) -> np.ndarray:
        return self.box_sum / max(self.frames, 1)


@dataclass
class VideoSpotting:
    """What the spotter reported on each face of one video."""

    video: str
    fps: float
    frames: int = 0
    first_stamp_ns: int | None = None
    faces: dict[str, FaceTrack] = field(default_factory=dict)

    def see(self, face_id: str, box: np.ndarray | tuple[float, ...] | None, stamp_ns: int) -> None:
        if self.first_stamp_ns is None:
            self.first_stamp_ns = stamp_ns
        track = self.faces.setdefault(face_id, FaceTrack())
        track.frames += 1
        if box is not None:
            track.box_sum += np.asarray(box, dtype=np.float64)[:4]

    def add(self, face_id: str, events: list[MicroExpressionEvent]) -> None:
        self.faces.setdefault(face_id, FaceTrack()).events.extend(events)

    def subject(self, label_box: Box | None = None) -> str | None:
        """The face the labels are about (see the module docstring); None when no face was seen."""
        seen = {k: t for k, t in self.faces.items() if t.frames}
        if not seen:
            return None
        if label_box is not None:
            return max(seen, key=lambda k: (box_iou(seen[k].mean_box, label_box), seen[k].frames))
        return max(seen, key=lambda k: (seen[k].frames, _area(seen[k].mean_box)))

    def intervals(self, face_ids: list[str], unit: Callable[[int], float]) -> list[Interval]:
        """Events of these faces as intervals; ``unit`` turns a time since the first frame (ns) into the unit."""
        start = self.first_stamp_ns or 0
        return [Interval(self.video, unit(e.onset_ns - start), unit(e.offset_ns - start), e.type)
                for face_id in face_ids for e in self.faces.get(face_id, FaceTrack()).events]

    def split(self, unit: Callable[[int], float], label_box: Box | None = None
              ) -> tuple[list[Interval], list[Interval]]:
        """(the subject's intervals, every other face's intervals)."""
        subject = self.subject(label_box)
        others = [k for k in self.faces if k != subject]
        return self.intervals([subject] if subject else [], unit), self.intervals(others, unit)

    def face_minutes(self) -> float:
        """Minutes of video with a face in them (the longest-seen face's frames)."""
        frames = max((t.frames for t in self.faces.values()), default=0)
        return frames / self.fps / 60.0 if self.fps > 0 else 0.0


def _area(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def box_iou(a: np.ndarray | Box, b: np.ndarray | Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = _area(np.asarray(a, dtype=float)) + _area(np.asarray(b, dtype=float)) - inter
    return float(inter / union) if union > 0 else 0.0
