"""`fea-ros bench [pipeline|mie]`: measure the pipeline's speed on the bundled clips.

`pipeline` (the default) runs the 1-face and 3-face sample clips (640x480) in the full and fast
configurations, each in a fresh process (so peak RSS is that configuration's own), and prints per-stage median
and p95 latency, end-to-end fps, the time spent inside the networks against the end-to-end time, and peak RSS.
Frames are decoded outside the timed region. `mie` hands everything after it to the micro-expression
spotting benchmark (fea_ros.mie.benchmark).
"""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from fea_ros.cli.bench.clips import CLIPS, CONFIGS, SAMPLES_DIR
from fea_ros.cli.bench.measuring import measure
from fea_ros.cli.bench.mediapipe_compare import mediapipe_report
from fea_ros.cli.bench.report import Row, load_line, report
from fea_ros.core.errors import InputError


def _add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="ONNX Runtime threads (default 1)")
    parser.add_argument("--stage-threads", type=int, default=1, choices=(1, 2),
                        help="inference.stage_threads: 2 runs the expression nets beside blendshapes + MiE (default 1)")
    parser.add_argument("--frame-pipeline", action=argparse.BooleanOptionalAction, default=None,
                        help="inference.frame_pipeline: detection + mesh of the next frame on a second thread "
                             "while this frame's later stages run (default: the configuration's)")
    parser.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "tensorrt", "auto"),
                        help="inference backend (tensorrt: prebuild the engines first with 'fea-ros engines build')")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "int8"),
                        help="inference.precision (auto: TensorRT fp16; ONNX Runtime int8 where it passed and pays)")
    parser.add_argument("--markdown", action="store_true", help="print the results as BENCHMARKS.md tables")
    parser.add_argument("--clips", default=",".join(CLIPS), help=f"comma-separated subset of {', '.join(CLIPS)}")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of full, fast")
    parser.add_argument("--warmup", type=int, default=10, metavar="N", help="untimed frames first (default 10)")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N", help="time at most N frames per run")
    parser.add_argument("--samples-dir", type=Path, default=None, help="folder with face1.mp4 and faces3.mp4")
    parser.add_argument("--mediapipe", action="store_true",
                        help="also time MediaPipe's own detection + mesh on the same clips (scripts/mediapipe_bench.py, "
                             "its own venv) and print the fea_ros / MediaPipe fps ratio")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="measure latency, fps and memory on the sample clips",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_pipeline_options(parser)
    parser.add_argument("target", nargs="?", choices=("pipeline", "mie"), default="pipeline")
    parser.add_argument("extra", nargs=argparse.REMAINDER,
                        help="for 'mie': arguments passed to the spotting benchmark; for 'pipeline': the options above")
    parser.set_defaults(func=bench_command)


def _selection(text: str, known: tuple[str, ...] | dict, what: str) -> list[str]:
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in known]
    if unknown or not chosen:
        raise InputError(f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from {', '.join(known)}")
    return chosen


def bench_command(args: argparse.Namespace) -> int:
    if args.target == "mie":
        from fea_ros.mie import benchmark

        return int(benchmark.main(list(args.extra)) or 0)
    if args.extra:
        extra_parser = argparse.ArgumentParser(prog="fea-ros bench pipeline")
        _add_pipeline_options(extra_parser)
        args = extra_parser.parse_args(args.extra, namespace=args)
    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    samples = args.samples_dir or SAMPLES_DIR
    clips = _selection(args.clips, CLIPS, "clip")
    configs = _selection(args.configs, CONFIGS, "configuration")
    load = load_line()  # before this run's own processes add to it
    rows = []
    spawn = get_context("spawn")
    for clip in clips:
        path = samples / CLIPS[clip]
        if not path.is_file():
            raise InputError(f"sample clip {path} is missing; make it with 'python fea_ros/scripts/make_sample.py'")
        for config in configs:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                data = pool.submit(measure, str(path), config, args.threads, args.warmup, args.max_frames,
                                   args.backend, args.precision, args.stage_threads,
                                   args.frame_pipeline).result()
            rows.append(Row(clip, config, data))
    print(report(rows, args.threads, args.markdown, args.backend, load, args.precision, args.stage_threads,
                 args.frame_pipeline))
    if args.mediapipe:
        print()
        print(mediapipe_report(rows, samples, args.markdown))
    return 0
