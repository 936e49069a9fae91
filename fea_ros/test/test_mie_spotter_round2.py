"""The spotter near blinks, on one side of the face, on faces cut by the image edge, and with close movements."""
from __future__ import annotations

import numpy as np
import pytest

from fea_ros.core.config import MieConfig
from fea_ros.core.types import Landmarks
from fea_ros.mie import spotter as spotter_module
from fea_ros.mie.alignment import FaceAligner, outside_fraction
from fea_ros.mie.blinks import along_start, blink_scale
from fea_ros.mie.evaluation import interval_iou
from fea_ros.mie.flow import CHANNEL_NAMES, similarity_residual
from fea_ros.mie.spotter import MieSpotter
from fea_ros.mie.synthetic import Movement, eye_opening
from fea_ros.mie.track import BLINK_BROW_FACTOR, Track, unit_rows

from test_mie_spotter import INTEROCULAR, astronaut_mesh, make_clip, run_spotter, seconds  # noqa: F401


def blink_at(mesh: np.ndarray, t: float) -> Movement:
    iod = np.linalg.norm(mesh[[362, 263]].mean(0) - mesh[[33, 133]].mean(0))
    return Movement("blink", t, t + 0.1, t + 0.28, 0.9 * eye_opening(mesh) * INTEROCULAR / iod)


def summary(events):
    return [(seconds(e), e.type, e.regions) for e in events]


def test_brow_lowering_and_lid_raise_starting_next_to_a_blink_are_found(astronaut_mesh):
    _, mesh = astronaut_mesh
    brow = Movement("brow_lower", 1.6, 1.75, 1.95, 3.0, "MICRO")
    lid = Movement("upper_lid_raise", 3.2, 3.5, 4.4, 3.0, "MACRO", hold_s=0.3)
    # the lid rises as the blink before it reopens (a blink relaxes the lid's raiser: synthetic_plan.py)
    movements = [brow, blink_at(mesh, 1.55), lid, blink_at(mesh, 2.97)]
    events = run_spotter(make_clip(astronaut_mesh, 30.0, 5.2, movements), 30.0)
    assert len(events) == 2, summary(events)
    first, second = sorted(events, key=lambda e: e.onset_ns)
    assert first.type == "MICRO" and interval_iou(seconds(first), (1.6, 1.95)) >= 0.5, summary(events)
    assert set(first.regions) & {"brow_left", "brow_right"} and 4 in first.action_units
    assert interval_iou(seconds(second), (3.2, 4.4)) >= 0.5, summary(events)
    assert set(second.regions) & {"eye_left", "eye_right"}


def test_a_one_sided_movement_is_found(astronaut_mesh):
    pull = Movement("lip_corner_pull", 1.8, 1.95, 2.2, 3.0, "MICRO", side="left")
    events = run_spotter(make_clip(astronaut_mesh, 30.0, 3.2, [pull]), 30.0)
    assert len(events) == 1 and events[0].type == "MICRO", summary(events)
    assert "mouth_corner_left" in events[0].regions and interval_iou(seconds(events[0]), (1.8, 2.2)) >= 0.5


def test_a_second_movement_in_the_slow_decay_of_the_first_is_its_own_event(astronaut_mesh):
    # the first movement falls for 2 s; the second starts while the first is still at a quarter of its peak
    first = Movement("lip_corner_pull", 1.5, 1.8, 4.2, 8.0, "MACRO")
    second = Movement("brow_raise", 3.3, 3.55, 3.8, 3.5, "MICRO")
    events = run_spotter(make_clip(astronaut_mesh, 30.0, 5.5, [first, second]), 30.0)
    kinds = sorted(summary(events))
    assert len(events) == 2, kinds
    early, late = sorted(events, key=lambda e: e.onset_ns)
    assert early.type == "MACRO" and interval_iou(seconds(early), (1.5, 4.2)) >= 0.5, kinds
    assert interval_iou(seconds(late), (3.3, 3.8)) >= 0.5 and set(late.regions) & {"brow_left", "brow_right"}, kinds


