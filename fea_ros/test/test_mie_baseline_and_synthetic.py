"""The MDMD-style baseline's building blocks and the synthetic clip planner."""
import numpy as np
import pytest

from fea_ros.mie.baseline_mdmd import MdmdConfig, block_main_direction_means, runs_of_length, spot_runs
from fea_ros.mie.synthetic import EXPRESSION_ACTIONS, SIDED_ACTIONS, Movement
from fea_ros.mie.synthetic_plan import (AFTER_BLINK_ACTIONS, AMPLITUDE_SCALE, EYE_REGION_ACTIONS,
                                       LOWER_FACE_ACTIONS, Category, category_mix, plan_clip)


def test_block_feature_takes_the_main_direction_of_each_block():
    flow = np.zeros((60, 60, 2), np.float32)
    flow[:10, :10, 0] = 2.0  # block (0, 0): everything to the right at 2 px
    flow[:10, 10:20, 1] = -1.0  # block (0, 1): upwards at 1 px ...
    flow[:10, 10:13, 0] = 5.0  # ... a minority going right faster does not decide its direction
    flow[:10, 10:13, 1] = 0.0
    values = block_main_direction_means(flow, grid=6)
    assert values[0] == pytest.approx(2.0, abs=1e-6)
    assert values[1] == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(values[2:], 0.0)
    # a movement that is still there at i+k scores lower than one that came back (MDMD's apex test)
    still_there = block_main_direction_means(flow, grid=6, later=flow)
    assert np.allclose(still_there, 0.0)


def test_spot_runs_finds_the_apex_bumps_of_the_contrast_curve():
    curve = np.zeros(300)
    curve[100:104] = 1.0  # a short bump: high contrast against frames k-1 either side
    curve[200:230] = 0.3  # a plateau as wide as 2m+: low contrast
    runs = spot_runs(curve, p=0.5, k=10)
    assert runs == [(100, 103)]
    assert spot_runs(np.zeros(15), p=0.5, k=10) == []


def test_runs_are_kept_only_at_the_lengths_the_mdmd_evaluation_keeps():
    runs = [(0, 5), (10, 16), (20, 35), (40, 56), (60, 200)]  # 6, 7, 16, 17 and 141 frames
    config = MdmdConfig()
    assert runs_of_length(runs, 30.0, config.micro_min_s, config.micro_max_s) == [(10, 16), (20, 35)]
    assert runs_of_length(runs, 30.0, config.macro_min_s, float("inf")) == [(40, 56), (60, 200)]
    # in seconds: at 100 fps a MiE run must last 24-53 frames
    assert runs_of_length([(0, 22), (0, 23), (0, 52), (0, 53)], 100.0, config.micro_min_s,
                          config.micro_max_s) == [(0, 23), (0, 52)]


def test_movement_profile_rises_holds_and_falls():
    m = Movement("brow_raise", 1.0, 1.2, 2.0, 3.0, "MACRO", hold_s=0.3)
    assert m.weight(0.9) == 0.0 and m.weight(2.1) == 0.0
    assert m.weight(1.1) == pytest.approx(0.5) and m.weight(1.2) == pytest.approx(1.0)
    assert m.weight(1.45) == pytest.approx(1.0) and 0.0 < m.weight(1.9) < 0.5


def test_plan_clip_follows_the_benchmark_ranges_and_is_reproducible():
    categories = [Category("eye+blink", False), Category("lower face", True), Category("eye", False),
                  Category("lower face", False, long_macro=True), Category("eye+blink", True)]
    kinds = ["MICRO", "MICRO", "MICRO", "MACRO", "MACRO"]

    def plan(seed):
        return plan_clip("c", np.random.default_rng(seed), 30.0, 24.0, kinds, categories, 75.0, 8.0,
                         bystander_photo="other")

    spec = plan(5)
    expressions = [m for m in spec.movements if m.kind]
    blinks = [m for m in spec.movements if m.action == "blink"]
    assert [m.kind for m in expressions] == kinds
    for m, category in zip(expressions, categories):
        length = m.offset_s - m.onset_s
        assert m.action in EXPRESSION_ACTIONS and m.onset_s < m.apex_s < m.offset_s <= spec.duration_s
        scale = AMPLITUDE_SCALE.get(m.action, 1.0)
        if m.kind == "MICRO":
            assert 0.1 <= length <= 0.45 and 1.5 * scale <= m.amplitude_px <= 4.0 * scale
        elif category.long_macro:
            assert 2.0 <= length <= 3.6 and m.hold_s >= 0.3 * length and "long MaE hold" in m.tags
        else:
            assert 0.6 <= length <= 2.0 and 5.0 * scale <= m.amplitude_px <= 12.0 * scale
        assert m.action in (LOWER_FACE_ACTIONS if category.group == "lower face" else EYE_REGION_ACTIONS)
        assert (m.side in ("right", "left")) == category.unilateral and category.group in m.tags
        assert not m.side or m.action in SIDED_ACTIONS
        # an upper-lid raise comes as the blink's lid reopens or after it (a blink relaxes the lid's raiser)
        edge = [b.offset_s if m.action in AFTER_BLINK_ACTIONS else b.onset_s for b in blinks]
        near = [t for t in edge if abs(t - m.onset_s) <= 0.1 + 1e-9]
        assert bool(near) == (category.group == "eye+blink")
    assert spec.bystander is not None and spec.bystander.centre[0] > 0.8 * spec.frame_size[0]
    assert spec.head.jerks and spec.head.rotation_deg <= 8.0 and 60 <= spec.jpeg_quality <= 85
    assert [(m.action, m.onset_s) for m in plan(5).movements] == [(m.action, m.onset_s) for m in spec.movements]
    assert [(m.action, m.onset_s) for m in plan(6).movements] != [(m.action, m.onset_s) for m in spec.movements]


def test_an_upper_lid_raise_never_goes_on_under_a_closing_blink():
    # a blink relaxes the muscle that raises the lid: the lid is back on its way up before a raise starts
    raises = 0
    for seed in range(12):
        spec = plan_clip("c", np.random.default_rng(seed), 30.0, 24.0, ["MICRO"] * 4,
                         [Category("eye+blink", seed % 2 == 1)] * 4, 75.0, 8.0)
        blinks = [m for m in spec.movements if m.action == "blink"]
        for m in spec.movements:
            if m.action != "upper_lid_raise":
                continue
            raises += 1
            near = [b for b in blinks if abs(b.offset_s - m.onset_s) <= 0.1 + 1e-9]
            assert near and all(b.apex_s < m.onset_s for b in near)
            # and no blink of the clip closes the lid during the raise
            assert not any(m.onset_s <= b.apex_s <= m.offset_s for b in blinks)
    assert raises >= 5


def test_category_mix_has_the_stated_proportions():
    mix = category_mix(48, np.random.default_rng(0))
    groups = [c.group for c in mix]
    assert groups.count("eye+blink") == 16 and groups.count("eye") == 8 and groups.count("lower face") == 24
    assert sum(c.unilateral for c in mix) == 16 and sum(c.long_macro for c in mix) == 24


def test_a_unilateral_movement_moves_one_side_only():
    with pytest.raises(ValueError, match="cannot act on side"):
        Movement("lip_press", 1.0, 1.1, 1.3, 2.0, "MICRO", side="left")
