"""One (clip, configuration) run of `fea-ros bench`, meant for a fresh process: the numbers of one row.

Heavy modules (numpy, cv2, the pipeline) are imported inside the functions, so importing this module (as the
CLI does to name `measure` for the child process) stays cheap.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from fea_ros.core.errors import InputError

if TYPE_CHECKING:
    from fea_ros.core.types import Frame

WIDTH, HEIGHT = 640, 480
#: frames decoded at a time before timing them (32 640x480 frames: about 30 MB)
DECODE_CHUNK = 32


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
