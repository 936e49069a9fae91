"""Adapters for the licensed MEGC spotting datasets: CAS(ME)^2 and SAMM Long Videos.

Neither dataset can be downloaded freely; users who hold them point these adapters at their copy.

CAS(ME)^2 (30 fps): label workbook ``CAS(ME)^2code_final.xlsx`` (or the same sheets exported as CSV):
  * sheet 1 (``CASFEcode_final``), no header: subject number, clip name (``anger1_1``), onset, apex, offset,
    AUs, emotion, type (``micro-expression`` / ``macro-expression``), self-report. Frame numbers start at 1;
    an offset of 0 means "not marked" and is replaced by the apex.
  * sheet 2 (``naming rule1``): column 2 the folder (``s15``), column 3 the subject number.
  * sheet 3 (``naming rule2``): column 1 the video code (``0401``), column 2 the name (``anger1``).
  Frames: ``rawpic/<folder>/<NN>_<code><name>/img<N>.jpg``. Video id: ``<folder>_<code>`` (``s15_0401``).

SAMM Long Videos (200 fps): workbook ``SAMM_LongVideos_V*_Release.xlsx``, first sheet; some metadata rows, then
a header row with Subject, Filename, Inducement Code, Onset, Apex, Offset, Duration, Type, Action Units, Notes.
Filename ``006_1_2`` = subject 006, video 1, expression 2; Type ``Macro`` or ``Micro - 1/2``; an apex of -1 means
"not marked". Frames: ``SAMM_longvideos/<subject>_<video>/<subject>_<video>_<NNNN>.jpg``. Video id ``006_1``.

CSV exports: the CAS(ME)^2 sheets as ``<name>.csv``, ``<name>_naming1.csv`` and ``<name>_naming2.csv``; the
SAMM-LV sheet as one CSV with the same header row.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np
from tqdm import tqdm

from fea_ros.core.types import ActionUnits, Landmarks
from fea_ros.mie.errors import DatasetLayoutError
from fea_ros.mie.evaluation import Interval, normalise_type
from fea_ros.mie.multiface import VideoSpotting
from fea_ros.mie.spotter import MieSpotter

CASME2_FPS = 30.0
SAMMLV_FPS = 200.0
SAMM_COLUMNS = ("Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type")

#: image, stamp -> (landmarks, action units) of the face to spot in, or (None, None)
#: every face of a frame: face id -> (landmarks, action units, box x0 y0 x1 y1 or None)
AnalysedFace = tuple[Landmarks | None, ActionUnits | None, "np.ndarray | None"]
FaceAnalyser = Callable[[np.ndarray, int], dict[str, AnalysedFace]]


@dataclass(frozen=True)
class LabelledInterval:
    video: str
    subject: str
    onset: int  # frame numbers as in the label sheet (1-based, inclusive)
    apex: int
    offset: int
    type: str  # MICRO | MACRO

    def interval(self) -> Interval:
        return Interval(self.video, float(self.onset), float(self.offset), self.type)


def _sheets(path: Path) -> list[list[list[Any]]]:  # cells: str, float, int, None
    """All sheets of an xlsx workbook, or [the CSV's rows] (plus the naming CSVs for CAS(ME)^2)."""
    if not path.is_file():
        raise DatasetLayoutError(f"label file {path} does not exist")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            import openpyxl
        except ImportError as exc:
            raise DatasetLayoutError("reading .xlsx label sheets needs openpyxl (pip install openpyxl), or "
                                     "export the sheets to CSV") from exc
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook.worksheets]
    sheets = []
    for candidate in (path, path.with_name(f"{path.stem}_naming1.csv"), path.with_name(f"{path.stem}_naming2.csv")):
        if candidate.is_file():
            with candidate.open(newline="", encoding="utf-8-sig") as handle:
                sheets.append([list(row) for row in csv.reader(handle)])
    return sheets


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def read_casme2_labels(path: str | Path) -> list[LabelledInterval]:
    path = Path(path)
    sheets = _sheets(path)
    if len(sheets) < 3:
        raise DatasetLayoutError(f"{path}: CAS(ME)^2 labels need three sheets (codes, naming rule1, naming rule2); "
                                 f"found {len(sheets)}. For CSV give {path.stem}_naming1.csv and _naming2.csv too")
    folders = {int(n): str(row[1]).strip() for row in sheets[1] if len(row) > 2 and (n := _number(row[2])) is not None}
    codes = {str(row[1]).strip(): str(row[0]).strip().zfill(4) for row in sheets[2] if len(row) > 1 and row[1]}
    labels = []
    for number, row in enumerate(sheets[0], 1):
        if len(row) < 8 or _number(row[0]) is None or _number(row[2]) is None:
            continue  # header or empty row
        subject = folders.get(int(float(row[0])))
        name = str(row[1]).split("_")[0]
        if subject is None or name not in codes:
            raise DatasetLayoutError(f"{path}: row {number}: subject {row[0]} or clip {row[1]} is not in the "
                                     "naming sheets")
        onset, apex, offset = (int(_number(v) or 0) for v in row[2:5])
        offset = offset or apex or onset
        apex = apex or (onset + offset) // 2
        labels.append(LabelledInterval(f"{subject}_{codes[name]}", subject, onset, apex, offset,
                                       normalise_type(str(row[7]))))
    return labels


