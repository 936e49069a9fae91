"""Whether a face is talking: its lips keep moving, mostly below the spotting threshold.

Speech moves the lips several times a second. Now and then one of those movements crosses the spotting
threshold and would be reported as a lip press (a MICRO event): at threshold 4.5 without this check the only
micro-expression event on the real clips was of that kind (the woman talking, BENCHMARKS.md). A lip press of
a face at rest is preceded by lips at rest, so the spotter asks, before a movement of the lips alone starts an
event, whether the lips moved in a good share of the frames at rest in the second before the movement's
reference frame. The frames after the reference are left out: they hold the movement's own rise, which at a
low frame rate alone would make up that share (a lip press at 12 fps rising over two frames reads 2 / 13).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right

#: lips "moving" in a frame: a lip channel above this many noise units (scripts/lip_activity.py: 0.0 % of
#: the frames at rest on benchmark seed 1's neutral clips, 6-57 % on the real clips' talking faces)
SPEECH_LEVEL = 3.0
SPEECH_WINDOW_S = 1.0


class LipActivity:
    """Per face, the frames at rest and whether the lips moved in each; ``share`` reads a second of them."""

    def __init__(self, keep_s: float = 2.0) -> None:
        # frames are kept this long: the window plus the oldest reference the spotter may compare against
        self._keep_ns = int(max(keep_s, SPEECH_WINDOW_S) * 1e9)
        self._stamps: list[int] = []
        self._moving_before: list[int] = [0]  # moving frames before each kept frame, and in all of them last

    def add(self, stamp_ns: int, lips_z: float) -> None:
        """A frame at rest (``stamp_ns`` after every earlier one) and the lips' largest z-score in it."""
        if self._stamps and stamp_ns <= self._stamps[-1]:
            raise ValueError(f"LipActivity.add: stamp {stamp_ns} ns is not after the last one "
                             f"({self._stamps[-1]} ns); start a new LipActivity when time restarts")
        self._stamps.append(stamp_ns)
        self._moving_before.append(self._moving_before[-1] + (lips_z >= SPEECH_LEVEL))
        stale = bisect_left(self._stamps, stamp_ns - self._keep_ns)
        if stale:
            del self._stamps[:stale]
            del self._moving_before[:stale]

    def share(self, until_ns: int) -> float:
        """Share of the frames in the ``SPEECH_WINDOW_S`` up to ``until_ns`` (inclusive) in which the lips moved."""
        first = bisect_left(self._stamps, until_ns - int(SPEECH_WINDOW_S * 1e9))
        end = bisect_right(self._stamps, until_ns)
        if end <= first:
            return 0.0
        return (self._moving_before[end] - self._moving_before[first]) / (end - first)