def test_an_event_cut_at_the_length_cap_rearms_at_once(astronaut_mesh):
    config = MieConfig(max_event_s=1.5)
    held = Movement("lip_corner_pull", 1.2, 1.4, 4.6, 8.0, "MACRO", hold_s=2.9)
    micro = Movement("brow_raise", 3.4, 3.55, 3.8, 4.0, "MICRO")
    events = run_spotter(make_clip(astronaut_mesh, 30.0, 5.5, [held, micro]), 30.0, config)
    capped = [e for e in events if (e.offset_ns - e.onset_ns) * 1e-9 >= config.max_event_s - 0.1]
    assert capped and seconds(capped[0])[0] < 1.5, summary(events)
    assert any(interval_iou(seconds(e), (3.4, 3.8)) >= 0.3 for e in events), summary(events)


def test_a_face_cut_by_the_image_edge_is_not_measured(astronaut_mesh):
    # the same movement, but the face slides so that a third of it is outside the image
    macro = Movement("lip_corner_pull", 1.6, 2.0, 2.8, 8.0, "MACRO")
    frames = make_clip(astronaut_mesh, 30.0, 3.5, [macro])
    spotter = MieSpotter(MieConfig())
    events = []
    for i, (image, points) in enumerate(frames):
        shift = int(image.shape[1] * 0.45)
        cut = np.zeros_like(image)
        cut[:, shift:] = image[:, :-shift]
        mesh = np.zeros((points.shape[0], 3))
        mesh[:, :2] = points + [shift, 0]
        assert outside_fraction(mesh, cut.shape) > MieConfig().max_outside_fraction
        events += spotter.update("f", int(round(i * 1e9 / 30)), cut, Landmarks(mesh, 1.0, mesh[:68, :2]))
    assert events == [] and spotter.face_ids == ()


def test_the_way_back_of_a_movement_below_the_threshold_is_not_an_event(astronaut_mesh):
    # each movement stays just under the threshold against a reference from before it, but against the sliding
    # reference taken at its apex its way back to rest crosses it; frozen there, the event used to stay open
    # until max_event_s (a 4 s MACRO after a 0.4 s movement). The reference must be a frame at rest.
    for action, amplitude in (("lip_corner_pull", 1.1), ("lip_press", 0.7)):
        movement = Movement(action, 1.8, 2.0, 2.2, amplitude, "MICRO")
        events = run_spotter(make_clip(astronaut_mesh, 30.0, 6.5, [movement]), 30.0)
        assert all((e.offset_ns - e.onset_ns) * 1e-9 < 1.0 for e in events), (action, summary(events))
        assert all(seconds(e)[0] < 2.2 for e in events), (action, summary(events))


def test_a_small_lowering_of_both_brows_is_judged_against_the_rest_of_the_face(astronaut_mesh, monkeypatch):
    # AU4 of both brows, 0.55 px: four regions move at once and a similarity fitted over all regions reads much
    # of it as the face sliding; fitted without the brows it is not
    lower = Movement("brow_lower", 1.8, 1.9, 2.05, 0.55, "MICRO")
    frames = make_clip(astronaut_mesh, 30.0, 3.0, [lower])
    events = run_spotter(frames, 30.0)
    assert len(events) == 1 and events[0].type == "MICRO", summary(events)
    assert {"brow_right", "brow_left"} <= set(events[0].regions)
    assert interval_iou(seconds(events[0]), (1.8, 2.05)) >= 0.5, summary(events)
    # the same clip judged against a whole-face similarity for every part (the earlier start check)
    monkeypatch.setattr(spotter_module, "similarity_residual",
                        lambda motion, centres, fit=None: similarity_residual(motion, centres))
    assert run_spotter(frames, 30.0) == []


