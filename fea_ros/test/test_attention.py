"""Gaze, looking-at-the-camera and REP-155 engagement, on the real networks and on scripted looks."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import pytest

from core_scenes import Placement, render
from fea_ros.core.attention import (DISENGAGED, DISENGAGING, ENGAGED, ENGAGING, EngagementMachine,
                                    LookingFilter, check_config)
from fea_ros.core.config import AttentionConfig, PipelineConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.pipeline import Pipeline
from fea_ros.core.types import FaceResult, Frame

#: FaceMesh eye-opening contours (person's right, left)
RIGHT_EYE_CONTOUR = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
LEFT_EYE_CONTOUR = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
FRAME_NS = 33_333_333


@lru_cache(maxsize=2)
def pipeline(mesh: str = "v2") -> Pipeline:
    config = PipelineConfig()
    config.mie.enabled = False
    config.landmarks.model = mesh
    config.blendshapes = mesh == "v2"
    config.attention.look_on_s = 0.0  # decide on every frame: these tests are about the angle
    return Pipeline(config)


def face_in(image: np.ndarray, mesh: str = "v2", frames: int = 3) -> FaceResult:
    run = pipeline(mesh)
    run.reset()
    for index in range(frames):
        result = run.process(Frame(image, index * FRAME_NS))
    assert len(result.faces) == 1 and result.faces[0].attention is not None
    return result.faces[0]


def look_sideways(image: np.ndarray, points: np.ndarray, fraction: float) -> np.ndarray:
    """The same face with what is inside each eye opening slid sideways by ``fraction`` of the eye's width.

    The irises move and the lids and corners stay: a glance to the side (negative = to the image's left).
    Sclera colour fills the gap the iris leaves.
    """
    out = image.copy()
    for contour, outer, inner in ((RIGHT_EYE_CONTOUR, 33, 133), (LEFT_EYE_CONTOUR, 263, 362)):
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(points[contour, :2] - 0.5).astype(np.int32)], 255)
        inside = mask > 0
        brightness = image[inside].astype(int).sum(axis=1)
        sclera = np.median(image[inside][brightness > np.percentile(brightness, 70)], axis=0).astype(np.uint8)
        shift = int(round(fraction * abs(points[outer, 0] - points[inner, 0])))
        moved = np.where((np.roll(mask, shift, axis=1) > 0)[..., None], np.roll(image, shift, axis=1), sclera)
        out[inside] = moved[inside]
    return out


def test_frontal_face_with_centred_eyes_is_looking_and_a_sideways_glance_is_not() -> None:
    image = render([Placement(320, 240)])
    face = face_in(image)
    ahead = face.attention
    assert ahead.gaze.source == "eyes"
    assert ahead.looking and ahead.gaze_angle_deg < 10 and ahead.score > 0.6
    assert abs(np.linalg.norm(ahead.gaze.direction) - 1.0) < 1e-9
    for fraction in (-0.3, 0.3):
        glance = face_in(look_sideways(image, face.landmarks.points, fraction)).attention
        assert not glance.looking, f"irises moved by {fraction} of the eye width"
        assert glance.gaze_angle_deg > 15 and glance.score < ahead.score
        # the head did not move; the eyes turned towards the side the irises went (+x = image right)
        assert glance.head.yaw_deg == pytest.approx(ahead.head.yaw_deg, abs=3.0)
        assert np.sign(glance.gaze.eye_yaw_deg - ahead.gaze.eye_yaw_deg) == np.sign(fraction)
        assert np.sign(glance.gaze.direction[0] - ahead.gaze.direction[0]) == np.sign(fraction)


def test_without_irises_the_gaze_is_the_head_direction() -> None:
    """FaceMesh v1 has no iris points: gaze = where the face points; a face turned past the angle is away."""
    frontal = face_in(render([Placement(320, 240)]), mesh="v1").attention
    assert frontal.gaze.source == "head"
    assert np.allclose(frontal.gaze.direction, frontal.head.forward)
    assert frontal.looking
    # the same pixels at the image's edge: a face that still points along the optical axis is ~30 degrees
    # off the ray to the camera, like a head turned by that much
    head = frontal.head
    edge = face_in(render([Placement(560, 240, scale=0.8)]), mesh="v1").attention
    assert edge.gaze_angle_deg > 20 and not edge.looking, (edge.gaze_angle_deg, head.yaw_deg)


def test_closed_eyes_fall_back_to_the_head_direction() -> None:
    from fea_ros.core.gaze import estimate_gaze

    face = face_in(render([Placement(320, 240)]))
    pose = face.attention.head
    assert estimate_gaze(pose, closed_ratio=0.0).source == "eyes"
    closed = estimate_gaze(pose, closed_ratio=5.0)  # every eye counts as closed
    assert closed.source == "head" and np.allclose(closed.direction, pose.forward)


def scripted(config: AttentionConfig, looks: list[tuple[float, bool]]) -> list[str]:
    """Engagement after each (time s, looking) of a scripted sequence."""
    machine = EngagementMachine(config)
    return [machine.update(int(t * 1e9), look) for t, look in looks]


def test_engagement_follows_the_rep155_state_machine() -> None:
    config = AttentionConfig(engage_s=1.0, disengage_s=2.0)
    times = [i * 0.25 for i in range(30)]
    # look 0..1.5 s, glance away 1.75..2.25 s, look 2.5..4.0 s, away from 4.25 s on
    looking = [t <= 1.5 or 2.5 <= t <= 4.0 for t in times]
    states = dict(zip(times, scripted(config, list(zip(times, looking)))))
    assert states[0.0] == ENGAGING and states[0.75] == ENGAGING
    assert states[1.0] == ENGAGED and states[1.5] == ENGAGED
    assert states[1.75] == DISENGAGING and states[2.25] == DISENGAGING
    assert states[2.5] == ENGAGED  # came back before disengage_s: still engaged
    assert states[4.25] == DISENGAGING and states[6.0] == DISENGAGING
    assert states[6.25] == DISENGAGED  # 2 s after the look ended
    assert states[7.25] == DISENGAGED


def test_a_short_look_does_not_engage() -> None:
    config = AttentionConfig(engage_s=1.0)
    looks = [(0.0, True), (0.5, True), (0.75, False), (1.5, False)]
    assert scripted(config, looks) == [ENGAGING, ENGAGING, DISENGAGED, DISENGAGED]


def test_looking_has_angle_and_time_hysteresis() -> None:
    config = AttentionConfig(looking_angle_deg=15, release_angle_deg=20, look_on_s=0.2, look_off_s=0.4)
    looking = LookingFilter(config)
    seconds = lambda s: int(s * 1e9)  # noqa: E731
    assert not looking.update(seconds(0.0), 10.0, 1.0)  # within the angle, not yet for 0.2 s
    assert looking.update(seconds(0.2), 10.0, 1.0)
    assert looking.update(seconds(0.3), 18.0, 1.0)  # between the two angles: stays looking
    assert looking.update(seconds(0.4), 25.0, 1.0)  # away, but not yet for 0.4 s
    assert looking.update(seconds(0.6), 25.0, 1.0)
    assert not looking.update(seconds(0.8), 25.0, 1.0)
    assert not looking.update(seconds(0.9), 18.0, 1.0)  # 18 > 15: does not start again
    assert not LookingFilter(AttentionConfig(look_on_s=0)).update(0, 5.0, 10.0)  # too far away


def test_time_looking_accumulates_per_face_in_the_pipeline() -> None:
    run = pipeline("v2")
    run.reset()
    image = render([Placement(320, 240)])
    for index in range(10):
        result = run.process(Frame(image, index * FRAME_NS))
    attention = result.faces[0].attention
    # confirmed on frame 2 (index 1), looking from then on: 8 intervals of 1/30 s
    assert attention.looking_time_s == pytest.approx(8 * FRAME_NS * 1e-9, abs=1e-6)
    assert result.timings_ms["attention"] > 0


def test_bad_attention_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="release_angle_deg"):
        check_config(AttentionConfig(looking_angle_deg=30, release_angle_deg=20))
    with pytest.raises(ConfigError, match="engage_s"):
        check_config(AttentionConfig(engage_s=-1))
