"""Streaming micro/macro-expression spotter, one state per tracked face.

Per frame and face: align the face (alignment.py), measure the optical flow from a reference crop to the
current crop, take the rigid head motion out and average the flow in each facial region (flow.py). Each
region's displacement is divided by that face's own noise level (a running mean of the displacement while
nothing happens), giving a z-score. A movement starts when a region's z-score crosses ``threshold_sigma``;
the reference crop is then frozen (so the signal is the displacement since before the movement) and the
movement ends when every region is back near rest. Onset and offset are where the signal leaves and
re-enters ``max(low_sigma, edge_fraction * peak)``. The event is emitted ``window_s`` after its offset, so the
delay from offset to publication is at most ``window_s`` plus one frame interval; a movement lasting longer than
``max_event_s`` is closed and emitted at that point.

Eye regions never start an event (blinks); while the eyes are closing (eye aspect ratio from the landmarks, or
the blink action unit when action units are given) the brow regions are not used either.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fea_ros.core.config import MieConfig
from fea_ros.core.errors import ConfigError, InputError
from fea_ros.core.types import ActionUnits, Landmarks, MicroExpressionEvent
from fea_ros.mie.alignment import AlignedFace, FaceAligner
from fea_ros.mie.flow import (BROW_REGIONS, CHANNEL_NAMES, CHANNEL_REGIONS, EYE_REGIONS, REGION_NAMES,
                              FlowEstimator, RegionBoxes, channel_motion, region_boxes, region_motion)

log = logging.getLogger(__name__)

#: FaceMesh eye-aspect-ratio points: corner, upper, upper, corner, lower, lower
EAR_POINTS = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
BLINK_AU = 45
_EYE_MASK = np.array([any(r in EYE_REGIONS for r in regions) for regions in CHANNEL_REGIONS])
_BROW_MASK = np.array([any(r in BROW_REGIONS for r in regions) for regions in CHANNEL_REGIONS])
#: intensity 1.0 = a peak regional displacement of this fraction of the inter-ocular distance
FULL_SCALE_DISPLACEMENT = 0.15
MIN_NOISE_PX = 0.02
BLINK_MARGIN_S = 0.1
END_SMOOTHING_S = 0.04
MIN_EVENT_S = 0.04  # 1/25 s, the shortest micro-expression
LID_DOMINANCE = 1.5


def _event_level(z: np.ndarray, active: np.ndarray) -> float:
    """Largest z of the channels that moved, above the median of the others.

    Against a reference frozen for seconds, slow changes (lighting, residual head motion) raise every
    channel a little; the median of the channels that did not move measures that common drift.
    """
    others = z[~active & ~_EYE_MASK]
    return float(z[active].max() - (np.median(others) if others.size else 0.0))


def eye_aspect_ratio(points_xy: np.ndarray) -> float:
    ratios = []
    for p1, p2, p3, p4, p5, p6 in EAR_POINTS:
        width = np.linalg.norm(points_xy[p1] - points_xy[p4])
        height = np.linalg.norm(points_xy[p2] - points_xy[p6]) + np.linalg.norm(points_xy[p3] - points_xy[p5])
        ratios.append(height / (2.0 * width) if width > 0 else 0.0)
    return float(min(ratios))


def _direction_action_units(region: str, motion: np.ndarray) -> tuple[int, ...]:
    """FACS action units suggested by the direction a region moved (crop y grows downwards)."""
    dx, dy = motion
    vertical_up = dy < 0 and abs(dy) >= 0.5 * abs(dx)
    if region.startswith("brow"):
        return (1, 2) if dy < 0 else (4,)
    if region == "nose":
        return (9,) if vertical_up else ()
    if region.startswith("mouth_corner"):
        return (12,) if dy < 0 else (15,)
    if region == "upper_lip":
        return (24,) if dy > 0 else (10,)
    if region == "lower_lip":
        return (17,) if dy < 0 else ()
    if region == "chin":
        return (17,) if dy < 0 else ()
    return ()


@dataclass
class _Sample:
    stamp_ns: int
    crop: np.ndarray
    regions: RegionBoxes
    interocular_px: float
    blink: bool = False


@dataclass
class _Record:
    stamp_ns: int
    z: np.ndarray  # (C,) per-channel z-scores (CHANNEL_NAMES)
    motion: np.ndarray  # (R, 2) crop px per region (REGION_NAMES)
    candidate_z: float  # max z over the regions allowed to start an event in this frame
    blink: bool
    au: np.ndarray | None
    common: float = 0.0  # how far the median channel rose above its noise level


@dataclass
class _Track:
    aligner: FaceAligner
    first_ns: int
    samples: deque = field(default_factory=deque)  # _Sample ring buffer for the sliding reference
    history: deque = field(default_factory=deque)  # _Record, long enough to trace an onset back
    noise: np.ndarray | None = None  # (C,) crop px
    noise_updates: int = 0
    peak_z: float = 0.0  # of the event in progress
    active: np.ndarray | None = None  # channels that crossed the threshold in the event in progress
    level: float | None = None  # smoothed z of the active channels
    raw_below_ns: int | None = None  # start of the current run of frames below the end level
    ear_baseline: float | None = None
    au_numbers: tuple[int, ...] = ()
    floor_ns: int = -1  # the reference never predates this (the end of the last event)
    frozen: _Sample | None = None  # the reference while an event is in progress
    detected_ns: int = 0
    below_since_ns: int | None = None
    last_ns: int = -1
    last_blink_ns: int = -(10 ** 18)


class MieSpotter:
    """``update()`` once per frame and tracked face; it returns the events that ended ``window_s`` ago."""

    def __init__(self, config: MieConfig | None = None) -> None:
        self.config = config or MieConfig()
        c = self.config
        if c.flow_offset_s <= 0 or c.window_s < 0 or c.max_event_s <= c.micro_max_s:
            raise ConfigError("mie.flow_offset_s must be > 0, mie.window_s >= 0 and mie.max_event_s > "
                              "mie.micro_max_s")
        if c.threshold_sigma <= c.low_sigma:
            raise ConfigError(f"mie.threshold_sigma ({c.threshold_sigma}) must exceed mie.low_sigma "
                              f"({c.low_sigma})")
        self._flow = FlowEstimator()
        self._tracks: dict[str, _Track] = {}

    def reset(self) -> None:
        self._tracks.clear()

    def drop(self, face_id: str) -> None:
        self._tracks.pop(face_id, None)

    @property
    def face_ids(self) -> tuple[str, ...]:
        return tuple(self._tracks)

    def update(self, face_id: str, stamp_ns: int, image_bgr: np.ndarray, landmarks: Landmarks | None,
               action_units: ActionUnits | None = None) -> list[MicroExpressionEvent]:
        if landmarks is None:
            return []
        track = self._tracks.get(face_id)
        if track is not None and stamp_ns <= track.last_ns:
            track = None  # time went backwards (bag loop): start this face afresh
        if track is None:
            track = _Track(FaceAligner(self.config.crop_px), stamp_ns)
            self._tracks[face_id] = track
        track.last_ns = stamp_ns
        try:
            face = track.aligner.align(image_bgr, landmarks.points)
        except InputError as exc:
            log.debug("face %s skipped by the MiE spotter at %d ns: %s", face_id, stamp_ns, exc)
            return []
        blink = self._blink(track, face, action_units)
        if blink:
            track.last_blink_ns = stamp_ns
            # the lid was already moving before the eye aspect ratio crossed the blink level
            for earlier in reversed(track.samples):
                if stamp_ns - earlier.stamp_ns > BLINK_MARGIN_S * 1e9:
                    break
                earlier.blink = True
        eyes_busy = blink or (stamp_ns - track.last_blink_ns) * 1e-9 <= BLINK_MARGIN_S
        sample = _Sample(stamp_ns, face.crop, region_boxes(face.points, face.interocular_px, face.crop.shape[0]),
                         face.interocular_px, eyes_busy)
        au = None
        if action_units is not None:
            track.au_numbers = tuple(action_units.au_numbers)
            au = np.asarray(action_units.intensities, dtype=np.float64)
        reference = track.frozen or self._sliding_reference(track, stamp_ns)
        track.samples.append(sample)
        self._trim(track, stamp_ns)
        if reference is None:
            return []
        motion = region_motion(self._flow(reference.crop, sample.crop), reference.regions)
        magnitude = np.linalg.norm(channel_motion(motion), axis=1)
        if track.noise is None:
            track.noise = np.maximum(magnitude, MIN_NOISE_PX)
        z = magnitude / track.noise
        eye_z, brow_z = z[_EYE_MASK].max(), z[_BROW_MASK].max()
        # an eyelid moving much more than the brows is a blink starting before the eye aspect ratio shows it
        lids_dominate = eye_z >= self.config.threshold_sigma and eye_z > LID_DOMINANCE * brow_z
        brows_unreliable = eyes_busy or reference.blink or lids_dominate
        allowed = ~_EYE_MASK & ~(_BROW_MASK if brows_unreliable else np.zeros_like(_BROW_MASK))
        # a disturbance of the whole face (a blink shifting the mesh, a fast head shift) raises every channel;
        # only what a channel rises above that common level counts
        common = max(0.0, float(np.median(z[~_EYE_MASK])) - 1.0)
        candidate = float(z[allowed].max()) - common
        track.history.append(_Record(stamp_ns, z, motion, candidate, brows_unreliable, au, common))
        warm = (stamp_ns - track.first_ns) * 1e-9 >= self.config.warmup_s
        if track.frozen is None:
            self._learn_noise(track, magnitude, z, stamp_ns)
            if warm and candidate >= self.config.threshold_sigma:
                track.frozen = reference
                track.detected_ns = stamp_ns
                track.below_since_ns = None
                track.peak_z = 0.0
                track.level = None
                track.raw_below_ns = None
                track.active = allowed & (z - common >= self.config.threshold_sigma)
            return []
        return self._follow(face_id, track, stamp_ns)

    def _blink(self, track: _Track, face: AlignedFace, action_units: ActionUnits | None) -> bool:
        ear = eye_aspect_ratio(face.points)
        blink = track.ear_baseline is not None and ear < self.config.blink_ear_ratio * track.ear_baseline
        if action_units is not None and BLINK_AU in action_units.au_numbers:
            index = list(action_units.au_numbers).index(BLINK_AU)
            blink = blink or float(action_units.intensities[index]) >= 0.5
        if not blink:
            track.ear_baseline = ear if track.ear_baseline is None else 0.9 * track.ear_baseline + 0.1 * ear
        return blink

    def _sliding_reference(self, track: _Track, stamp_ns: int) -> _Sample | None:
        target = stamp_ns - int(self.config.flow_offset_s * 1e9)
        # a frame taken during a blink would make every later frame look like an eye opening
        usable = [sample for sample in track.samples if sample.stamp_ns >= track.floor_ns and not sample.blink]
        if not usable:
            return None
        older = [sample for sample in usable if sample.stamp_ns <= target]
        return older[-1] if older else usable[0]

    def _trim(self, track: _Track, stamp_ns: int) -> None:
        keep_samples = int((self.config.flow_offset_s + 0.1) * 1e9)
        while len(track.samples) > 2 and stamp_ns - track.samples[1].stamp_ns > keep_samples:
            track.samples.popleft()
        keep_history = int((self.config.max_event_s + self.config.flow_offset_s + 1.0) * 1e9)
        while track.history and stamp_ns - track.history[0].stamp_ns > keep_history:
            track.history.popleft()

    def _learn_noise(self, track: _Track, magnitude: np.ndarray, z: np.ndarray, stamp_ns: int) -> None:
        if len(track.history) < 2:
            return
        assert track.noise is not None  # set from the first compared frame, before anything is learnt
        dt = (stamp_ns - track.history[-2].stamp_ns) * 1e-9
        track.noise_updates += 1
        # a plain running mean until the time constant is reached, so the first frames do not dominate
        alpha = max(1.0 - np.exp(-max(dt, 0.0) / self.config.noise_time_constant_s), 1.0 / track.noise_updates)
        # outliers (the start of a slow movement) enter at most at twice the current level
        clipped = np.minimum(magnitude, 2.0 * track.noise)
        track.noise = np.maximum((1 - alpha) * track.noise + alpha * clipped, MIN_NOISE_PX)

    def _follow(self, face_id: str, track: _Track, stamp_ns: int) -> list[MicroExpressionEvent]:
        c = self.config
        current = track.history[-1]
        assert track.active is not None  # set when the event started
        if not current.blink:
            track.active |= (current.z - current.common >= c.threshold_sigma) & ~_EYE_MASK
        # only the channels that moved decide when the movement is over: the maximum of all the others
        # would keep crossing a low level by chance
        level = _event_level(current.z, track.active)
        track.peak_z = max(track.peak_z, level)
        edge = max(c.low_sigma, c.edge_fraction * track.peak_z)
        # the end is judged on a lightly smoothed level, so single noisy frames (many at 100-200 fps) do not
        # keep an event open
        dt = (stamp_ns - track.history[-2].stamp_ns) * 1e-9 if len(track.history) > 1 else 0.0
        alpha = 1.0 - np.exp(-dt / END_SMOOTHING_S) if track.level is not None else 1.0
        track.level = level if track.level is None else (1 - alpha) * track.level + alpha * level
        if level >= edge:
            track.raw_below_ns = None
        elif track.raw_below_ns is None:
            track.raw_below_ns = stamp_ns
        if track.level < edge:
            if track.below_since_ns is None:
                # the offset is where the raw signal went down, not where the smoothed one followed
                raw = track.raw_below_ns if track.raw_below_ns is not None else stamp_ns
                # never so far back that the delay bound (window_s after the offset) is already past
                track.below_since_ns = max(raw, stamp_ns - int(c.window_s * 1e9))
        else:
            track.below_since_ns = None
        ended = track.below_since_ns is not None and (stamp_ns - track.below_since_ns) * 1e-9 >= c.window_s
        forced = (stamp_ns - track.detected_ns) * 1e-9 >= c.max_event_s
        if not (ended or forced):
            return []
        offset_ns = track.below_since_ns if ended and track.below_since_ns is not None else stamp_ns
        event = self._make_event(face_id, track, offset_ns, edge, stamp_ns)
        track.frozen = None
        track.below_since_ns = None
        # the next reference is a frame after this event settled, never one from its tail
        track.floor_ns = stamp_ns
        return [event] if event is not None else []

    def _make_event(self, face_id: str, track: _Track, offset_ns: int, edge: float,
                    emitted_ns: int) -> MicroExpressionEvent | None:
        c = self.config
        history = list(track.history)
        detected = next(i for i, r in enumerate(history) if r.stamp_ns >= track.detected_ns)
        onset = detected
        active = track.active
        assert active is not None  # set when the event started
        while onset > 0 and _event_level(history[onset - 1].z, active) >= edge \
                and history[onset - 1].stamp_ns >= track.floor_ns:
            onset -= 1
        onset_ns = history[onset].stamp_ns
        inside = [r for r in history[detected:] if r.stamp_ns < offset_ns] or [history[detected]]
        apex = max(inside, key=lambda r: r.z[active].max())
        margin_ns = int(BLINK_MARGIN_S * 1e9)
        near_blink = any(r.blink for r in history if onset_ns - margin_ns <= r.stamp_ns <= offset_ns + margin_ns)
        below_eyes = np.max([r.z - r.common for r in inside], axis=0)[~_EYE_MASK & ~_BROW_MASK]
        if near_blink and not (below_eyes >= c.threshold_sigma).any():
            return None  # brow motion next to a blink: the eyelid pulling on the brow, not an expression
        moved_names = {r for i in np.flatnonzero(active) for r in CHANNEL_REGIONS[i]}
        moved = np.array([name in moved_names for name in REGION_NAMES])
        regions = tuple(name for name in REGION_NAMES if name in moved_names)
        interocular = track.samples[-1].interocular_px
        peak_motion = np.max([np.linalg.norm(r.motion, axis=1) for r in inside], axis=0)
        intensity = float(min(1.0, peak_motion[moved].max() / (FULL_SCALE_DISPLACEMENT * interocular)))
        duration_s = (offset_ns - onset_ns) * 1e-9
        frame_s = (history[-1].stamp_ns - history[-2].stamp_ns) * 1e-9 if len(history) > 1 else 0.0
        if duration_s + frame_s < MIN_EVENT_S:
            return None  # shorter than any facial movement: a noise spike
        kind = "MICRO" if duration_s <= c.micro_max_s and intensity < c.macro_intensity else "MACRO"
        confidence = float(1.0 - 0.5 * np.exp(-(track.peak_z - c.threshold_sigma) / c.threshold_sigma))
        return MicroExpressionEvent(
            face_id=face_id, onset_ns=int(onset_ns), apex_ns=int(apex.stamp_ns), offset_ns=int(offset_ns),
            type=kind, regions=regions,
            action_units=self._moved_action_units(track, history, onset, inside, moved, apex),
            intensity=intensity, confidence=min(max(confidence, 0.0), 1.0), emitted_ns=int(emitted_ns))

    def _moved_action_units(self, track: _Track, history: list[_Record], onset: int, inside: list[_Record],
                            moved: np.ndarray, apex: _Record) -> tuple[int, ...]:
        if apex.au is not None and track.au_numbers:
            before = [r.au for r in history[max(0, onset - 3):onset + 1] if r.au is not None]
            during = [r.au for r in inside if r.au is not None]
            if before and during:
                rise = np.max(during, axis=0) - np.mean(before, axis=0)
                moved_units = tuple(n for n, d in zip(track.au_numbers, rise) if d >= self.config.au_delta
                                    and n != BLINK_AU)
                if moved_units:
                    return moved_units
        # no action units given, or none rose enough (small movements barely move the blendshapes)
        units: set[int] = set()
        for i in np.flatnonzero(moved):
            units.update(_direction_action_units(REGION_NAMES[i], apex.motion[i]))
        return tuple(sorted(units))
