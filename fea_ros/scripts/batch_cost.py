#!/usr/bin/env python3
"""CPU time of one batched call against one call per face, per network, on the sample clips' real inputs.

    python fea_ros/scripts/batch_cost.py [--faces 3]

Decides where FaceMesh.many / BlendshapeEstimator.many batch on ONNX Runtime's CPU provider (one thread,
time.thread_time, the two ways measured alternately, median of 40 rounds).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

SCRIPTS_DIR = Path(__file__).resolve().parent
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

NETWORKS = ("facemesh_v2_478_256", "facemesh_v1_468_192", "face_blendshapes_52")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)
    from quantize_models import record_inputs

    from fea_ros.inference.models import Manifest
    from fea_ros.inference.onnxruntime_engine import OnnxRuntimeEngine

    recorded = record_inputs(step=6, progress=False)
    manifest = Manifest()
    print(f"| network | {args.faces} calls of 1 face, CPU ms | 1 call of {args.faces} faces, CPU ms | batched / per face |")
    print("|---|---|---|---|")
    for name in NETWORKS:
        engine = OnnxRuntimeEngine(manifest.path(name), name=name, threads=1)
        samples = recorded[name][:args.faces]
        key = next(iter(samples[0]))
        batch = {key: np.concatenate([s[key] for s in samples])}
        for _ in range(5):
            engine.run(batch)
        single, batched = [], []
        for _ in range(args.rounds):
            start = time.thread_time()
            for sample in samples:
                engine.run(sample)
            single.append(time.thread_time() - start)
            start = time.thread_time()
            engine.run(batch)
            batched.append(time.thread_time() - start)
        one, many = float(np.median(single)) * 1e3, float(np.median(batched)) * 1e3
        print(f"| {name} | {one:.2f} | {many:.2f} | {many / one:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
