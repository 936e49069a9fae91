"""Run the whole pipeline (detector, tracker, FaceMesh, blendshapes, MiE spotter on every face) over video files.

Used by `fea-ros evaluate spotting --videos DIR --labels CSV`: one command that spots every video of a folder and
scores the result. The labels CSV has the columns video, onset, offset, type (seconds; frame numbers with
--frames), and optionally face_x0, face_y0, face_x1, face_y1: the labelled face's box in pixels, which picks the
evaluated face when a video shows several people. ``video`` is the file name with or without its extension.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import InputError
from fea_ros.mie.evaluation import Interval, read_intervals
from fea_ros.mie.multiface import Box, VideoSpotting

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
BOX_COLUMNS = ("face_x0", "face_y0", "face_x1", "face_y1")


@dataclass
class FolderSpotting:
    subject: list[Interval] = field(default_factory=list)
    other_faces: list[Interval] = field(default_factory=list)
    videos: list[VideoSpotting] = field(default_factory=list)

    @property
    def face_minutes(self) -> float:
        return sum(v.face_minutes() for v in self.videos)


def list_videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give a folder of video files ({', '.join(VIDEO_SUFFIXES)})")
    videos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise InputError(f"{folder} holds no video file ({', '.join(VIDEO_SUFFIXES)})")
    return videos


def read_labels(path: Path) -> tuple[list[Interval], dict[str, Box]]:
    """Label intervals (video names without extension) and the labelled face box of each video, if given."""
    intervals = [Interval(Path(i.video).stem, i.onset, i.offset, i.type) for i in read_intervals(path)]
    boxes: dict[str, Box] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if all(row.get(c) not in (None, "") for c in BOX_COLUMNS):
                try:
                    x0, y0, x1, y1 = (float(row[c]) for c in BOX_COLUMNS)
                except ValueError as exc:
                    raise InputError(f"{path}: face_x0..face_y1 must be numbers (pixels)") from exc
                boxes[Path(row["video"]).stem] = (x0, y0, x1, y1)
    return intervals, boxes


def spot_video(path: Path, config: PipelineConfig, progress: tqdm | None = None) -> VideoSpotting:
    from fea_ros.core.inputs import VideoFileSource
    from fea_ros.core.pipeline import Pipeline

    source = VideoFileSource(path)
    pipeline = Pipeline(config)
    spotting = VideoSpotting(path.stem, source.fps)
    try:
        for frame in source:
            result = pipeline.process(frame)
            spotting.frames += 1
            if spotting.first_stamp_ns is None:
                spotting.first_stamp_ns = frame.stamp_ns
            for face in result.faces:
                spotting.see(face.face_id, face.box, frame.stamp_ns)
            for event in result.events:
                spotting.add(event.face_id, [event])
            if progress is not None:
                progress.update()
    finally:
        source.close()
    return spotting


def spot_folder(folder: Path, config: PipelineConfig, boxes: dict[str, Box], frames_unit: bool) -> FolderSpotting:
    """Spot every video of ``folder``; intervals in seconds since each video's first frame (or frame numbers)."""
    from fea_ros.core.inputs import VideoFileSource

    videos = list_videos(folder)
    total = 0
    for path in videos:
        source = VideoFileSource(path)
        total += source.frame_count or 0
        source.close()
    result = FolderSpotting()
    with tqdm(total=total or None, unit="frame", desc="spotting") as progress:
        for path in videos:
            progress.set_postfix_str(path.name)
            spotting = spot_video(path, config, progress)
            fps = spotting.fps

            def unit(ns: int, fps: float = fps) -> float:
                return float(round(ns * 1e-9 * fps)) if frames_unit else ns * 1e-9

            subject, others = spotting.split(unit, boxes.get(path.stem))
            result.subject += subject
            result.other_faces += others
            result.videos.append(spotting)
    return result
