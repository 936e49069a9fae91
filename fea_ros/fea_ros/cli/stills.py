"""`fea-ros run` on photos: every image on its own, as Pipeline.process_image sees it.

A single image, or a folder of images that is not a numbered frame sequence (core/inputs.is_frame_sequence),
is a set of photos: no face is tracked from one image to the next, nothing is smoothed, no micro-expression
is spotted, and every face is reported from the image it is in. Outputs: one JSON line per image with its
file name, one annotated image per photo (--annotated DIR) and a table with a row per face (--summary).
``--sequence`` (or --fps) runs a folder as video frames instead; ``--stills`` forces photos.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fea_ros.core.errors import InputError
from fea_ros.core.inputs import FrameSource, ImageFolderSource, is_frame_sequence
from fea_ros.core.types import FrameResult

log = logging.getLogger(__name__)
MAX_LOGGED_SKIPS = 5
#: annotated copies keep these suffixes; other formats (e.g. .pgm, which holds no colour) are written as PNG
KEPT_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--sequence", action="store_true",
                      help="run an image folder as the frames of a video (tracking, smoothing, MiE); the default "
                           "for numbered frames such as frame0001.png, frame0002.png, ... or with --fps")
    mode.add_argument("--stills", action="store_true",
                      help="run every image on its own, as photos (the default for a single image or a folder "
                           "of photos)")
    parser.add_argument("--annotated", type=Path, default=None, metavar="DIR",
                        help="photos: write each image with its faces drawn into DIR (videos: use --video)")


def is_stills(source: FrameSource, args: argparse.Namespace) -> bool:
    """Whether ``fea-ros run`` processes this source as separate photos."""
    if not isinstance(source, ImageFolderSource):
        return False
    if args.stills:
        return True
    if args.sequence or args.fps is not None:
        return False
    return not is_frame_sequence(source.files)


def check_arguments(args: argparse.Namespace, stills: bool) -> None:
    """Reject the options that do not apply to the mode, saying what to use instead."""
    if stills and args.video is not None:
        raise InputError("photos are not a video: --annotated DIR writes each photo with its faces drawn; "
                         "pass --sequence to run an image folder as the frames of a video")
    if stills and args.plot is not None:
        raise InputError("--plot draws expressions over time, and photos have no time axis: leave it out "
                         "(--summary lists every face of every photo), or pass --sequence for video frames")
    if not stills and args.annotated is not None:
        raise InputError("--annotated writes annotated photos; for a video, camera or frame sequence use "
                         "--video OUT.mp4 (or pass --stills to run an image folder as separate photos)")


@dataclass
class StillsSummary:
    """One row per face (an image without a face gets a row too)."""

    rows: list[tuple[str, ...]] = field(default_factory=list)
    images: int = 0
    faces: int = 0
    skipped: int = 0

    def add(self, name: str, result: FrameResult) -> None:
        self.images += 1
        self.faces += len(result.faces)
        if not result.faces:
            self.rows.append((name, "-", "no face", "", "", ""))
        for face in result.faces:
            self.rows.append((name, face.face_id, face.expression, f"{face.expression_confidence:.2f}",
                              f"{face.valence:+.2f}", f"{face.arousal:+.2f}"))

    def table(self) -> str:
        header = ("image", "face", "expression", "confidence", "valence", "arousal")
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in self.rows]
        lines.append(f"{self.images} images processed as photos, {self.faces} faces"
                     + (f", {self.skipped} images skipped" if self.skipped else "")
                     + " (valence/arousal are derived from the expression probabilities)")
        return "\n".join(lines)


def with_file_name(record: dict[str, Any], name: str) -> dict[str, Any]:
    """The JSONL record with ``"file"`` after ``"index"`` (docs/output-schema.md)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out[key] = value
        if key == "index":
            out["file"] = name
    return out


def annotated_path(folder: Path, name: str) -> Path:
    path = Path(name)
    return folder / (name if path.suffix.lower() in KEPT_SUFFIXES else f"{name}.png")


def _prepare_annotated_folder(folder: Path, source: ImageFolderSource) -> None:
    from fea_ros.core.visualize import OutputError

    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--annotated {folder} is a file; give a folder to write the annotated photos into")
    if folder.resolve() in {path.parent.resolve() for path in source.files}:
        raise OutputError(f"--annotated {folder} is the folder of the photos themselves: the annotated copies "
                          "would replace them; give another folder")
    folder.mkdir(parents=True, exist_ok=True)


def run_stills(args: argparse.Namespace, source: ImageFolderSource, pipeline: Any, out: IO[str],
               progress: Any) -> StillsSummary:
    """Process every photo of ``source``, writing its JSON line (and annotated copy); returns the summary."""
    import cv2

    from fea_ros.core.serialize import frame_result_to_dict
    from fea_ros.core.visualize import OutputError, annotate

    log.info("%d image(s) processed as separate photos (no tracking or smoothing between them); pass "
             "--sequence for the frames of a video", len(source.files))
    summary = StillsSummary()
    if args.annotated is not None:
        _prepare_annotated_folder(args.annotated, source)
    try:
        for frame in source:
            if args.max_frames is not None and summary.images + summary.skipped >= args.max_frames:
                break
            name = source.files[frame.index].name
            try:
                # no time between photos: every record has stamp 0
                result = pipeline.process_image(frame.image, frame_id=frame.frame_id, index=frame.index)
            except InputError as exc:
                summary.skipped += 1
                if summary.skipped <= MAX_LOGGED_SKIPS:
                    log.warning("image %s skipped: %s", name, exc)
            else:
                record = with_file_name(frame_result_to_dict(result, landmarks=args.landmarks), name)
                out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n")
                summary.add(name, result)
                if args.annotated is not None:
                    path = annotated_path(args.annotated, name)
                    if not cv2.imwrite(str(path), annotate(frame.image, result, landmarks=args.landmarks, still=True)):
                        raise OutputError(f"cannot write {path}")
            progress.update(1)
    except KeyboardInterrupt:
        log.info("interrupted after %d images; writing the outputs", summary.images)
    out.flush()
    return summary


def report(args: argparse.Namespace, summary: StillsSummary, to: IO[str]) -> None:
    if summary.images == 0:
        raise InputError(f"no image of {args.source} could be processed ({summary.skipped} skipped)")
    if args.summary:
        print(summary.table(), file=to)
    written = [str(p) for p in (args.jsonl, args.annotated) if p is not None and str(p) != "-"]
    if written:
        print("wrote " + ", ".join(written), file=to)

