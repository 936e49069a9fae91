#!/usr/bin/env python3
"""CPU time of the spotter's flow steps on real benchmark crops: DIS with and without its variational
refinement, and the full-resolution step (BoxRefiner) on the eye boxes and on the boxes below the eyes.

Each step runs in turns on the same pairs of aligned crops (a frame and the frame ``flow_offset_s`` before it)
of a few single-face benchmark clips, so the shared machine's load moves them alike:

    python fea_ros/scripts/flow_cost.py --data out/mie_benchmark/seed-1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from fea_ros.core.config import MieConfig
from fea_ros.mie import spotter as spotter_module
from fea_ros.mie.alignment import FaceAligner
from fea_ros.mie.benchmark import _read_frame, stored_faces
from fea_ros.mie.flow import BoxRefiner, FlowEstimator, region_boxes


def crop_pairs(data: Path, n_clips: int, pairs_per_clip: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(reference crop, current crop, region boxes of the reference) from single-face clips."""
    config = MieConfig()
    clips = [c for c in json.loads((data / "clips.json").read_text())["clips"] if not c.get("bystander")][:n_clips]
    pairs = []
    for clip in clips:
        folder, faces = data / "clips" / clip["name"], stored_faces(data / "clips" / clip["name"])
        aligner = FaceAligner(config.crop_px)
        lag = max(1, int(round(config.flow_offset_s * clip["fps"])))
        for i in np.linspace(lag, clip["frames"] - 1, pairs_per_clip).astype(int):
            ref = aligner.align(_read_frame(folder, int(i) - lag, clip.get("frame_ext", "jpg")),
                                faces(int(i) - lag)["subject"])
            cur = aligner.align(_read_frame(folder, int(i), clip.get("frame_ext", "jpg")), faces(int(i))["subject"])
            pairs.append((ref.crop, cur.crop, region_boxes(ref.points, ref.interocular_px, ref.crop.shape[0]).boxes))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("out") / "mie_benchmark" / "seed-1")
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=100, help="crop pairs per clip")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if not (args.data / "clips.json").is_file():
        raise SystemExit(f"{args.data / 'clips.json'} not found: make the benchmark first "
                         f"(python fea_ros/scripts/make_mie_benchmark.py --seed 1)")
    pairs = crop_pairs(args.data, args.clips, args.pairs)
    with_refinement, without = FlowEstimator(refinement_iterations=1), FlowEstimator(refinement_iterations=0)
    refiner = BoxRefiner()
    flows = [without(ref, cur) for ref, cur, _ in pairs]
    eye_rows, lower_rows = spotter_module._EYE_ROWS, spotter_module._LOWER_ROWS
    steps: dict[str, Callable[[int], object]] = {
        "DIS with variational refinement": lambda k: with_refinement(pairs[k][0], pairs[k][1]),
        "DIS without (the spotter's)": lambda k: without(pairs[k][0], pairs[k][1]),
        "BoxRefiner, eye boxes": lambda k: refiner(pairs[k][0], pairs[k][1], flows[k], pairs[k][2][eye_rows]),
        "BoxRefiner, boxes below the eyes": lambda k: refiner(pairs[k][0], pairs[k][1], flows[k],
                                                              pairs[k][2][lower_rows]),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.process_time()
            for k in range(len(pairs)):
                step(k)
            times[name].append((time.process_time() - start) * 1e3 / len(pairs))
    for name, values in times.items():
        rounds = ", ".join(f"{v:.3f}" for v in values)
        print(f"{name}: CPU ms per crop pair median {np.median(values):.3f} (rounds {rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
