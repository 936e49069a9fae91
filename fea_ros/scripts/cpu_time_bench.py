#!/usr/bin/env python3
"""CPU time per frame of the pipeline on the sample clips: a speed measure that a busy machine barely moves.

    python fea_ros/scripts/cpu_time_bench.py --label after                      # this checkout
    PYTHONPATH=out/before/fea_ros python fea_ros/scripts/cpu_time_bench.py --label before

Wall-clock fps on a machine shared with other jobs depends on how much of the two cores the scheduler
gives us; the CPU time a frame consumes (time.process_time: every thread of this process) depends far
less on it. With one ONNX Runtime thread and stage_threads 1, 1000 / CPU ms is the fps the pipeline would
run at on one free core. Main-thread CPU ms: the CPU time of the thread that calls Pipeline.process; with
stage_threads 2 the rest runs on a second thread, and 1000 / main-thread ms bounds the fps two free cores
give. Networks: the CPU time inside Engine.run of whichever thread called it (time.thread_time).
Uses only the Pipeline API that every version of fea_ros has, so the same script measures an older
checkout put first on PYTHONPATH (bench_speed_round2.sh does that). Frames are decoded before timing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CLIPS = {"face1": "face1.mp4", "faces3": "faces3.mp4"}


def engines_of(pipeline: Any) -> list[Any]:
    found = [pipeline.detector.engine, pipeline.mesh.engine, *pipeline.expression.engines.values()]
    if getattr(pipeline, "blendshapes", None) is not None:
        found.append(pipeline.blendshapes.engine)
    return found


def measure(clip: str, config_name: str, warmup: int, repeats: int, threads: int, stage_threads: int,
            precision: str | None) -> dict[str, Any]:
    import cv2

    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.inputs import VideoFileSource
    from fea_ros.core.pipeline import Pipeline

    config = PipelineConfig.fast() if config_name == "fast" else PipelineConfig()
    config.inference.threads = threads
    if stage_threads != 1:
        config.inference.stage_threads = stage_threads
    if precision is not None:
        config.inference.precision = precision
    pipeline = Pipeline(config)
    network_cpu = {"s": 0.0}
    for engine in engines_of(pipeline):
        inner = engine.run

        def run(inputs: dict, _inner: Any = inner) -> dict:
            start = time.thread_time()
            try:
                return _inner(inputs)
            finally:
                network_cpu["s"] += time.thread_time() - start

        engine.run = run
    with VideoFileSource(SAMPLES / CLIPS[clip]) as source:
        frames = [f for f in source]
    for frame in frames:
        if frame.image.shape[:2] != (480, 640):
            frame.image = cv2.resize(frame.image, (640, 480), interpolation=cv2.INTER_AREA)
    best: dict[str, Any] | None = None
    for _ in range(repeats):
        pipeline.reset()
        for frame in frames[:warmup]:
            pipeline.process(frame)
        pipeline.reset()
        network_cpu["s"] = 0.0
        cpu, main, wall, faces = [], [], [], 0
        for frame in frames:
            c0, m0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
            result = pipeline.process(frame)
            cpu.append((time.process_time() - c0) * 1e3)
            main.append((time.thread_time() - m0) * 1e3)
            wall.append((time.perf_counter() - w0) * 1e3)
            faces += len(result.faces)
        row = {"clip": clip, "config": config_name, "frames": len(frames), "faces": faces / len(frames),
               "cpu_ms": sum(cpu) / len(cpu), "cpu_median_ms": statistics.median(cpu),
               "main_ms": sum(main) / len(main),
               "wall_fps": 1e3 * len(wall) / sum(wall), "network_cpu_ms": network_cpu["s"] * 1e3 / len(frames)}
        if best is None or row["cpu_ms"] < best["cpu_ms"]:
            best = row
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="", help="name of this variant in the table (e.g. before / after)")
    parser.add_argument("--clips", default="face1,faces3")
    parser.add_argument("--configs", default="full,fast")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2, help="runs per row; the one with least CPU time is kept")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--stage-threads", type=int, default=1, help="inference.stage_threads (newer versions)")
    parser.add_argument("--precision", default=None, help="inference.precision (newer versions)")
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args(argv)
    if args.header:
        print("| variant | clip | config | faces/frame | CPU ms/frame (mean / median) | 1000 / CPU ms | "
              "main-thread CPU ms/frame | networks CPU ms/frame | outside networks CPU ms/face | wall fps (load-dependent) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
    for clip in args.clips.split(","):
        for config in args.configs.split(","):
            r = measure(clip, config, args.warmup, args.repeats, args.threads, args.stage_threads, args.precision)
            outside = (r["cpu_ms"] - r["network_cpu_ms"]) / max(r["faces"], 1e-9)
            print(f"| {args.label} | {clip} | {config} | {r['faces']:.2f} | {r['cpu_ms']:.2f} / "
                  f"{r['cpu_median_ms']:.2f} | {1e3 / r['cpu_ms']:.1f} | {r['main_ms']:.2f} | "
                  f"{r['network_cpu_ms']:.2f} | {outside:.2f} | "
                  f"{r['wall_fps']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
