"""`fea-ros bench mie` on a one-clip benchmark folder with a rigid bystander cut by the frame edge."""
from __future__ import annotations

import csv
import json

import numpy as np

from fea_ros.core.config import MieConfig
from fea_ros.mie.baseline_mdmd import MdmdConfig
from fea_ros.mie.benchmark import run_benchmark
from fea_ros.mie.benchmark_report import category_rows, report, targets
from fea_ros.mie.synthetic import FaceAnimator
from fea_ros.mie.synthetic_plan import Category, plan_clip

from test_mie_spotter import astronaut_mesh  # noqa: F401  (module fixture)


def test_bench_scores_the_subject_and_counts_events_on_the_bystander(tmp_path, astronaut_mesh):  # noqa: F811
    photo, mesh = astronaut_mesh
    animator = FaceAnimator(photo, mesh)
    spec = plan_clip("expr_30fps_00_astronaut", np.random.default_rng(4), 30.0, 7.0, ["MACRO"],
                     [Category("lower face", False)], 75.0, 8.0, (480, 320), animator.interocular,
                     lossless=True, bystander_photo="astronaut")
    folder = tmp_path / "clips" / spec.name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(spec.seed)
    n = int(spec.duration_s * spec.fps)
    subject, other = np.empty((n, 468, 2), np.float32), np.empty((n, 468, 2), np.float32)
    for i in range(n):
        frame = animator.render_scene(spec, i, rng, animator)
        (folder / f"{i + 1:06d}.png").write_bytes(frame.encoded)
        subject[i], other[i] = frame.points, frame.bystander_points
    assert (other[:, :, 0] >= spec.frame_size[0]).mean() > 0.05  # the bystander is cut by the frame edge
    np.save(folder / "landmarks.npy", subject)
    np.save(folder / "bystander_landmarks.npy", other)
    (tmp_path / "clips.json").write_text(json.dumps({"clips": [
        {"name": spec.name, "fps": 30.0, "frames": n, "neutral": False, "frame_ext": "png", "bystander": "a"}]}))
    macro = next(m for m in spec.movements if m.kind)
    with (tmp_path / "truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "onset", "apex", "offset", "type", "action", "amplitude_px", "face", "side",
                         "categories"])
        writer.writerow([spec.name, macro.onset_s, macro.apex_s, macro.offset_s, "MACRO", macro.action,
                         macro.amplitude_px, "subject", "both", "lower face bilateral lossless"])
    results = run_benchmark(tmp_path, MieConfig(), MdmdConfig(), run_baseline=False)
    rate = results[30.0]
    assert rate.categories == [("lower face", "bilateral", "lossless")]
    assert rate.spotter.other_faces == [] and rate.scores(rate.spotter).macro.tp == 1
    rows = {row[0]: row for row in category_rows(rate)}
    assert rows["lower face"][2] == "1.00 (1/1)" and "unilateral" not in rows
    text = report(results, MieConfig(), False, tmp_path, "truth")
    assert "Events on other faces (bystanders): 0" in text and "all faces" in text
    assert any("0 events on bystanders (0): met" in line for line in targets(results))
