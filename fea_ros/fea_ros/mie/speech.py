"""Whether a face is talking: its lips keep moving, mostly below the spotting threshold.

Speech moves the lips several times a second. Now and then one of those movements crosses the spotting
threshold and would be reported as a lip press (a MICRO event): on the real clips the only micro-expression
events were of that kind (a woman talking, a man on a car phone). A lip press of a face at rest is preceded by
lips at rest, so the spotter asks, before a movement of the lips alone starts an event, whether the lips moved
in a good share of the last second's frames at rest.
"""
from __future__ import annotations

from collections import deque

#: lips "moving" in a frame: a lip channel above this many noise units (scripts/lip_activity.py: 0-0.1 % of
#: the frames at rest on benchmark seed 1's neutral clips, 35-50 % on the real clips' talking faces)
SPEECH_LEVEL = 3.0
SPEECH_WINDOW_S = 1.0


class LipActivity:
    """Share of the last ``SPEECH_WINDOW_S`` of at-rest frames in which the lips moved, per face."""

    def __init__(self) -> None:
        self._frames: deque[tuple[int, bool]] = deque()
        self._moving = 0

    def update(self, stamp_ns: int, lips_z: float) -> float:
        """Add a frame at rest (the lips' largest z-score in it) and return the share of moving frames."""
        moving = lips_z >= SPEECH_LEVEL
        self._frames.append((stamp_ns, moving))
        self._moving += moving
        while stamp_ns - self._frames[0][0] > SPEECH_WINDOW_S * 1e9:
            self._moving -= self._frames.popleft()[1]
        return self._moving / len(self._frames)
