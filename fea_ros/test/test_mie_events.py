"""Event intervals built from the spotter's history."""
from __future__ import annotations

import numpy as np

from fea_ros.core.config import MieConfig
from fea_ros.mie.alignment import FaceAligner
from fea_ros.mie.events import make_event
from fea_ros.mie.flow import CHANNEL_NAMES, REGION_NAMES
from fea_ros.mie.track import Record, Sample, Track

FPS = 30.0
CHANNEL = CHANNEL_NAMES.index("mouth_corner_left")


def raised_cosine(t: float, onset: float, apex: float, offset: float) -> float:
    if t <= onset or t >= offset:
        return 0.0
    if t < apex:
        return 0.5 - 0.5 * np.cos(np.pi * (t - onset) / (apex - onset))
    return 0.5 + 0.5 * np.cos(np.pi * (t - apex) / (offset - apex))


def spotted_interval(onset: float, apex: float, offset: float, peak: float = 8.0) -> tuple[float, float]:
    """The event make_event builds for one movement of one channel sampled at FPS, ended as the spotter ends it."""
    config = MieConfig()
    track = Track(FaceAligner(config.crop_px), 0)
    track.samples.append(Sample(0, np.zeros((config.crop_px, config.crop_px), np.uint8), None, 60.0))
    edge = max(config.low_sigma, config.edge_fraction * peak)
    detected = below = None
    for i in range(int(2 * FPS)):
        stamp_ns = int(round(i * 1e9 / FPS))
        z = np.zeros(len(CHANNEL_NAMES))
        z[CHANNEL] = peak * raised_cosine(i / FPS, onset, apex, offset)
        track.history.append(Record(stamp_ns, z, np.zeros((len(REGION_NAMES), 2)), float(z[CHANNEL]), False, None))
        if detected is None and z[CHANNEL] >= config.threshold_sigma:
            detected = stamp_ns
        if detected is not None and below is None and z[CHANNEL] < edge:
            below = stamp_ns  # the first frame below the edge: where the spotter closes the event
    assert detected is not None and below is not None
    track.detected_ns, track.peak_z = detected, peak * max(raised_cosine(i / FPS, onset, apex, offset)
                                                           for i in range(int(2 * FPS)))
    track.active = np.arange(len(CHANNEL_NAMES)) == CHANNEL
    track.started = track.active.copy()
    event = make_event(config, "f", track, below, edge, below + int(config.window_s * 1e9))
    assert event is not None and event.type == "MICRO"
    return event.onset_ns * 1e-9, event.offset_ns * 1e-9


def test_a_short_movement_is_not_placed_late_whatever_its_phase_against_the_frames():
    # a 0.15 s micro-expression is 4.5 frames at 30 fps: taking the frame after each crossing made its interval
    # late by up to a frame and a half (IoU below 0.5 with the truth), depending on where the frames fell
    errors = []
    for phase in np.linspace(0.0, 0.95, 20):
        onset = 1.0 + phase / FPS
        found = spotted_interval(onset, onset + 0.06, onset + 0.15)
        errors.append((found[0] - onset, found[1] - (onset + 0.15)))
    errors_ms = 1e3 * np.array(errors)
    assert np.abs(errors_ms).max() <= 20.0, errors_ms.round(1)
    assert np.abs(errors_ms.mean(axis=0)).max() <= 12.0, errors_ms.mean(axis=0)
