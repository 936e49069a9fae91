"""A replay sink that counts what the corpus report needs: expressions per face-frame, events per type."""
from __future__ import annotations

from collections import Counter
from typing import Any

from fea_ros.bag.reader import BagMessage
from fea_ros.core.types import FrameResult


class ExpressionTally:
    """Counts face-frames per expression label and events per type (MICRO/MACRO) as frames are replayed."""

    def __init__(self) -> None:
        self.labels: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.frames = 0  # processed frames seen (read by the progress poll from another thread)

    def write(self, result: FrameResult, message: BagMessage) -> None:
        self.frames += 1
        for face in result.faces:
            self.labels[face.expression] += 1
        for event in result.events:
            self.events[event.type] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"face_frames": sum(self.labels.values()), "labels": dict(sorted(self.labels.items())),
                "events": dict(sorted(self.events.items()))}
