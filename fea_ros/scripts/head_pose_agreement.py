#!/usr/bin/env python3
"""How far fea_ros's head pose is from MediaPipe's facial transformation matrix (the BENCHMARKS.md table).

    python fea_ros/scripts/head_pose_agreement.py            # markdown table + summary line

For every face in test/fixtures/mediapipe_head_pose.json (mediapipe 0.10.14's Face Landmarker on the astronaut,
its mirror image and frames of the sample clips; made by scripts/mediapipe_reference/) it prints the angle
between the rotations and between the translation directions, and the distance ratio:
* "solver": fea_ros's pose fit on MediaPipe's own landmarks (isolates the geometry code),
* "pipeline": fea_ros's whole pipeline (BlazeFace, FaceMesh v2 ONNX, the fit) on the same image.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).resolve().parents[1]
FIXTURE = PACKAGE / "test" / "fixtures" / "mediapipe_head_pose.json"


def angle_between_rotations(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, (float(np.trace(a.T @ b)) - 1.0) / 2.0))))


def angle_between_vectors(a: np.ndarray, b: np.ndarray) -> float:
    cos = float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def image(name: str) -> np.ndarray:
    import cv2
    from skimage.data import astronaut

    from fea_ros.core.inputs import VideoFileSource

    if name.startswith("astronaut"):
        bgr = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
        return np.ascontiguousarray(bgr[:, ::-1]) if name.endswith("mirrored") else bgr
    clip, index = name.split("#")
    with VideoFileSource(PACKAGE / "samples" / clip) as source:
        for frame in source:
            if frame.index == int(index):
                return frame.image
    raise SystemExit(f"{clip} has no frame {index}")


def main() -> int:
    from fea_ros.core.camera import CameraIntrinsics
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.head_pose import OPTICAL_FROM_GL, FaceGeometry, HeadPoseSolver
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.core.types import Frame
    from fea_ros.inference.models import Manifest

    reference = json.loads(FIXTURE.read_text(encoding="utf-8"))
    solver = HeadPoseSolver(FaceGeometry.from_manifest(Manifest()))
    config = PipelineConfig()
    config.mie.enabled = False
    pipeline = Pipeline(config)
    print("| image | face | MediaPipe yaw / pitch / roll (deg) | solver: rotation / direction (deg) | "
          "pipeline: rotation / direction (deg) | pipeline distance / MediaPipe |")
    print("|---|---|---|---|---|---|")
    worst = {"solver_rot": 0.0, "solver_dir": 0.0, "pipe_rot": 0.0, "pipe_dir": 0.0}
    for entry in reference["images"]:
        if not entry["faces"]:
            continue
        width, height = entry["width"], entry["height"]
        camera = CameraIntrinsics.from_fov(width, height)
        pipeline.reset()
        for index in range(3):
            result = pipeline.process(Frame(image(entry["name"]), index * 33_333_333))
        for number, face in enumerate(entry["faces"]):
            matrix = np.asarray(face["matrix"])
            rotation, translation = OPTICAL_FROM_GL @ matrix[:3, :3], OPTICAL_FROM_GL @ matrix[:3, 3]
            landmarks = np.asarray(face["landmarks"])
            own = solver(landmarks * (width, height, width), camera)
            nose = landmarks[1, :2] * (width, height)
            ours = min((f for f in result.faces if f.attention is not None),
                       key=lambda f: float(np.linalg.norm(f.landmarks.points[1, :2] - nose)))
            pose = ours.attention.head
            gl = OPTICAL_FROM_GL @ rotation
            ypr = (math.degrees(math.atan2(gl[0, 2], gl[2, 2])), math.degrees(math.asin(gl[1, 2])),
                   math.degrees(math.atan2(gl[1, 0], gl[1, 1])))
            row = {"solver_rot": angle_between_rotations(own.canonical_rotation, rotation),
                   "solver_dir": angle_between_vectors(own.translation_m, translation),
                   "pipe_rot": angle_between_rotations(pose.canonical_rotation, rotation),
                   "pipe_dir": angle_between_vectors(pose.translation_m, translation)}
            worst = {k: max(worst[k], v) for k, v in row.items()}
            ratio = pose.distance_m * 100 / float(np.linalg.norm(translation))
            print(f"| {entry['name']} | {number} | {ypr[0]:.1f} / {ypr[1]:.1f} / {ypr[2]:.1f} | "
                  f"{row['solver_rot']:.2f} / {row['solver_dir']:.2f} | {row['pipe_rot']:.2f} / {row['pipe_dir']:.2f}"
                  f" | {ratio:.3f} |")
    print(f"\nworst: solver {worst['solver_rot']:.2f} deg rotation, {worst['solver_dir']:.2f} deg direction; "
          f"pipeline {worst['pipe_rot']:.2f} deg rotation, {worst['pipe_dir']:.2f} deg direction "
          f"(limit 3 deg) - mediapipe {reference['mediapipe']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
