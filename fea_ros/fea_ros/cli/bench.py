"""`fea-ros bench [pipeline|mie]`: measure the pipeline's speed on the bundled clips.

`pipeline` (the default) runs the 1-face and 3-face sample clips (640x480) in the full and fast
configurations, each in a fresh process (so peak RSS is that configuration's own), and prints per-stage median
and p95 latency, end-to-end fps, the time spent inside the networks against the end-to-end time, and peak RSS.
Frames are decoded outside the timed region. `mie` hands everything after it to the micro-expression
spotting benchmark (fea_ros.mie.benchmark).
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from fea_ros.core.errors import InputError

if TYPE_CHECKING:
    from fea_ros.core.types import Frame

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples"
CLIPS = {"face1": "face1.mp4", "faces3": "faces3.mp4"}
CONFIGS = ("full", "fast")
STAGES = ("detect", "track", "landmarks", "expression", "blendshapes", "temporal", "mie", "attention")
#: the attention stage's budget per face (issue 11)
ATTENTION_MS_PER_FACE_TARGET = 0.3
WIDTH, HEIGHT = 640, 480
#: frames decoded at a time before timing them (32 640x480 frames: about 30 MB)
DECODE_CHUNK = 32
#: the issue's targets: (clip, config) -> minimum end-to-end fps
#: issue 12 (speed, round 2); issue 3 had 50 / 120 / 20 fps and 600 MB
FPS_TARGETS = {("face1", "full"): 120.0, ("face1", "fast"): 220.0, ("faces3", "full"): 50.0}
RSS_TARGET_MB = 300.0


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


@dataclass
class Stats:
    median_ms: float
    p95_ms: float


def _stats(values: list[float]) -> Stats:
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    return Stats(float(np.median(array)), float(np.percentile(array, 95)))


def _find_engines(root: Any) -> list[Any]:
    """Every Engine reachable from the pipeline's attributes (stages hold them)."""
    from fea_ros.inference.engine import Engine

    found: dict[int, Any] = {}
    seen: set[int] = set()
    pending: list[tuple[Any, int]] = [(root, 0)]
    while pending:
        node, depth = pending.pop()
        if id(node) in seen or depth > 4:
            continue
        seen.add(id(node))
        if isinstance(node, Engine) and not isinstance(node, type):
            found[id(node)] = node
            continue
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, (list, tuple)):
            children = list(node)
        elif type(node).__module__.startswith("fea_ros") and hasattr(node, "__dict__"):
            children = list(vars(node).values())
        else:
            continue
        pending.extend((child, depth + 1) for child in children)
    return list(found.values())


