#!/usr/bin/env python3
"""CPU time per face of two spotter versions, interleaved on the same benchmark clips in one process.

The shared machine's load changes from minute to minute, so two benchmark runs at different times do not
compare; this runs both versions in turns over the same frames and landmarks. ``--before`` is a spotter.py
of another version (repeat it for several), e.g. the ones before spotting round 2 and before its second step:

    git show b4cec25:fea_ros/fea_ros/mie/spotter.py > out/spotter_r1.py
    git show 6d038fd:fea_ros/fea_ros/mie/spotter.py > out/spotter_r2.py
    python fea_ros/scripts/spotter_cost.py --before out/spotter_r1.py --before out/spotter_r2.py \
        --data out/mie_benchmark/seed-3

An older spotter.py runs on this checkout's flow.py and alignment.py; it must only use what they still offer.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from fea_ros.mie.benchmark import _landmarks, _read_frame, stored_faces
from fea_ros.mie.spotter import MieSpotter


def load_spotter(path: Path) -> type:
    name = f"spotter_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.MieSpotter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, action="append", required=True,
                        help="spotter.py of a version to compare with (repeatable)")
    parser.add_argument("--data", type=Path, default=Path("out") / "mie_benchmark" / "seed-3")
    parser.add_argument("--clips", type=int, default=3, help="how many single-face clips (default 3)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds (default 3; raised to a multiple of the number of versions)")
    args = parser.parse_args(argv)
    versions = {path.stem: load_spotter(path) for path in args.before}
    versions["now"] = MieSpotter
    clips = [c for c in json.loads((args.data / "clips.json").read_text())["clips"]
             if not c.get("bystander")][:args.clips]
    times: dict[str, list[float]] = {name: [] for name in versions}
    names = list(versions)
    # each version first, second, ... equally often: otherwise one measured last more often looks slower
    rounds = -(-args.rounds // len(names)) * len(names)
    if rounds != args.rounds:
        print(f"{rounds} rounds, a multiple of the {len(names)} versions")
    for round_index in range(rounds):
        # the order rotates from round to round: the version measured last in a round was measured up to 9 %
        # slower than the same code measured first (same frames, same process)
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            spotter_class = versions[name]
            for clip in clips:
                folder = args.data / "clips" / clip["name"]
                faces = stored_faces(folder)
                spotter = spotter_class()
                for i in range(clip["frames"]):
                    image = _read_frame(folder, i, clip.get("frame_ext", "jpg"))
                    landmarks = _landmarks(faces(i)["subject"])
                    start = time.process_time()
                    spotter.update("subject", int(round(i * 1e9 / clip["fps"])), image, landmarks)
                    times[name].append((time.process_time() - start) * 1e3)
    now = float(np.mean(times["now"]))
    for name, values in times.items():
        print(f"{name}: CPU ms per face and frame mean {np.mean(values):.3f}, p95 {np.percentile(values, 95):.3f} "
              f"({len(values)} updates), now / {name} = {now / float(np.mean(values)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
