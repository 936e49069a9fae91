"""The spotter on a talking face, and the sub-pixel refinement of the eye and lower-face regions."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fea_ros.core.config import MieConfig
from fea_ros.mie import spotter as spotter_module
from fea_ros.mie.flow import BoxRefiner, FlowEstimator
from fea_ros.mie.speech import SPEECH_LEVEL, LipActivity
from fea_ros.mie.synthetic import Movement

from test_mie_spotter import astronaut_mesh, make_clip, run_spotter, seconds  # noqa: F401

LIPS = {"upper_lip", "lower_lip"}


def talking(start: float, end: float, rng: np.random.Generator) -> list[Movement]:
    """Lip movements at syllable rate (about 3 per second), of varying size."""
    movements, t = [], start
    while t < end:
        length = float(rng.uniform(0.18, 0.3))
        amplitude = float(rng.uniform(1.5, 3.5))
        movements.append(Movement("lip_press", t, t + 0.45 * length, t + length, amplitude, "MICRO"))
        t += length + float(rng.uniform(0.03, 0.12))
    return movements


def lip_events(events, start: float, end: float):
    return [e for e in events if start <= seconds(e)[0] <= end and set(e.regions) & LIPS]


def test_lips_moving_while_talking_start_no_event_but_a_lip_press_at_rest_does(astronaut_mesh):
    # talking from the start, as a face usually is when it is first seen
    speech = talking(0.3, 4.4, np.random.default_rng(7))
    press = Movement("lip_press", 6.4, 6.55, 6.75, 3.0, "MICRO")
    frames = make_clip(astronaut_mesh, 30.0, 7.6, speech + [press])
    events = run_spotter(frames, 30.0)
    ungated = run_spotter(frames, 30.0, MieConfig(speech_share=0.0))
    summary = [(seconds(e), e.type, e.regions) for e in events]
    # without the speech check some of the syllables are reported as lip presses: the check is what stops them
    assert lip_events(ungated, 0.3, 4.6), [(seconds(e), e.type, e.regions) for e in ungated]
    assert not lip_events(events, 0.3, 4.6), summary
    found = lip_events(events, 6.2, 6.8)
    assert len(found) == 1 and found[0].type == "MICRO", summary


def test_a_lip_press_at_rest_is_found_at_a_low_frame_rate(astronaut_mesh):
    # at 12 fps the press's own rise is two of the last second's 13 frames at rest: counted as speech it would
    # have made a still face "talking" and the press would never start (as it did before the share left out
    # the frames after the reference)
    press = Movement("lip_press", 3.0, 3.2, 3.4, 2.0, "MICRO")
    frames = make_clip(astronaut_mesh, 12.0, 4.5, [press])
    events = run_spotter(frames, 12.0)
    found = lip_events(events, 2.8, 3.5)
    assert len(found) == 1 and found[0].type == "MICRO", [(seconds(e), e.type, e.regions) for e in events]


def test_lip_activity_reads_the_second_up_to_the_given_time():
    lips = LipActivity(keep_s=2.0)
    ms = 1_000_000
    for i in range(60):  # 30 fps, lips moving in the 10 frames from 1.0 s on
        lips.add(i * 33 * ms, SPEECH_LEVEL + 1.0 if 30 <= i < 40 else 0.0)
    assert lips.share(29 * 33 * ms) == 0.0  # the movement comes after the window
    assert lips.share(39 * 33 * ms) == pytest.approx(10 / 31)  # 31 frames of 33 ms cover 0.99 s
    assert lips.share(-5 * ms) == 0.0  # no frames yet: not talking
    with pytest.raises(ValueError, match="not after the last one"):
        lips.add(10 * 33 * ms, 0.0)


def test_lip_activity_forgets_frames_older_than_it_keeps():
    lips = LipActivity(keep_s=1.5)
    ms = 1_000_000
    for i in range(100):  # 10 fps for 10 s, lips moving in the first second only
        lips.add(i * 100 * ms, SPEECH_LEVEL if i < 10 else 0.0)
    assert lips.share(900 * ms) == 0.0  # gone: only the last 1.5 s are kept
    assert lips.share(9_900 * ms) == 0.0


def test_a_small_upper_lid_raise_is_found_through_the_full_resolution_refinement(astronaut_mesh, monkeypatch):
    # 0.6 px at an inter-ocular distance of 75 px: about 0.35 px in the spotter's crop (the half-resolution flow
    # alone finds a raise from about 0.65 px here)
    lid = Movement("upper_lid_raise", 1.8, 1.95, 2.15, 0.6, "MICRO")
    frames = make_clip(astronaut_mesh, 30.0, 3.0, [lid])
    events = run_spotter(frames, 30.0)
    assert len(events) == 1 and events[0].type == "MICRO", [(seconds(e), e.regions) for e in events]
    assert {"lid_left", "lid_right"} & set(events[0].regions)
    # the half-resolution flow alone does not see it cross the threshold (it does keep it above SUSTAIN_FRACTION
    # of it for long enough, the sustained start: test_mie_spotter_round2.py)
    monkeypatch.setattr(spotter_module, "SUSTAIN_FRACTION", 1.0)
    monkeypatch.setattr(BoxRefiner, "__call__", lambda self, reference, current, flow, boxes: np.zeros((len(boxes), 2)))
    assert run_spotter(frames, 30.0) == []


def test_a_small_one_sided_lip_corner_pull_is_found_through_the_full_resolution_refinement(astronaut_mesh,
                                                                                          monkeypatch):
    # 1 px at an inter-ocular distance of 75 px, one side: about 0.6 px in the crop, in part of one box
    pull = Movement("lip_corner_pull", 1.8, 1.9, 2.05, 1.0, "MICRO", side="left")
    frames = make_clip(astronaut_mesh, 30.0, 3.0, [pull])
    events = run_spotter(frames, 30.0)
    assert len(events) == 1 and events[0].type == "MICRO", [(seconds(e), e.regions) for e in events]
    assert "mouth_corner_left" in events[0].regions
    assert 1.7 <= seconds(events[0])[0] <= 1.9 and 1.95 <= seconds(events[0])[1] <= 2.15, seconds(events[0])
    monkeypatch.setattr(BoxRefiner, "__call__", lambda self, reference, current, flow, boxes: np.zeros((len(boxes), 2)))
    assert run_spotter(frames, 30.0) == []


def test_box_refiner_recovers_a_sub_pixel_translation_at_full_resolution(astronaut_mesh):
    photo, _ = astronaut_mesh
    grey = cv2.resize(cv2.cvtColor(photo[60:260, 130:330], cv2.COLOR_BGR2GRAY), (128, 128),
                      interpolation=cv2.INTER_AREA)
    boxes = np.array([[40, 40, 60, 52], [70, 80, 100, 100]])
    assert np.abs(BoxRefiner()(grey, grey, np.zeros((128, 128, 2), np.float32), boxes)).max() < 1e-9
    for shift in ((0.3, -0.2), (-0.6, 0.45)):
        moved = cv2.warpAffine(grey, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (128, 128),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        # one linear step from no flow at all recovers the shift ...
        from_zero = BoxRefiner()(grey, moved, np.zeros((128, 128, 2), np.float32), boxes)
        assert np.abs(from_zero - shift).max() < 0.2, from_zero
        # ... and after DIS it keeps the flow's mean near it (on a uniform shift DIS alone is closer)
        flow = FlowEstimator()(grey, moved)
        means = np.array([flow[y0:y1, x0:x1].reshape(-1, 2).mean(0) for x0, y0, x1, y1 in boxes])
        refined = means + BoxRefiner()(grey, moved, flow, boxes)
        assert np.abs(refined - shift).max() < 0.12, (means, refined)


def test_box_refiner_at_the_crop_edge_and_on_boxes_without_texture():
    boxes = np.array([[0, 0, 20, 12], [100, 110, 128, 128]])  # touching the crop's edges
    texture = cv2.GaussianBlur((np.random.default_rng(0).random((128, 128)) * 255).astype(np.uint8), (0, 0), 1.5)
    moved = cv2.warpAffine(texture, np.float32([[1, 0, 0.3], [0, 1, -0.2]]), (128, 128), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    no_flow = np.zeros((128, 128, 2), np.float32)
    assert np.abs(BoxRefiner()(texture, moved, no_flow, boxes) - (0.3, -0.2)).max() < 0.2
    flat = np.full((128, 128), 100, np.uint8)
    corrections = BoxRefiner()(flat, flat, no_flow, boxes)
    assert np.isfinite(corrections).all() and np.abs(corrections).max() == 0.0
    with pytest.raises(ValueError, match="damping must be > 0"):
        BoxRefiner(damping=0.0)
