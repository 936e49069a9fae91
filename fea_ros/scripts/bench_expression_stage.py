#!/usr/bin/env python3
"""Cost per face of the expression stage, today's settings vs the new ones, on the astronaut photo.

    python fea_ros/scripts/bench_expression_stage.py [--repeats 400] [--faces 1]

Each setting runs the whole stage call (crops, networks, fusion) on the same face(s) with the same mesh
landmarks; the settings take turns call by call, so load from other processes hits them alike. Prints the
median and p90 milliseconds per call and the difference to today's stage.
"""
from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np

from fea_ros.core.config import ExpressionConfig, InferenceConfig, PipelineConfig
from fea_ros.core.expression import NETS, ExpressionClassifier
from fea_ros.core.expression_fusion import fusion_file, load_fusion
from fea_ros.core.pipeline import Pipeline
from fea_ros.inference.factory import create_engine
from fea_ros.inference.models import Manifest

#: name -> (fusion, aligned_crops, flip_average)
SETTINGS: dict[str, tuple[str, bool, str]] = {
    "today: box crops, weighted mean": ("mean", False, ""),
    "aligned crops, fitted fusion, no mirror": ("fitted", True, ""),
    "shipped: aligned, face-api mirrored, fitted": ("fitted", True, "faceapi"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=400)
    parser.add_argument("--faces", type=int, default=1, help="faces per call (copies of the same face)")
    args = parser.parse_args(argv)
    from skimage.data import astronaut

    image = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    config = PipelineConfig.fast()
    config.mie.enabled = False
    face = Pipeline(config).process_image(image).faces[0]
    boxes, marks = [face.box] * args.faces, [face.landmarks] * args.faces
    engines = {key: create_engine(net.model, InferenceConfig()) for key, net in NETS.items()}
    models = Manifest().directory
    stages = {name: ExpressionClassifier(engines,
                                         ExpressionConfig(fusion=fusion, aligned_crops=aligned, flip_average=flip),
                                         load_fusion(models / fusion_file((flip,) if flip else ())))
              for name, (fusion, aligned, flip) in SETTINGS.items()}
    times: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(20):
        for stage in stages.values():
            stage(image, boxes, marks)
    for _ in range(args.repeats):
        for name, stage in stages.items():
            start = time.perf_counter()
            stage(image, boxes, marks)
            times[name].append((time.perf_counter() - start) * 1e3)
    today = float(np.median(times[next(iter(times))]))
    print(f"expression stage, {args.faces} face(s) per call, {args.repeats} calls each, 1 ONNX Runtime thread")
    for name, values in times.items():
        median = float(np.median(values))
        print(f"{name:46s} median {median:6.2f} ms  p90 {np.percentile(values, 90):6.2f} ms  "
              f"vs today {median - today:+6.2f} ms/call ({(median - today) / args.faces:+.2f} ms/face)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
