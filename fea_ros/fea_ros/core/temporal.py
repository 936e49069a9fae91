"""Stage 6: per-face smoothing of the expression probabilities over time.

Exponential smoothing with a time constant in seconds: each new frame moves the estimate towards the new
probabilities by alpha = 1 - exp(-dt / tau), with dt taken from the stamps. That is the exact discrete
form of a first-order low-pass filter, so the curve does not depend on the frame rate (a per-frame alpha
would smooth twice as long at 15 fps as at 30 fps). A gap longer than ``max_gap_s`` restarts the filter.

The reported label has hysteresis: another class takes over only when its smoothed probability beats the
current label's by ``hysteresis``, so a label does not flicker between two near-equal classes.

Valence and arousal are DERIVED, not measured: the probability-weighted mean of each class's typical
position on Russell's circumplex of affect (CIRCUMPLEX below, docs/temporal.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fea_ros.core.config import TemporalConfig
from fea_ros.core.types import EXPRESSION_LABELS

#: (valence, arousal) in -1..1 per class: approximate positions of the matching affect words in Russell's
#: circumplex (Russell 1980, "A circumplex model of affect", J. Pers. Soc. Psychol. 39(6), Fig. 2): happy,
#: sad, angry, afraid (fearful), astonished (surprised). "Disgusted" is not one of Russell's 28 words; it
#: is placed here between angry and distressed (unpleasant, moderately aroused). Neutral is the origin.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "happy": (0.89, 0.17),
    "sad": (-0.81, -0.40),
    "angry": (-0.40, 0.79),
    "fearful": (-0.12, 0.79),
    "disgusted": (-0.67, 0.49),
    "surprised": (0.16, 0.89),
}
CIRCUMPLEX_MATRIX = np.array([CIRCUMPLEX[label] for label in EXPRESSION_LABELS])  # (7, 2)

NS_PER_S = 1_000_000_000


def smoothing_alpha(dt_s: float, time_constant_s: float) -> float:
    """Weight of the new sample after dt seconds; 1 when smoothing is off (tau <= 0)."""
    if time_constant_s <= 0:
        return 1.0
    return 1.0 - math.exp(-max(dt_s, 0.0) / time_constant_s)


def valence_arousal(probabilities: np.ndarray) -> tuple[float, float]:
    total = float(probabilities.sum())
    if total <= 0:
        return 0.0, 0.0
    valence, arousal = (probabilities @ CIRCUMPLEX_MATRIX) / total
    return float(valence), float(arousal)


@dataclass
class SmoothedExpression:
    probabilities: np.ndarray  # (7,) smoothed, EXPRESSION_LABELS order
    label: str
    confidence: float  # smoothed probability of label
    valence: float
    arousal: float


class ExpressionSmoother:
    """The temporal state of one face."""

    def __init__(self, config: TemporalConfig) -> None:
        self.config = config
        self._state: np.ndarray | None = None
        self._label_index = 0
        self._last_stamp_ns = 0

    def update(self, stamp_ns: int, probabilities: np.ndarray) -> SmoothedExpression:
        dt_s = (stamp_ns - self._last_stamp_ns) / NS_PER_S
        if self._state is None or dt_s > self.config.max_gap_s or dt_s < 0:
            self._state = np.asarray(probabilities, dtype=np.float64).copy()
            self._label_index = int(np.argmax(self._state))
        else:
            alpha = smoothing_alpha(dt_s, self.config.time_constant_s)
            self._state += alpha * (probabilities - self._state)
            best = int(np.argmax(self._state))
            if self._state[best] >= self._state[self._label_index] + self.config.hysteresis:
                self._label_index = best
        self._last_stamp_ns = stamp_ns
        valence, arousal = valence_arousal(self._state)
        return SmoothedExpression(probabilities=self._state.copy(), label=EXPRESSION_LABELS[self._label_index],
                                  confidence=float(self._state[self._label_index]), valence=valence,
                                  arousal=arousal)
