#!/usr/bin/env python3
"""Cost per face of the expression stage, today's settings vs the new ones, on the astronaut photo.

    python fea_ros/scripts/bench_expression_stage.py [--repeats 400] [--faces 1]

Each setting runs the whole stage call (crops, networks, fusion) on the same face(s) with the same mesh
landmarks, on its own ONNX Runtime sessions (as in a pipeline: a session that alternates batch sizes pays
for re-planning its memory); the settings take turns call by call, so load from other processes hits them
alike. The blendshape setting gets the face's blendshapes as the pipeline's stage 5 computes them anyway in
the full configuration; their network is not part of the expression stage's cost (it is timed below for
reference, for a configuration that would run it only for the expressions). Prints the median and p90
milliseconds per call, the CPU time per call, and the difference to today's stage.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np

from fea_ros.core.action_units import BlendshapeEstimator
from fea_ros.core.config import ExpressionConfig, InferenceConfig, PipelineConfig
from fea_ros.core.expression import NETS, ExpressionClassifier, flip_networks
from fea_ros.core.expression_fusion import load_fusions
from fea_ros.core.pipeline import Pipeline
from fea_ros.inference.factory import create_engine
from fea_ros.inference.models import Manifest

#: name -> (fusion, aligned_crops, flip_average, blendshapes)
SETTINGS: dict[str, tuple[str, bool, str, bool]] = {
    "before: box crops, weighted mean": ("mean", False, "", False),
    "aligned, face-api mirrored, fitted (old default)": ("fitted", True, "faceapi", False),
    "aligned, no mirror, fitted (no blendshapes)": ("fitted", True, "", False),
    "shipped: aligned, no mirror, fitted + blendshapes": ("fitted", True, "", True),
    # mirror settings without shipped fusion files: their cost (the fusion's few microseconds aside)
    "aligned, fer mirrored (weighted mean)": ("mean", True, "fer", False),
    "aligned, both mirrored (weighted mean)": ("mean", True, "faceapi,fer", False),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=400)
    parser.add_argument("--faces", type=int, default=1, help="faces per call (copies of the same face)")
    args = parser.parse_args(argv)
    from skimage.data import astronaut

    image = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    config = PipelineConfig()
    config.mie.enabled = False
    face = Pipeline(config).process_image(image).faces[0]
    assert face.action_units is not None, "the full configuration computes the blendshapes"
    boxes, marks = [face.box] * args.faces, [face.landmarks] * args.faces
    shapes = [face.action_units.blendshapes] * args.faces
    models = Manifest().directory
    stages = {}
    for name, (fusion, aligned, flip, with_shapes) in SETTINGS.items():
        expression = ExpressionConfig(fusion=fusion, aligned_crops=aligned, flip_average=flip)
        fusions = (load_fusions(models, flip_networks(expression), with_shapes) if fusion == "fitted"
                   else (None, None))
        engines = {key: create_engine(net.model, InferenceConfig()) for key, net in NETS.items()}
        stages[name] = (ExpressionClassifier(engines, expression, *fusions), shapes if with_shapes else None)
    blendshape_net = BlendshapeEstimator(create_engine("face_blendshapes_52", InferenceConfig()))
    points = [face.landmarks.points] * args.faces
    calls = {**{name: (lambda s=stage, b=extra: s(image, boxes, marks, b)) for name, (stage, extra) in stages.items()},
             "(reference: the blendshape network itself)": lambda: blendshape_net.many(points)}
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(20):
        for call in calls.values():
            call()
    for _ in range(args.repeats):
        for name, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append((time.perf_counter() - start) * 1e3)
            cpu[name].append((time.process_time() - start_cpu) * 1e3)
    today = float(np.median(wall[next(iter(wall))]))
    today_cpu = float(np.mean(cpu[next(iter(cpu))]))
    print(f"expression stage, {args.faces} face(s) per call, {args.repeats} calls each, 1 ONNX Runtime thread, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, values in wall.items():
        median, mean_cpu = float(np.median(values)), float(np.mean(cpu[name]))
        line = f"{name:52s} median {median:6.2f} ms  p90 {np.percentile(values, 90):6.2f} ms  CPU {mean_cpu:6.2f} ms"
        if name in stages:
            line += (f"  vs before {(median - today) / args.faces:+.2f} ms/face "
                     f"(CPU {(mean_cpu - today_cpu) / args.faces:+.2f}), ratio {median / today:.2f}")
        print(line)
    batch_cost(args.repeats)
    return 0


def batch_cost(repeats: int) -> None:
    """face-api on one face and its mirror image: one batch of 2 vs two runs of 1 (own session, in blocks:
    a session alternating batch sizes pays for re-planning, which would blur the comparison)."""
    engine = create_engine(NETS["faceapi"].model, InferenceConfig())
    name = next(iter(engine.input_shapes))
    one = np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
    two = np.concatenate([one, one[:, :, :, ::-1]])
    calls = {"face-api, batch of 1": lambda: engine.run({name: one}),
             "face-api, batch of 2 (crop + mirror)": lambda: engine.run({name: two}),
             "face-api, two runs of 1": lambda: (engine.run({name: one}), engine.run({name: one}))}
    wall: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(10):
        for key, call in calls.items():
            for _ in range(5):
                call()
            for _ in range(max(1, repeats // 10)):
                start = time.perf_counter()
                call()
                wall[key].append((time.perf_counter() - start) * 1e3)
    for key, values in wall.items():
        print(f"{key:52s} median {np.median(values):6.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
