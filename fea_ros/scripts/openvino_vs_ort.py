#!/usr/bin/env python3
"""OpenVINO's CPU plugin against ONNX Runtime's CPU provider, per network, on the same real inputs (issue 12).

    .venv/bin/pip install openvino      # not a dependency of fea_ros (BENCHMARKS.md says why)
    python fea_ros/scripts/openvino_vs_ort.py [--step 6] [--rounds 30] [--calls 10] [--ov-precision bf16]

Inputs: what the fp32 pipeline hands each network on the bundled sample clips (full and fast configuration;
the detectors' letterboxed frames, the mesh's rotated face crops, the blendshape net's landmark subsets, the
expression nets' face crops). Networks the pipeline does not run (faceapi_landmark68_112) take another
network's inputs of the same shape; the int8 files take their fp32 sibling's.

Both runtimes get one inference thread: ONNX Runtime intra_op_num_threads=1 (the pipeline's session options,
OnnxRuntimeEngine); OpenVINO INFERENCE_NUM_THREADS 1, PERFORMANCE_HINT LATENCY, one stream, no CPU pinning,
and INFERENCE_PRECISION_HINT f32 (on a CPU with AMX/avx512_bf16 OpenVINO would otherwise run bf16). OpenVINO
is measured twice: the model as read (dynamic batch axis) and reshaped to a static batch of 1.

Timing: per round, ``--calls`` calls on each variant in turn (ORT, OV dynamic, OV static, ...), so the
machine's noise hits all alike; the table gives the median over rounds of CPU ms/call (time.process_time,
the whole process: every thread a runtime starts is counted) and wall ms/call (time.perf_counter).
Differences: max and mean absolute difference per output (landmarks in crop pixels), OpenVINO (static)
against ONNX Runtime.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

SCRIPTS_DIR = Path(__file__).resolve().parent
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

Samples = list[dict[str, np.ndarray]]
OPENVINO_CONFIG = {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
                   "ENABLE_CPU_PINNING": False, "INFERENCE_PRECISION_HINT": "f32"}


def record_inputs(step: int) -> dict[str, Samples]:
    """Model name -> single-sample inputs the fp32 pipeline gave it on the sample clips (detectors included)."""
    from quantize_models import CLIPS, SAMPLES_DIR, _record

    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.inputs import VideoFileSource
    from fea_ros.core.pipeline import Pipeline

    recorded: dict[str, Samples] = {}
    for config in (PipelineConfig(), PipelineConfig.fast()):
        config.mie.enabled = False
        config.inference.precision = "fp32"
        config.inference.backend = "onnxruntime"
        pipeline = Pipeline(config)
        engines = [pipeline.mesh.engine, *pipeline.expression.engines.values()]
        detector: Any = pipeline.detector
        while detector is not None:  # the detector and its fallback chain
            engines.append(detector.engine)
            detector = getattr(detector, "fallback", None)
        if pipeline.blendshapes is not None:
            engines.append(pipeline.blendshapes.engine)
        for engine in {id(e): e for e in engines}.values():  # each engine object wrapped once
            _record(engine, recorded.setdefault(engine.name, []))
        for clip in CLIPS:
            pipeline.reset()
            with VideoFileSource(SAMPLES_DIR / clip) as source:
                for frame in source:
                    if frame.index % step == 0:
                        pipeline.process(frame)
    return recorded


def inputs_for(name: str, shapes: dict[str, tuple[int, ...]], recorded: dict[str, Samples]) -> Samples | None:
    base = name[:-len("_int8")] if name.endswith("_int8") else name
    if recorded.get(base):
        return recorded[base]
    for samples in recorded.values():  # another network's real inputs of the same shape
        first = samples[0] if samples else {}
        if set(first) == set(shapes) and all(first[k].shape[1:] == tuple(shapes[k][1:]) for k in shapes):
            return samples
    return None


class OpenVinoNet:
    """One network compiled by OpenVINO for the CPU, run through one infer request."""

    def __init__(self, core: Any, path: Path, static_batch: int | None) -> None:
        model = core.read_model(str(path))
        if static_batch is not None:
            model.reshape({i.get_any_name(): [static_batch, *list(i.get_partial_shape())[1:]]
                           for i in model.inputs})
        self.compiled = core.compile_model(model, "CPU", OPENVINO_CONFIG)
        self.request = self.compiled.create_infer_request()
        self.names = [o.get_any_name() for o in self.compiled.outputs]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self.request.infer(inputs)
        return {name: np.array(results[i]) for i, name in enumerate(self.names)}


def per_call_ms(run: Callable[[dict[str, np.ndarray]], Any], batch: Samples) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for sample in batch:
        run(sample)
    return ((time.process_time() - cpu) * 1e3 / len(batch), (time.perf_counter() - wall) * 1e3 / len(batch))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step", type=int, default=6, help="use every this many frames of the clips")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=10, help="calls per variant per round")
    parser.add_argument("--only", nargs="*", default=None, help="network names (default: the whole manifest)")
    parser.add_argument("--ov-precision", default="f32", choices=("f32", "bf16"),
                        help="OpenVINO's INFERENCE_PRECISION_HINT (bf16: only to see what AMX would give)")
    args = parser.parse_args(argv)
    import onnxruntime
    try:
        import openvino
    except ImportError:
        parser.error("the openvino package is not installed; install it with '.venv/bin/pip install openvino'")

    from fea_ros.inference.models import Manifest
    from fea_ros.inference.onnxruntime_engine import OnnxRuntimeEngine

    OPENVINO_CONFIG["INFERENCE_PRECISION_HINT"] = args.ov_precision
    core = openvino.Core()
    print(f"# onnxruntime {onnxruntime.__version__}, openvino {openvino.__version__}, "
          f"CPU capabilities {core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    recorded = record_inputs(args.step)
    manifest = Manifest()
    print("| network | samples | ORT CPU ms | OV dyn CPU ms | OV static CPU ms | ORT wall ms | OV dyn wall ms | "
          "OV static wall ms | ORT / OV static (CPU) | max abs diff | mean abs diff | OV precision |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.only or list(manifest.entries):
        path = manifest.path(name)
        ort = OnnxRuntimeEngine(path, name=name, threads=1, use_cuda=False)
        samples = inputs_for(name, ort.input_shapes, recorded)
        if not samples:
            print(f"| {name} | no real inputs | | | | | | | | | | |")
            continue
        dynamic, static = OpenVinoNet(core, path, None), OpenVinoNet(core, path, 1)
        precision = static.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        pairs = [(ort.run(sample), static.run(sample)) for sample in samples]
        diff = {k: np.concatenate([np.abs(a[k] - b[k]).ravel() for a, b in pairs]) for k in ort.output_shapes}
        worst = "; ".join(f"{k} {d.max():.2g}" for k, d in diff.items())
        mean = "; ".join(f"{k} {d.mean():.2g}" for k, d in diff.items())
        variants = [ort.run, dynamic.run, static.run]
        for run in variants:  # warm-up
            for sample in samples[:5]:
                run(sample)
        timings: list[list[tuple[float, float]]] = [[] for _ in variants]
        for r in range(args.rounds):
            batch = [samples[(r * args.calls + i) % len(samples)] for i in range(args.calls)]
            for timing, run in zip(timings, variants):
                timing.append(per_call_ms(run, batch))
        cpu = [float(np.median([t[0] for t in timing])) for timing in timings]
        wall = [float(np.median([t[1] for t in timing])) for timing in timings]
        print(f"| {name} | {len(samples)} | {cpu[0]:.2f} | {cpu[1]:.2f} | {cpu[2]:.2f} | {wall[0]:.2f} | "
              f"{wall[1]:.2f} | {wall[2]:.2f} | {cpu[0] / cpu[2]:.2f} | {worst} | {mean} | "
              f"{precision} |", flush=True)
    print(f"# load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
