"""`fea-ros run SOURCE`: run the pipeline over a video, an image folder or a camera and write the results.

One JSON line per frame (docs/output-schema.md) to --jsonl or stdout; optionally an annotated mp4, a timeline
plot and a per-face summary table. A photo or a folder of photos is run image by image (cli/stills.py).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generator, Iterable, Iterator

from fea_ros.cli import stills
from fea_ros.cli.common import add_config_arguments, build_config
from fea_ros.core.errors import InputError
from fea_ros.core.types import Frame, FrameResult, MicroExpressionEvent

log = logging.getLogger(__name__)
EVENT_TAG_NS = 1_000_000_000  # how long the annotated video keeps a spotted event's tag on the face
MAX_LOGGED_SKIPS = 5


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the pipeline over a video, image folder or camera",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="video file, folder of images, single image, or camera index (0)")
    parser.add_argument("--jsonl", type=Path, default=None, metavar="OUT.jsonl",
                        help="one JSON line per frame (default: stdout; '-' also means stdout)")
    parser.add_argument("--video", type=Path, default=None, metavar="OUT.mp4", help="annotated video")
    parser.add_argument("--plot", type=Path, default=None, metavar="OUT.png",
                        help="expression probabilities over time, one panel per face")
    parser.add_argument("--landmarks", action="store_true",
                        help="put mesh landmarks and blendshapes in the JSONL and draw landmarks in the video")
    parser.add_argument("--summary", action="store_true", help="print a per-face summary table at the end")
    parser.add_argument("--prefetch", action="store_true",
                        help="decode the next frames of a file or folder on a second thread (off by default)")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    parser.add_argument("--fps", type=float, default=None, metavar="F",
                        help="frame rate of an image folder, which sets its stamps (default 30); implies --sequence")
    stills.add_arguments(parser)
    add_config_arguments(parser)
    parser.set_defaults(func=run_command)


@dataclass
class FaceSummary:
    frames: int = 0
    labels: Counter = field(default_factory=Counter)
    valence_sum: float = 0.0
    arousal_sum: float = 0.0
    events: int = 0
    looking_s: float | None = None  # time looking at the camera (the track's running total)


@dataclass
class RunSummary:
    frames: int = 0
    skipped: int = 0
    faces: dict[str, FaceSummary] = field(default_factory=lambda: defaultdict(FaceSummary))

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        for face in result.faces:
            entry = self.faces[face.face_id]
            entry.frames += 1
            entry.labels[face.expression] += 1
            entry.valence_sum += face.valence
            entry.arousal_sum += face.arousal
            if face.attention is not None:
                entry.looking_s = face.attention.looking_time_s
        for event in result.events:
            self.faces[event.face_id].events += 1

    def table(self) -> str:
        header = ("face", "frames", "dominant", "share", "valence", "arousal", "events", "looking s")
        rows = []
        for face_id in sorted(self.faces, key=lambda k: (-self.faces[k].frames, k)):
            entry = self.faces[face_id]
            if entry.frames == 0:
                continue
            label, count = entry.labels.most_common(1)[0]
            rows.append((face_id, str(entry.frames), label, f"{100 * count / entry.frames:.0f}%",
                         f"{entry.valence_sum / entry.frames:+.2f}", f"{entry.arousal_sum / entry.frames:+.2f}",
                         str(entry.events), "-" if entry.looking_s is None else f"{entry.looking_s:.2f}"))
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        lines.append(f"{self.frames} frames processed, {len(rows)} face ids"
                     + (f", {self.skipped} frames skipped" if self.skipped else "")
                     + " (valence/arousal are derived from the expression probabilities; looking s: time "
                     "spent looking at the camera)")
        return "\n".join(lines)


@contextlib.contextmanager
def _jsonl_output(path: Path | None) -> Iterator[IO[str]]:
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    if path.parent and not path.parent.exists():
        from fea_ros.core.visualize import OutputError

        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist; create it first")
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        yield handle


@dataclass
class _Outputs:
    """Where each processed frame goes: the JSONL stream, the video, the timeline and the summary."""

    jsonl: IO[str]
    landmarks: bool
    summary: RunSummary
    sink: Any = None  # VideoSink | None
    timeline: Any = None  # Timeline | None
    recent_events: list[MicroExpressionEvent] = field(default_factory=list)

    def add(self, frame: Frame, result: FrameResult) -> None:
        from fea_ros.core.serialize import frame_result_to_json
        from fea_ros.core.visualize import annotate

        self.jsonl.write(frame_result_to_json(result, landmarks=self.landmarks) + "\n")
        self.summary.add(result)
        if self.timeline is not None:
            self.timeline.add(result)
        if self.sink is not None:
            self.recent_events = [e for e in self.recent_events + result.events
                                  if result.stamp_ns - e.emitted_ns <= EVENT_TAG_NS]
            self.sink.write(annotate(frame.image, result, landmarks=self.landmarks,
                                     active_events=self.recent_events))


def _process(source: Iterable[Frame], pipeline: Any, outputs: _Outputs, max_frames: int | None,
             progress: Any) -> None:
    from fea_ros.core.frame_pipeline import FrameJob, process_frames

    summary = outputs.summary

    def jobs() -> Iterator[FrameJob[Frame]]:
        for count, frame in enumerate(source):
            if max_frames is not None and count >= max_frames:
                return
            yield FrameJob(frame, frame)

    results = process_frames(pipeline, jobs())  # inference.frame_pipeline: two frames in flight
    try:
        with contextlib.closing(results):
            for frame, result in results:
                if isinstance(result, InputError):  # a bad frame is skipped and counted; the run goes on
                    summary.skipped += 1
                    if summary.skipped <= MAX_LOGGED_SKIPS:
                        log.warning("frame %d skipped: %s", frame.index, result)
                elif result is not None:
                    outputs.add(frame, result)
                progress.update(1)
    except KeyboardInterrupt:  # Ctrl-C ends a camera run; what was processed is still written
        log.info("interrupted after %d frames; writing the outputs", summary.frames)


def run_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fea_ros.core.inputs import ImageFolderSource, open_source
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.core.prefetch import prefetch
    from fea_ros.core.visualize import Timeline, VideoSink, plot_timeline

    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be at least 1, got {args.max_frames}")
    config = build_config(args.config, args.fast, args.threads, getattr(args, "stage_threads", None),
                          getattr(args, "frame_pipeline", None))
    jsonl_to_stdout = args.jsonl is None or str(args.jsonl) == "-"
    summary = RunSummary()
    timeline = Timeline() if args.plot else None
    with open_source(args.source, fps=args.fps) as source:
        log.info("source: %s", source.description)
        photos = stills.is_stills(source, args)
        stills.check_arguments(args, photos)
        pipeline = Pipeline(config)
        if photos and isinstance(source, ImageFolderSource):
            show_progress = not jsonl_to_stdout or sys.stderr.isatty()
            try:
                with _jsonl_output(args.jsonl) as out, tqdm(total=source.frame_count, unit="image", file=sys.stderr,
                                                            disable=not show_progress, dynamic_ncols=True) as progress:
                    still_summary = stills.run_stills(args, source, pipeline, out, progress)
            except BrokenPipeError:  # as below: the reader of stdout has what it wanted
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return 0
            stills.report(args, still_summary, sys.stderr if jsonl_to_stdout else sys.stdout)
            return 0
        total = source.frame_count
        if args.max_frames is not None:
            total = min(total, args.max_frames) if total is not None else args.max_frames
        show_progress = not jsonl_to_stdout or sys.stderr.isatty()
        sink = VideoSink(args.video, source.fps) if args.video else None
        try:
            with _jsonl_output(args.jsonl) as out, tqdm(total=total, unit="frame", file=sys.stderr,
                                                        disable=not show_progress, dynamic_ncols=True) as progress:
                outputs = _Outputs(jsonl=out, landmarks=args.landmarks, summary=summary, sink=sink,
                                   timeline=timeline)
                # --prefetch: a file or folder is decoded a few frames ahead on a second thread; a camera is
                # always read as it comes, so no frame waits in a queue and grows old
                depth = 2 if getattr(args, "prefetch", False) and source.frame_count is not None else 0
                frames: Generator[Frame, None, None] = prefetch(source, depth=depth)
                with contextlib.closing(frames):
                    _process(frames, pipeline, outputs, args.max_frames, progress)
                out.flush()
        except BrokenPipeError:  # e.g. `fea-ros run clip.mp4 | head`: the reader has what it wanted
            # point stdout at /dev/null so the interpreter's final flush does not raise again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        finally:
            if sink is not None:
                sink.close()
    if summary.frames == 0:
        raise InputError(f"no frame of {args.source} could be processed ({summary.skipped} skipped)")
    if timeline is not None:
        plot_timeline(timeline, args.plot, title=f"fea-ros run {Path(str(args.source)).name}")
    report = sys.stderr if jsonl_to_stdout else sys.stdout
    if args.summary:
        print(summary.table(), file=report)
    written = [str(p) for p in (args.jsonl, args.video, args.plot) if p is not None and str(p) != "-"]
    if written:
        print("wrote " + ", ".join(written), file=report)
    return 0
