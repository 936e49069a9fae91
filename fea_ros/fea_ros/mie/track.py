"""Per-face state of the micro-expression spotter: the frames kept as references, the measured history, and the
event in progress. The spotter (spotter.py) updates it frame by frame; events.py reads it to build an event.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fea_ros.mie.alignment import FaceAligner
from fea_ros.mie.flow import BROW_REGIONS, CHANNEL_REGIONS, EYE_REGIONS, RegionBoxes
from fea_ros.mie.speech import LipActivity

#: channels of the eye region (eyes, lids) and of the brows
EYE_MASK = np.array([any(r in EYE_REGIONS for r in regions) for regions in CHANNEL_REGIONS])
BROW_MASK = np.array([any(r in BROW_REGIONS for r in regions) for regions in CHANNEL_REGIONS])
BLINK_AU = 45
#: frames this close to a blink belong to it (the lid was already moving)
BLINK_MARGIN_S = 0.1
#: near a blink a brow channel going down (the lid's pull) must exceed the threshold this many times over to start
#: or keep an event (blinks.blink_scale: one going up needs the plain threshold)
BLINK_BROW_FACTOR = 1.3


@dataclass
class Sample:
    stamp_ns: int
    crop: np.ndarray
    regions: RegionBoxes
    interocular_px: float
    blink: bool = False
    #: (C,) the channels' start statistic measured in this frame (against its own earlier reference)
    effective: np.ndarray | None = None
    #: the crop averaged with the frames at rest just before it, once the frame serves as a reference
    averaged: np.ndarray | None = None


@dataclass
class Record:
    stamp_ns: int
    z: np.ndarray  # (C,) per-channel z-scores (CHANNEL_NAMES)
    motion: np.ndarray  # (R, 2) crop px per region (REGION_NAMES)
    candidate_z: float  # max z over the regions allowed to start an event in this frame
    blink: bool
    au: np.ndarray | None
    common: float = 0.0  # how far the median channel rose above its noise level
    scale: np.ndarray | None = None  # (C,) per-channel threshold factor in this frame (brows near a blink)


@dataclass
class Track:
    aligner: FaceAligner
    first_ns: int
    samples: deque = field(default_factory=deque)  # Sample ring buffer for the sliding reference
    history: deque = field(default_factory=deque)  # Record, long enough to trace an onset back
    noise: np.ndarray | None = None  # (C,) crop px
    noise_updates: int = 0
    peak_z: float = 0.0  # of the event in progress
    active: np.ndarray | None = None  # channels that crossed the threshold in the event in progress
    started: np.ndarray | None = None  # the channels that started it
    #: (C,) the level each channel of a movement that a split closed had then (still decaying against the frozen
    #: reference; 0 for the others)
    decaying: np.ndarray = field(default_factory=lambda: np.zeros(len(CHANNEL_REGIONS)))
    direction: np.ndarray | None = None  # (C, 2) unit vector of each channel's motion when it joined the movement
    above_since: np.ndarray | None = None  # (C,) ns since when each channel is above SUSTAIN_FRACTION, or -1
    level: float | None = None  # smoothed z of the active channels
    raw_below_ns: int | None = None  # start of the current run of frames below the end level
    ear_baseline: float | None = None
    au_numbers: tuple[int, ...] = ()
    floor_ns: int = -1  # the reference never predates this (the end of the last event)
    frozen: Sample | None = None  # the reference while an event is in progress
    detected_ns: int = 0
    below_since_ns: int | None = None
    last_ns: int = -1
    last_blink_ns: int = -(10 ** 18)
    before_blink: Sample | None = None  # the last open-eye frame before the latest blink
    trough: float = float("inf")  # lowest level since the event's peak ...
    trough_ns: int = 0  # ... and when
    lips: LipActivity = field(default_factory=LipActivity)  # frames at rest in which the lips moved (speech)

    def join(self, channels: np.ndarray, vectors: np.ndarray) -> None:
        """``channels`` (C,) take part in the movement in progress from now on; those new to it keep the direction
        of their motion ``vectors`` (C, 2) in this frame as the direction they started moving in."""
        if self.active is None:
            return
        new = channels & ~self.active
        if self.direction is not None:
            self.direction[new] = unit_rows(vectors)[new]
        self.active = self.active | channels


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """(N, 2) vectors scaled to unit length (zero rows stay zero)."""
    return vectors / np.maximum(np.hypot(vectors[:, 0], vectors[:, 1]), 1e-9)[:, None]