def test_near_a_blink_only_a_brow_that_went_up_before_and_after_the_lid_pull_was_removed_has_the_plain_threshold():
    # a closing lid drags the brow above it down: a brow that went up before and after the lid's pull was taken
    # out is the brow's own raise; one that only went up after the subtraction, or went down, may be the pull
    channels = len(CHANNEL_NAMES)
    raw, corrected = np.zeros((channels, 2)), np.zeros((channels, 2))
    brow, inner, other_brow = (CHANNEL_NAMES.index(n) for n in ("brow_right", "inner_brows", "brow_left"))
    raw[brow], corrected[brow] = (0.1, -0.8), (0.1, -1.0)  # up in both: an AU1+2
    raw[inner], corrected[inner] = (0.0, 0.3), (0.0, -0.4)  # up only once the lid's pull was subtracted
    raw[other_brow], corrected[other_brow] = (0.0, 0.9), (0.0, 0.5)  # down: the pull, or an AU4
    scale = blink_scale(raw, corrected)
    assert scale[brow] == 1.0
    assert scale[inner] == scale[other_brow] == BLINK_BROW_FACTOR
    # channels below the eyes keep the plain threshold whatever their direction
    assert scale[CHANNEL_NAMES.index("chin")] == 1.0 and scale[CHANNEL_NAMES.index("nose")] == 1.0


@pytest.mark.parametrize("fps", [30.0, 100.0])  # SUSTAIN_S is a time: two frames at 30 fps, four at 100 fps
def test_a_small_lid_raise_that_stays_just_below_the_threshold_is_found(astronaut_mesh, monkeypatch, fps):
    # about 0.8 px: its eye channels stay above SUSTAIN_FRACTION of the threshold for several frames, never above it
    lid = Movement("upper_lid_raise", 1.6, 1.75, 1.95, 0.4, "MICRO")
    frames = make_clip(astronaut_mesh, fps, 3.0, [lid])
    events = run_spotter(frames, fps)
    assert len(events) == 1 and events[0].type == "MICRO", summary(events)
    assert interval_iou(seconds(events[0]), (1.6, 1.95)) >= 0.5 and 5 in events[0].action_units, summary(events)
    assert set(events[0].regions) <= {"eye_left", "eye_right", "lid_left", "lid_right"}, summary(events)
    assert run_spotter(make_clip(astronaut_mesh, fps, 3.0, []), fps) == []  # the same head motion, no raise
    monkeypatch.setattr(spotter_module, "SUSTAIN_FRACTION", 1.0)  # the single-frame threshold alone
    assert run_spotter(frames, fps) == []


def test_as_a_brow_raise_decays_a_blink_neither_drags_it_down_nor_keeps_it_up():
    up = np.array([[0.0, -1.0], [0.0, -1.0], [0.0, -1.0]])  # each channel started going up (crop y grows down)
    # 0: the brow back at rest, the lid dragging it down in DIS's flow and the subtraction overshooting upwards;
    # 1: the brow still well up in both; 2: a sideways drift
    raw = np.array([[0.0, 0.5], [0.1, -1.5], [0.8, 0.0]])
    corrected = np.array([[0.0, -0.4], [0.0, -2.0], [0.8, -0.1]])
    assert np.allclose(along_start(raw, corrected, up), [0.0, 1.5, 0.0])


def test_a_channel_joining_a_movement_keeps_the_direction_it_joined_in():
    # a brow that crosses the threshold only after the movement started (the other side of a brow raise) must be
    # judged along its own rise as a blink decays, not along whatever noise it had when the movement started
    track = Track(FaceAligner(64), 0)
    channels = len(CHANNEL_NAMES)
    started, later = CHANNEL_NAMES.index("brows"), CHANNEL_NAMES.index("brow_left")
    at_start = np.zeros((channels, 2))
    at_start[started], at_start[later] = (0.0, -2.0), (0.3, 0.1)
    track.active = np.eye(channels, dtype=bool)[started]
    track.direction = unit_rows(at_start)
    now = np.zeros((channels, 2))
    now[started], now[later] = (0.0, 0.5), (0.0, -3.0)  # the first one's direction is kept, the new one's taken
    track.join(np.eye(channels, dtype=bool)[later], now)
    assert track.active[started] and track.active[later] and track.active.sum() == 2
    assert np.allclose(track.direction[started], (0.0, -1.0)) and np.allclose(track.direction[later], (0.0, -1.0))