class _NetworkClock:
    """Adds up the wall time and calls spent in Engine.run, per network, of the wrapped engines."""

    def __init__(self, engines: list[Any]) -> None:
        import time

        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.wrapped = 0
        for engine in engines:
            inner, name = engine.run, str(getattr(engine, "name", type(engine).__name__))

            def timed(inputs: dict, _inner: Any = inner, _name: str = name) -> dict:
                start = time.perf_counter()
                try:
                    return _inner(inputs)
                finally:
                    self.seconds[_name] = self.seconds.get(_name, 0.0) + time.perf_counter() - start
                    self.calls[_name] = self.calls.get(_name, 0) + 1

            try:
                engine.run = timed
                self.wrapped += 1
            except AttributeError:  # an engine class with __slots__: its time stays in the overhead
                pass

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    def clear(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def measure(clip_path: str, config_name: str, threads: int, warmup: int, max_frames: int | None,
            backend: str = "onnxruntime", precision: str = "auto", stage_threads: int = 1,
            frame_pipeline: bool | None = None) -> dict[str, Any]:
    """One (clip, configuration) run; called in a fresh process so ru_maxrss is this run's peak.

    Frames stream through core/frame_pipeline.py as in `fea-ros run`; a frame's time is the wall (and CPU)
    time from the previous result to its own, less the time its decode took, so with the frame pipeline on it
    is the interval between results (throughput), not one frame's latency.
    """
    import resource
    import time

    import cv2
    from tqdm import tqdm

    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.frame_pipeline import FrameJob, process_frames
    from fea_ros.core.inputs import VideoFileSource
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.core.types import FrameResult

    config = PipelineConfig.fast() if config_name == "fast" else PipelineConfig()
    config.inference.threads = threads
    config.inference.backend = backend
    config.inference.precision = precision
    config.inference.stage_threads = stage_threads
    if frame_pipeline is not None:
        config.inference.frame_pipeline = frame_pipeline
    pipeline = Pipeline(config)
    clock = _NetworkClock(_find_engines(pipeline))

    def frames() -> Iterator[Frame]:
        with VideoFileSource(clip_path) as source:
            for frame in source:
                if frame.image.shape[:2] != (HEIGHT, WIDTH):
                    frame.image = cv2.resize(frame.image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
                yield frame

    for count, frame in enumerate(frames()):
        if count >= warmup:
            break
        pipeline.process(frame)
    pipeline.reset()
    clock.clear()
    end_to_end: list[float] = []
    cpu: list[float] = []  # CPU time of the whole process (all threads) per frame
    main_cpu: list[float] = []  # of that, this thread's (the rest: the frame pipeline's front half, ONNX threads)
    stages: dict[str, list[float]] = {}
    faces = 0
    faces_each: list[int] = []
    last_result = None
    with VideoFileSource(clip_path) as probe:
        total = probe.frame_count
    if max_frames is not None and total is not None:
        total = min(total, max_frames)
    decode = [0.0, 0.0]  # wall s, this thread's CPU s spent decoding since the last result: not the pipeline's

    def jobs() -> Iterator[FrameJob[None]]:
        # decoded DECODE_CHUNK frames at a time, so the decode interrupts the stream (and overlaps a frame
        # pipeline's front half) rarely, at a bounded memory cost
        stream, count, more = frames(), 0, True
        while more and (max_frames is None or count < max_frames):
            start, cpu_start = time.perf_counter(), time.thread_time()
            want = DECODE_CHUNK if max_frames is None else min(DECODE_CHUNK, max_frames - count)
            chunk = list(itertools.islice(stream, want))
            decode[0] += time.perf_counter() - start
            decode[1] += time.thread_time() - cpu_start
            count += len(chunk)
            for frame in chunk:
                yield FrameJob(None, frame)
            more = len(chunk) == want
            chunk = []  # not held while the next chunk is decoded

    with tqdm(total=total, unit="frame", desc=f"{Path(clip_path).stem} {config_name}", file=sys.stderr,
              leave=False) as progress:
        results = process_frames(pipeline, jobs())
        last, cpu_last, main_last = time.perf_counter(), time.process_time(), time.thread_time()
        for _, result in results:
            now, cpu_now, main_now = time.perf_counter(), time.process_time(), time.thread_time()
            end_to_end.append((now - last - decode[0]) * 1e3)
            cpu.append((cpu_now - cpu_last - decode[1]) * 1e3)
            main_cpu.append((main_now - main_last - decode[1]) * 1e3)
            last, cpu_last, main_last, decode[:] = now, cpu_now, main_now, [0.0, 0.0]
            if not isinstance(result, FrameResult):
                raise InputError(f"{clip_path}: the pipeline refused a frame: {result}")
            if any(face.attention is not None for face in result.faces):
                last_result = result
            faces += len(result.faces)
            faces_each.append(len(result.faces))
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
            progress.update(1)
    return {
        "attention_isolated_ms": _attention_isolated_ms(pipeline, last_result) if last_result else None,
        "frames": len(end_to_end),
        "faces_per_frame": faces / max(1, len(end_to_end)),
        "faces_each": faces_each,
        "end_to_end_ms": end_to_end,
        "cpu_ms": cpu,
        "main_cpu_ms": main_cpu,
        "stages_ms": stages,
        "network_ms_total": clock.total_s * 1e3 if clock.wrapped else None,
        "engines_timed": clock.wrapped,
        "network_ms": {name: seconds * 1e3 for name, seconds in sorted(clock.seconds.items())},
        "network_calls": dict(sorted(clock.calls.items())),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "frame_pipeline": config.inference.frame_pipeline,
    }


def _attention_isolated_ms(pipeline: Any, result: Any, calls: int = 200, repeats: int = 5) -> float | None:
    """The attention stage alone on one frame's real meshes: best of ``repeats`` x ``calls``, ms per face.

    The in-pipeline median suffers every preemption of a shared machine; the best of several runs of the
    same work is the stage's own cost.
    """
    import timeit

    from fea_ros.core.attention import AttentionEstimator

    if pipeline.attention is None:
        return None
    faces = [face for face in result.faces if face.attention is not None]
    estimator = AttentionEstimator(pipeline.attention.geometry, pipeline.config.attention)
    work = [(face.face_id, face.landmarks.points, face.attention.camera) for face in faces]

    def run() -> None:
        for face_id, points, camera in work:
            estimator.update(face_id, 0, points, camera)

    best_s = min(timeit.repeat(run, number=calls, repeat=repeats))
    return best_s / calls / len(work) * 1e3


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    import onnxruntime

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (f"CPU: {cpu_model()}, {cores} cores ({usable} usable), {platform.machine()}; "
            f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}")


def load_line() -> str:
    """The 1/5/15-minute load average: on a shared machine it says how far the numbers can be trusted."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average: unknown"
    return f"load average before the run: {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def mediapipe_report(rows: list[Row], samples: Path, markdown: bool) -> str:
    """MediaPipe's detection + mesh on the same clips (own venv), and fea_ros's fps as a share of it."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "mediapipe_bench.py"
    if not script.is_file():
        raise InputError(f"{script} is missing: --mediapipe needs a source checkout of fea_ros")
    import importlib.util

    spec = importlib.util.spec_from_file_location("fea_ros_mediapipe_bench", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    clips = sorted({row.clip for row in rows}, key=list(CLIPS).index)
    measured = module.measure(clips, [1, 2], samples_dir=samples)
    lines = [module.table(measured), ""]
    header = ["clip", "fea_ros config", "fea_ros fps", "MediaPipe fps (2 cores)", "fea_ros / MediaPipe fps",
              "fea_ros CPU ms/frame", "MediaPipe CPU ms/frame", "MediaPipe / fea_ros CPU time"]
    body = []
    for row in rows:
        reference = next((m for m in measured if m["clip"] == row.clip and m["cores"] == 2), None)
        if reference is not None:
            cpu = sum(row.data["cpu_ms"]) / max(1, row.data["frames"])
            body.append([row.clip, row.config, f"{row.fps:.1f}", f"{reference['fps']:.1f}",
                         f"{row.fps / reference['fps']:.2f}", f"{cpu:.2f}", f"{reference['cpu_ms']:.2f}",
                         f"{reference['cpu_ms'] / cpu:.2f}"])
    lines.append(_format(header, body, markdown))
    return "\n".join(lines)


@dataclass
class Row:
    clip: str
    config: str
    data: dict[str, Any]

    @property
    def total_ms(self) -> float:
        return sum(self.data["end_to_end_ms"])

    @property
    def fps(self) -> float:
        return 1e3 * self.data["frames"] / self.total_ms if self.total_ms > 0 else float("nan")

    @property
    def overhead_pct(self) -> float | None:
        network = self.data["network_ms_total"]
        if network is None or self.data.get("frame_pipeline"):  # networks on two threads: no share of wall time
            return None
        return 100.0 * (self.total_ms - network) / self.total_ms

    @property
    def busiest_thread_cpu_ms(self) -> float:
        """CPU ms per frame of the busier of: the thread that runs the pipeline, all others together.

        1000 / this bounds the fps with two free cores (the frame pipeline splits the work between two).
        """
        frames = max(1, self.data["frames"])
        main = sum(self.data.get("main_cpu_ms", self.data["cpu_ms"])) / frames
        return max(main, sum(self.data["cpu_ms"]) / frames - main)

    @property
    def outside_ms_per_face(self) -> float:
        """CPU time outside the networks per face per frame (everything but Engine.run, MiE included)."""
        faces = max(1e-9, self.data["faces_per_frame"]) * self.data["frames"]
        return (self.total_ms - (self.data["network_ms_total"] or 0.0)) / faces

    @property
    def overhead_without_mie_pct(self) -> float | None:
        """Time outside the networks, leaving out the MiE spotter (a stage with no network at all)."""
        network = self.data["network_ms_total"]
        if network is None or self.data.get("frame_pipeline"):
            return None
        total = self.total_ms - sum(self.data["stages_ms"].get("mie", []))
        return 100.0 * (total - network) / total if total > 0 else None

    def target(self) -> str:
        goal = FPS_TARGETS.get((self.clip, self.config))
        return "-" if goal is None else f">= {goal:.0f} fps: {'met' if self.fps >= goal else 'MISSED'}"


def _summary_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["clip", "config", "frames", "faces/frame", "fps", "e2e median ms", "e2e p95 ms",
              "networks ms/frame", "overhead %", "overhead % w/o MiE", "peak RSS MB", "CPU ms/frame",
              "busiest thread CPU ms/frame", "outside networks ms/face", "target"]
    body = []
    for row in rows:
        e2e = _stats(row.data["end_to_end_ms"])
        network = row.data["network_ms_total"]
        overhead = row.overhead_pct
        overhead_without_mie = row.overhead_without_mie_pct
        body.append([row.clip, row.config, str(row.data["frames"]), f"{row.data['faces_per_frame']:.2f}",
                     f"{row.fps:.1f}", f"{e2e.median_ms:.2f}", f"{e2e.p95_ms:.2f}",
                     "n/a" if network is None else f"{network / row.data['frames']:.2f}",
                     "n/a" if overhead is None else f"{overhead:.1f}",
                     "n/a" if overhead_without_mie is None else f"{overhead_without_mie:.1f}",
                     f"{row.data['peak_rss_mb']:.0f}",
                     f"{sum(row.data['cpu_ms']) / max(1, row.data['frames']):.2f}",
                     f"{row.busiest_thread_cpu_ms:.2f}",
                     "n/a" if network is None or row.data.get("frame_pipeline") else f"{row.outside_ms_per_face:.2f}",
                     row.target()])
    return header, body


def _stage_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["stage ms: median / p95 / mean"] + [f"{row.clip} {row.config}" for row in rows]
    names = list(STAGES) + sorted({s for row in rows for s in row.data["stages_ms"]} - set(STAGES))
    body = []
    for stage in names:
        cells = []
        for row in rows:
            values = row.data["stages_ms"].get(stage)
            if not values or max(values) < 1e-3:  # a switched-off stage reports (about) 0 ms
                cells.append("-")
            else:
                stats = _stats(values)
                cells.append(f"{stats.median_ms:.2f} / {stats.p95_ms:.2f} / {sum(values) / len(values):.2f}")
        if any(c != "-" for c in cells):
            body.append([stage] + cells)
    per_face = []
    for row in rows:  # head pose + gaze + engagement: the stage's budget is per face
        values = row.data["stages_ms"].get("attention") or []
        shares = [ms / count for ms, count in zip(values, row.data.get("faces_each", [])) if count and ms > 0]
        if shares:
            stats = _stats(shares)
            per_face.append(f"{stats.median_ms:.3f} / {stats.p95_ms:.3f} (target {ATTENTION_MS_PER_FACE_TARGET})")
        else:
            per_face.append("-")
    if any(c != "-" for c in per_face):
        body.append(["attention ms per face: median / p95"] + per_face)
        body.append(["attention ms per face, stage alone (best of 5 x 200)"] + [
            f"{row.data['attention_isolated_ms']:.3f}" if row.data.get("attention_isolated_ms") is not None else "-"
            for row in rows])
    return header, body


def _network_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["network: ms per frame (calls per frame)"] + [f"{row.clip} {row.config}" for row in rows]
    names = sorted({name for row in rows for name in row.data.get("network_ms", {})})
    body = []
    for name in names:
        cells = []
        for row in rows:
            frames = max(1, row.data["frames"])
            if name in row.data.get("network_ms", {}):
                cells.append(f"{row.data['network_ms'][name] / frames:.2f} "
                             f"({row.data['network_calls'][name] / frames:.2f})")
            else:
                cells.append("-")
        body.append([name] + cells)
    return header, body


def _format(header: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(header[i]), *(len(cells[i]) for cells in body)) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    return "\n".join(lines + ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in body])


def report(rows: list[Row], threads: int, markdown: bool, backend: str = "onnxruntime", load: str = "",
           precision: str = "auto", stage_threads: int = 1, frame_pipeline: bool | None = None) -> str:
    from fea_ros.core.config import InferenceConfig

    engine = f"{threads} ONNX Runtime thread(s) per network" if backend == "onnxruntime" else f"backend {backend}"
    pipelined = InferenceConfig().frame_pipeline if frame_pipeline is None else frame_pipeline
    engine += (f", inference.precision {precision}, stage threads {stage_threads}, frame pipeline "
               f"{'on (fps from the interval between results)' if pipelined else 'off'}")
    parts = [machine_line(), f"640x480, {engine}, frames decoded outside the timed region"] + ([load] if load else [])
    if markdown:
        parts = [f"- {p}" for p in parts]
    parts += ["", _format(*_summary_rows(rows), markdown), "", _format(*_stage_rows(rows), markdown)]
    if any(row.data.get("network_ms") for row in rows):
        parts += ["", _format(*_network_rows(rows), markdown)]
    if rows and rows[0].data["network_ms_total"] is not None:
        parts += ["", "networks ms/frame: wall time inside Engine.run; overhead %: share of the end-to-end time "
                  "spent outside the networks (pre/post-processing, tracking, smoothing, MiE spotting, Python); "
                  "w/o MiE: the same without the MiE spotter stage, which runs no network; CPU ms/frame: "
                  "process CPU time (every thread) per frame, which a busy machine moves far less than wall time; with the "
                  "frame pipeline on, networks ms/frame adds up both threads and the shares of wall time are n/a; busiest "
                  "thread: the CPU ms/frame of the thread running the pipeline or of all others together, "
                  "whichever is more (1000 / it bounds the fps on two free cores)"]
    parts.append(f"peak RSS: ru_maxrss of the process that ran that row (target <= {RSS_TARGET_MB:.0f} MB)")
    return "\n".join(parts)


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
