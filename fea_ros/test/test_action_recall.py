"""scripts/action_recall.py pools several benchmark seeds, whose clips carry the same names, without mixing them."""
from __future__ import annotations

import sys
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "scripts"
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

import action_recall  # noqa: E402

from fea_ros.mie.benchmark_report import category_spread  # noqa: E402

HEADER = "video,onset,apex,offset,type,action,amplitude_px,face,side,categories\n"


def seed(folder: Path, truth_rows: list[str], predictions: list[str]) -> tuple[Path, Path]:
    folder.mkdir()
    (folder / "truth.csv").write_text(HEADER + "".join(row + "\n" for row in truth_rows))
    pred = folder / "pred.csv"
    pred.write_text("video,onset,offset,type\n" + "".join(row + "\n" for row in predictions))
    return folder, pred


def test_seeds_are_pooled_per_clip_and_scored_as_the_benchmark_scores_one(tmp_path):
    # both seeds have a clip "a"; seed 2 reports a MICRO where seed 1 has one, which must not count for seed 1
    one = seed(tmp_path / "seed-1",
               ["a,1.0,1.1,1.2,MICRO,brow_raise,2.0,subject,both,eye bilateral jpeg",
                "a,3.0,3.5,4.0,MACRO,lip_corner_pull,8.0,subject,both,lower_face bilateral lossless"],
               ["a,3.0,4.0,MACRO"])
    two = seed(tmp_path / "seed-2",
               ["a,5.0,5.1,5.2,MICRO,upper_lid_raise,1.0,subject,left,eye+blink unilateral jpeg"],
               ["a,5.0,5.2,MICRO", "a,1.0,1.2,MICRO"])
    rate = action_recall.pooled([one[0], two[0]], [one[1], two[1]])
    scores = rate.scores(rate.spotter)
    assert (scores.micro.tp, scores.micro.n_pred, scores.micro.n_gt) == (1, 2, 2)
    assert (scores.macro.tp, scores.macro.n_pred, scores.macro.n_gt) == (1, 1, 1)
    table = rate.category_recall(rate.spotter)
    assert table["eye"]["all"] == (0, 1) and table["eye+blink"]["all"] == (1, 1)
    assert table["lower face"]["MACRO"] == (1, 1) and table["jpeg"]["MICRO"] == (1, 2)
    assert category_spread(rate) == 1.0


def test_a_seed_drawn_from_the_pool_keeps_each_kind_of_movement_at_its_pooled_recall(tmp_path):
    import numpy as np
    rows = ["a,1.0,1.1,1.2,MICRO,brow_raise,2.0,subject,both,eye bilateral jpeg",
            "a,3.0,3.1,3.2,MICRO,chin_raise,2.0,subject,both,lower_face bilateral jpeg",
            "a,5.0,5.1,5.2,MICRO,chin_raise,2.0,subject,both,lower_face bilateral jpeg"]
    # the eye movement always missed and the chin raises always found: every draw has the spread 1.0
    one = seed(tmp_path / "seed-1", rows, ["a,3.0,3.2,MICRO", "a,5.0,5.2,MICRO"])
    rate = action_recall.pooled([one[0]], [one[1]])
    composition = [rate.categories]
    rng = np.random.default_rng(0)
    assert np.all(action_recall.spread_by_chance(rate, composition, 50, rng) == 1.0)
    # one of the two chin raises found: a drawn seed finds none, one or both of its two, so its spread varies
    half = seed(tmp_path / "seed-2", rows, ["a,1.0,1.2,MICRO", "a,3.0,3.2,MICRO"])
    rate = action_recall.pooled([half[0]], [half[1]])
    spreads = action_recall.spread_by_chance(rate, composition, 400, rng)
    assert set(np.round(spreads, 3)) == {0.0, 0.5, 1.0}
    assert abs(float(np.mean(spreads == 0.0)) - 0.25) < 0.08  # both chin raises drawn as found: 1/4
    # every kind at the overall recall (2 of 3): the eye movement is now missed in a third of the draws
    same = action_recall.spread_by_chance(rate, composition, 900, rng, same_recall=True)
    assert set(np.round(same, 3)) <= {0.0, 0.5, 1.0} and abs(float(np.mean(same == 0.0)) - 9 / 27) < 0.08
