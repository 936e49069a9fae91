"""Building a spotted movement's MicroExpressionEvent from the face's history: its interval, apex, regions, action
units, intensity, type and confidence (docs/mie.md, steps 6, 7 and 10).
"""
from __future__ import annotations

import numpy as np

from fea_ros.core.config import MieConfig
from fea_ros.core.types import MicroExpressionEvent
from fea_ros.mie.flow import CHANNEL_NAMES, CHANNEL_REGIONS, REGION_NAMES
from fea_ros.mie.track import BLINK_AU, BLINK_MARGIN_S, BROW_MASK, EYE_MASK, Record, Track

#: intensity 1.0 = a peak regional displacement of this fraction of the inter-ocular distance
FULL_SCALE_DISPLACEMENT = 0.15
MIN_EVENT_S = 0.04  # 1/25 s, the shortest micro-expression
_X_90 = float(np.arccos(1.0 - 2.0 * 0.9) / np.pi)  # where a raised-cosine rise reaches 90 % (0.795)


def median(values: np.ndarray) -> float:
    """np.median of a short 1-D array, without its general machinery (a tenth of the time on 20 values)."""
    ordered = np.sort(values)
    n = len(ordered)
    return float(0.5 * (ordered[(n - 1) // 2] + ordered[n // 2]))


def event_level(z: np.ndarray, active: np.ndarray) -> float:
    """Largest z of the channels that moved, above the median of the others.

    Against a reference frozen for seconds, slow changes (lighting, residual head motion) raise every
    channel a little; the median of the channels that did not move measures that common drift.
    """
    others = z[~active & ~EYE_MASK]
    return float(z[active].max() - (median(others) if others.size else 0.0))


def direction_action_units(region: str, motion: np.ndarray) -> tuple[int, ...]:
    """FACS action units suggested by the direction a region moved (crop y grows downwards)."""
    dx, dy = motion
    vertical_up = dy < 0 and abs(dy) >= 0.5 * abs(dx)
    if region.startswith("brow"):
        return (1, 2) if dy < 0 else (4,)
    if region.startswith(("lid", "eye")):
        return (5,) if vertical_up else ()
    if region.startswith("nose"):
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


def make_event(config: MieConfig, face_id: str, track: Track, offset_ns: int, edge: float,
               emitted_ns: int) -> MicroExpressionEvent | None:
    """The event that ended at ``offset_ns``, from the track's history; None for a noise spike or a lid's pull."""
    c = config
    history = list(track.history)
    detected = next(i for i, r in enumerate(history) if r.stamp_ns >= track.detected_ns)
    onset = detected
    active = track.active if track.active is not None else np.zeros(len(CHANNEL_NAMES), dtype=bool)
    while onset > 0 and event_level(history[onset - 1].z, active) >= edge \
            and history[onset - 1].stamp_ns >= track.floor_ns:
        onset -= 1
    onset_ns = history[onset].stamp_ns
    # the frame before the onset, when it belongs to this movement's reference (not before the floor)
    first = onset - 1 if onset > 0 and history[onset - 1].stamp_ns >= track.floor_ns else onset
    if first < onset and event_level(history[onset].z, active) >= edge:
        # the level crossed the edge between the frame below it and the first one above it (a frame detected
        # below the edge, possible when a large peak raises the edge, has no crossing before it)
        onset_ns = crossing(history[first], history[onset], edge, active)
    inside = [r for r in history[detected:] if r.stamp_ns < offset_ns] or [history[detected]]
    onset_ns, offset_ns = extrapolate(history[first:], onset_ns, offset_ns, edge, track, active, emitted_ns)
    apex = max(inside, key=lambda r: r.z[active].max())
    margin_ns = int(BLINK_MARGIN_S * 1e9)
    near_blink = any(r.blink for r in history if onset_ns - margin_ns <= r.stamp_ns <= offset_ns + margin_ns)
    excess = [r.z - r.common for r in inside]
    below_eyes = np.max(excess, axis=0)[~EYE_MASK & ~BROW_MASK]
    # as the start judged them: near a blink a brow going down needed BLINK_BROW_FACTOR x (Record.scale)
    brows = np.max([e / (r.scale if r.scale is not None else 1.0) for e, r in zip(excess, inside)],
                   axis=0)[BROW_MASK]
    started_by_lids = bool((track.started & EYE_MASK).any())
    if near_blink and not started_by_lids and not (below_eyes >= c.threshold_sigma).any() \
            and not (brows >= c.threshold_sigma).any():
        return None  # small brow motion next to a blink: the eyelid pulling on the brow, not an expression
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
        action_units=moved_action_units(c, track, history, onset, inside, moved, apex),
        intensity=intensity, confidence=min(max(confidence, 0.0), 1.0), emitted_ns=int(emitted_ns))


def crossing(before: Record, after: Record, level: float, active: np.ndarray) -> int:
    """When the event level passed ``level`` between two frames, linearly interpolated (ns).

    Taking the frame after each crossing instead put onsets and offsets late (by a frame in the median on the
    benchmark at 30 fps, where the shortest micro-expressions are 3 frames long).
    """
    low, high = event_level(before.z, active), event_level(after.z, active)
    share = float(np.clip((level - low) / (high - low), 0.0, 1.0)) if high != low else 1.0
    return before.stamp_ns + int(round(share * (after.stamp_ns - before.stamp_ns)))


def extrapolate(records: list[Record], onset_ns: int, offset_ns: int, edge: float, track: Track,
                active: np.ndarray, emitted_ns: int) -> tuple[int, int]:
    """Onset and offset moved out to where the movement left and re-joined rest.

    The signal crosses ``edge`` some way into the rise (and before the end of the fall), so the measured
    interval is shorter than the movement. Facial movements rise and fall smoothly; for a raised-cosine
    profile the time from rest to the edge is a known fraction of the time from the edge to 90 % of the
    peak, which is measured. ``records`` start at the frame before the onset (when it is not before the
    floor); every crossing is interpolated between frames.
    """
    peak = track.peak_z
    inside = [r for r in records if r.stamp_ns <= offset_ns]
    if peak <= 0 or not inside:
        return onset_ns, offset_ns
    levels = [event_level(r.z, active) for r in inside]
    end = len(inside) - 1
    if end > 0 and inside[end].stamp_ns == offset_ns and levels[end] < edge <= levels[end - 1]:
        # the event ended between the last frame above the edge and the first one below it
        offset_ns = crossing(inside[end - 1], inside[end], edge, active)
    fraction = float(np.clip(edge / peak, 0.02, 0.6))
    x_edge = float(np.arccos(1.0 - 2.0 * fraction) / np.pi)
    ratio = x_edge / (_X_90 - x_edge)
    high = [i for i, level in enumerate(levels) if level >= 0.9 * peak]
    if not high:
        return onset_ns, offset_ns
    first, last = high[0], high[-1]
    rise_ns = crossing(inside[first - 1], inside[first], 0.9 * peak, active) if first > 0 \
        else inside[first].stamp_ns
    fall_ns = crossing(inside[last], inside[last + 1], 0.9 * peak, active) if last < end \
        else inside[last].stamp_ns
    new_onset = onset_ns - int(ratio * max(rise_ns - onset_ns, 0))
    new_offset = offset_ns + int(ratio * max(offset_ns - fall_ns, 0))
    return max(new_onset, track.floor_ns), min(new_offset, emitted_ns)


def moved_action_units(config: MieConfig, track: Track, history: list[Record], onset: int, inside: list[Record],
                       moved: np.ndarray, apex: Record) -> tuple[int, ...]:
    """The action units that rose by ``au_delta`` during the event, else those its regions' directions suggest."""
    if apex.au is not None and track.au_numbers:
        before = [r.au for r in history[max(0, onset - 3):onset + 1] if r.au is not None]
        during = [r.au for r in inside if r.au is not None]
        if before and during:
            rise = np.max(during, axis=0) - np.mean(before, axis=0)
            moved_units = tuple(n for n, d in zip(track.au_numbers, rise) if d >= config.au_delta
                                and n != BLINK_AU)
            if moved_units:
                return moved_units
    # no action units given, or none rose enough (small movements barely move the blendshapes)
    units: set[int] = set()
    for i in np.flatnonzero(moved):
        units.update(direction_action_units(REGION_NAMES[i], apex.motion[i]))
    return tuple(sorted(units))