def read_sammlv_labels(path: str | Path) -> list[LabelledInterval]:
    path = Path(path)
    rows = _sheets(path)[0]
    header_at = next((i for i, row in enumerate(rows) if row and "Filename" in [str(c).strip() for c in row]), None)
    if header_at is None:
        raise DatasetLayoutError(f"{path}: no header row with 'Filename'; expected the SAMM-LV columns "
                                 f"{', '.join(SAMM_COLUMNS)}")
    header = [str(c).strip() if c is not None else "" for c in rows[header_at]]
    column = {name: header.index(name) for name in ("Filename", "Onset", "Apex", "Offset", "Type") if name in header}
    if len(column) < 5:
        raise DatasetLayoutError(f"{path}: header lacks one of Filename, Onset, Apex, Offset, Type")
    labels = []
    for number, row in enumerate(rows[header_at + 1:], header_at + 2):
        onset_value = _number(row[column["Onset"]]) if row else None
        if not row or row[column["Filename"]] in (None, "") or onset_value is None:
            continue
        parts = str(row[column["Filename"]]).split("_")
        offset_value = _number(row[column["Offset"]])
        if offset_value is None:
            raise DatasetLayoutError(f"{path}: row {number}: Offset {row[column['Offset']]!r} is not a frame number")
        onset = int(round(onset_value))
        offset = int(round(offset_value))
        apex = int(round(_number(row[column["Apex"]]) or -1))
        if apex < 0:
            apex = (onset + offset) // 2
        labels.append(LabelledInterval("_".join(parts[:2]), parts[0], onset, apex, offset,
                                       normalise_type(str(row[column["Type"]]))))
    return labels


def frame_number(path: Path) -> int:
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise DatasetLayoutError(f"{path} has no frame number in its name")
    return int(digits[-1])


def list_frames(folder: Path) -> list[Path]:
    frames = sorted((p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp")),
                    key=frame_number)
    if not frames:
        raise DatasetLayoutError(f"{folder} holds no .jpg/.png frames")
    return frames


def casme2_video_folder(root: Path, video: str) -> Path:
    subject, code = video.split("_", 1)
    matches = sorted((root / "rawpic" / subject).glob(f"*_{code}*"))
    if not matches:
        raise DatasetLayoutError(f"no folder rawpic/{subject}/*_{code}* under {root}")
    return matches[0]


def sammlv_video_folder(root: Path, video: str) -> Path:
    for candidate in (root / "SAMM_longvideos" / video, root / video):
        if candidate.is_dir():
            return candidate
    raise DatasetLayoutError(f"no folder SAMM_longvideos/{video} under {root}")


def spot_frames(frames: Iterable[Path], fps: float, spotter: MieSpotter, analyse: FaceAnalyser,
                video: str) -> VideoSpotting:
    """Run the spotter on every face of a frame sequence."""
    spotter.reset()
    spotting = VideoSpotting(video, fps)
    for i, path in enumerate(tqdm(list(frames), desc=video, unit="frame", leave=False)):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DatasetLayoutError(f"{path} cannot be decoded as an image")
        stamp_ns = int(round(i * 1e9 / fps))
        spotting.frames += 1
        for face_id, (landmarks, action_units, box) in analyse(image, stamp_ns).items():
            spotting.see(face_id, box, stamp_ns)
            spotting.add(face_id, spotter.update(face_id, stamp_ns, image, landmarks, action_units))
    return spotting


def frame_unit(fps: float, first_frame: int) -> Callable[[int], float]:
    """ns since the first frame -> inclusive frame number of the sequence."""
    return lambda ns: float(first_frame + int(round(ns * 1e-9 * fps)))


def pipeline_analyser() -> FaceAnalyser:
    """Landmarks, action units and boxes of every tracked face, from fea_ros's Pipeline (MiE stage off)."""
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.core.types import Frame

    config = PipelineConfig()
    config.mie.enabled = False
    pipeline = Pipeline(config)
    last_stamp = [-1]

    def analyse(image: np.ndarray, stamp_ns: int) -> dict[str, AnalysedFace]:
        if stamp_ns <= last_stamp[0]:
            pipeline.reset()
        last_stamp[0] = stamp_ns
        result = pipeline.process(Frame(image=image, stamp_ns=stamp_ns))
        return {face.face_id: (face.landmarks, face.action_units, face.box) for face in result.faces}

    return analyse


@dataclass
class DatasetPredictions:
    subject: list[Interval]  # on each video's labelled subject (frame numbers)
    other_faces: list[Interval]  # on any other face: all false positives
    videos: list[VideoSpotting]


def spot_dataset(kind: str, root: str | Path, labels: list[LabelledInterval], spotter: MieSpotter,
                 analyse: FaceAnalyser | None = None, fps: float | None = None,
                 videos: list[str] | None = None) -> DatasetPredictions:
    """Predictions (frame numbers) for every labelled video of a CAS(ME)^2 or SAMM-LV copy under ``root``.

    The spotter runs on every face; the subject of a video is the face seen in the most frames (these datasets
    film one person), and every other face's events are returned apart.
    """
    root = Path(root)
    if kind not in ("casme2", "sammlv"):
        raise DatasetLayoutError(f"unknown dataset kind {kind!r}; use casme2 or sammlv")
    folder_of = casme2_video_folder if kind == "casme2" else sammlv_video_folder
    rate = fps or (CASME2_FPS if kind == "casme2" else SAMMLV_FPS)
    analyse = analyse or pipeline_analyser()
    result = DatasetPredictions([], [], [])
    for video in videos or sorted({label.video for label in labels}):
        frames = list_frames(folder_of(root, video))
        spotting = spot_frames(frames, rate, spotter, analyse, video)
        subject, others = spotting.split(frame_unit(rate, frame_number(frames[0])))
        result.subject += subject
        result.other_faces += others
        result.videos.append(spotting)
    return result
