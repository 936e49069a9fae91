"""`fea-ros bench mie`: the streaming spotter and the MDMD-style baseline on the synthetic benchmark.

The clips come from fea_ros/scripts/make_mie_benchmark.py (real face photos with injected movements of known
onset/apex/offset, plus blinks, head motion, lighting drift, noise, JPEG or lossless frames and, in a third of
the clips, a rigid bystander face cut by the frame edge). Reported per frame rate: F1 for MiE, MaE and overall
at IoU 0.5 (MEGC protocol, evaluation.py) on the subject's face and over all faces, recall per movement
category (synthetic_plan.CATEGORIES), false positives per minute on the neutral clips, events on bystanders,
events that ran into the length cap on neutral clips, the delay from an event's offset to its emission, and the
spotter's cost per face per frame (CPU time of the process during ``MieSpotter.update``).

The spotter runs on every face (as the pipeline does), each with its own state. Landmarks: ``--landmarks truth``
(default) uses the clip's stored per-frame landmarks of the subject and the bystander; ``--landmarks facemesh``
runs fea_ros's Pipeline (detector + tracker + FaceMesh + blendshapes) on every frame instead, and a tracked face
is the subject when its box centre lies inside the box of the subject's stored landmarks, else another face.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from tqdm import tqdm

from fea_ros.core.config import MieConfig, apply_overrides
from fea_ros.core.errors import InputError
from fea_ros.core.types import ActionUnits, Landmarks, MicroExpressionEvent
from fea_ros.mie.alignment import FaceAligner
from fea_ros.mie.baseline_mdmd import MdmdConfig, mdmd_spot
from fea_ros.mie.evaluation import Interval, SpottingScores, evaluate, found_truths, normalise_type
from fea_ros.mie.spotter import MieSpotter

DEFAULT_DATA = Path("out") / "mie_benchmark" / "seed-8"
TUNED_ON_SEEDS = (1, 2, 3, 4, 5, 6, 7)  # seeds 8 to 21 are held out (BENCHMARKS.md: which step looked at which)
SUBJECT = "subject"
#: (landmarks, action units) of every face in a frame, keyed by face id
FaceSource = Callable[[np.ndarray, int, np.ndarray | None], dict[str, tuple[Landmarks, ActionUnits | None]]]


@dataclass
class MethodResult:
    predictions: list[Interval] = field(default_factory=list)  # on the subject's face
    other_faces: list[Interval] = field(default_factory=list)  # on any other face (all false positives)
    neutral_false_positives: int = 0
    neutral_capped: int = 0  # neutral-clip events as long as the length cap
    delays_s: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)  # per face and frame


@dataclass
class RateResult:
    fps: float
    neutral_minutes: float = 0.0
    bystander_minutes: float = 0.0
    truths: list[Interval] = field(default_factory=list)
    categories: list[tuple[str, ...]] = field(default_factory=list)  # per truth
    spotter: MethodResult = field(default_factory=MethodResult)
    baseline: MethodResult = field(default_factory=MethodResult)

    def scores(self, method: MethodResult, all_faces: bool = False) -> SpottingScores:
        return evaluate(method.predictions + (method.other_faces if all_faces else []), self.truths)

    def category_recall(self, method: MethodResult) -> dict[str, dict[str, tuple[int, int]]]:
        """category -> type ("MICRO", "MACRO", "all") -> (found, total), subject-face predictions."""
        found = found_truths(method.predictions, self.truths)
        table: dict[str, dict[str, list[int]]] = {}
        for truth, categories, hit in zip(self.truths, self.categories, found):
            for category in categories:
                row = table.setdefault(category, {"MICRO": [0, 0], "MACRO": [0, 0], "all": [0, 0]})
                for key in (truth.type, "all"):
                    row[key][0] += int(hit)
                    row[key][1] += 1
        return {c: {k: (v[0], v[1]) for k, v in row.items()} for c, row in table.items()}


def load_truth(path: Path) -> tuple[list[Interval], list[tuple[str, ...]]]:
    """Truth intervals of the subject's face and each one's categories (empty for older benchmark folders)."""
    truths, categories = [], []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("face", SUBJECT) != SUBJECT:
                continue
            truths.append(Interval(row["video"], float(row["onset"]), float(row["offset"]),
                                   normalise_type(row["type"])))
            categories.append(tuple((row.get("categories") or "").replace("_", " ").split(" "))
                              if row.get("categories") else ())
    return truths, _merge_multiword(categories)


def _merge_multiword(categories: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    from fea_ros.mie.synthetic_plan import CATEGORIES

    merged = []
    for words in categories:
        text = " " + " ".join(words) + " "
        merged.append(tuple(c for c in CATEGORIES if f" {c} " in text))
    return merged


def _box(points: np.ndarray) -> tuple[float, float, float, float]:
    return float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max())


def stored_faces(folder: Path) -> Callable[[int], dict[str, np.ndarray]]:
    subject = np.load(folder / "landmarks.npy")
    other_path = folder / "bystander_landmarks.npy"
    other = np.load(other_path) if other_path.is_file() else None

    def at(index: int) -> dict[str, np.ndarray]:
        faces = {SUBJECT: subject[index]}
        if other is not None:
            faces["bystander"] = other[index]
        return faces

    return at


def _landmarks(points_xy: np.ndarray) -> Landmarks:
    points = np.zeros((points_xy.shape[0], 3))
    points[:, :2] = points_xy
    return Landmarks(points=points, presence=1.0, ibug68=points[:68, :2])


def _pipeline_source() -> tuple[Any, Callable[..., Any]]:
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.core.types import Frame

    config = PipelineConfig()
    config.mie.enabled = False
    pipeline = Pipeline(config)

    def analyse(image: np.ndarray, stamp_ns: int, subject_points: np.ndarray | None) -> Any:
        result = pipeline.process(Frame(image=image, stamp_ns=stamp_ns))
        faces = {}
        box = _box(subject_points) if subject_points is not None else None
        for face in result.faces:
            if face.landmarks is None:
                continue
            cx, cy = (face.box[0] + face.box[2]) / 2.0, (face.box[1] + face.box[3]) / 2.0
            inside = box is not None and box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
            faces[SUBJECT if inside and SUBJECT not in faces else f"other-{face.face_id}"] = \
                (face.landmarks, face.action_units)
        return faces

    return pipeline, analyse


def _read_frame(folder: Path, index: int, ext: str) -> np.ndarray:
    path = folder / f"{index + 1:06d}.{ext}"
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path} is missing or unreadable; re-make the benchmark")
    return image


def run_clip(folder: Path, fps: float, n_frames: int, spotter: MieSpotter, mdmd: MdmdConfig, mesh_source: Any,
             run_baseline: bool, ext: str = "jpg"
             ) -> tuple[dict[str, list[MicroExpressionEvent]], list[float], list, list[float]]:
    """Spotter events per face, spotter ms per face and frame, baseline intervals (frames, subject), its ms."""
    stored = stored_faces(folder)
    if mesh_source is not None:
        mesh_source[0].reset()
    spotter.reset()
    aligner = FaceAligner(spotter.config.crop_px)
    events: dict[str, list[MicroExpressionEvent]] = {}
    spot_ms, crops, align_ms = [], [], []
    for index in range(n_frames):
        image = _read_frame(folder, index, ext)
        stamp_ns = int(round(index * 1e9 / fps))
        truth_faces = stored(index)
        if mesh_source is None:
            faces = {face_id: (_landmarks(points), None) for face_id, points in truth_faces.items()}
        else:
            faces = mesh_source[1](image, stamp_ns, truth_faces[SUBJECT])
        for face_id, (landmarks, action_units) in faces.items():
            # CPU time of the process (all threads), not wall time: on a shared machine the wall time mostly
            # measures the other processes
            start = time.process_time()
            found = spotter.update(face_id, stamp_ns, image, landmarks, action_units)
            spot_ms.append((time.process_time() - start) * 1e3)
            events.setdefault(face_id, []).extend(found)
        subject = faces.get(SUBJECT)
        if run_baseline and subject is not None:
            start = time.process_time()
            crops.append(aligner.align(image, subject[0].points).crop)
            align_ms.append((time.process_time() - start) * 1e3)
    baseline, baseline_ms = [], []
    if run_baseline and crops:
        start = time.process_time()
        baseline = mdmd_spot(crops, fps, mdmd)
        per_frame = (time.process_time() - start) * 1e3 / len(crops)
        baseline_ms = [a + per_frame for a in align_ms]
    return events, spot_ms, baseline, baseline_ms


def run_benchmark(data: Path, config: MieConfig, mdmd: MdmdConfig, landmarks: str = "truth",
                  run_baseline: bool = True, only_fps: float | None = None) -> dict[float, RateResult]:
    index_path = data / "clips.json"
    if not index_path.is_file():
        raise InputError(f"{index_path} not found; make the benchmark first: python "
                         f"fea_ros/scripts/make_mie_benchmark.py --seed 8 --output {data}")
    clips = json.loads(index_path.read_text())["clips"]
    truths, categories = load_truth(data / "truth.csv")
    results: dict[float, RateResult] = {}
    spotter = MieSpotter(config)
    mesh_source = _pipeline_source() if landmarks == "facemesh" else None
    chosen = [c for c in clips if only_fps is None or abs(c["fps"] - only_fps) < 1e-6]
    for clip in tqdm(chosen, desc="mie benchmark", unit="clip"):
        fps = float(clip["fps"])
        rate = results.setdefault(fps, RateResult(fps))
        events, spot_ms, baseline, baseline_ms = run_clip(
            data / "clips" / clip["name"], fps, clip["frames"], spotter, mdmd, mesh_source, run_baseline,
            clip.get("frame_ext", "jpg"))
        rate.spotter.frame_ms.extend(spot_ms)
        rate.baseline.frame_ms.extend(baseline_ms)
        name = clip["name"]
        minutes = clip["frames"] / fps / 60.0
        subject_events = events.get(SUBJECT, [])
        if clip.get("bystander"):
            rate.bystander_minutes += minutes
        if clip["neutral"]:
            rate.neutral_minutes += minutes
            rate.spotter.neutral_false_positives += len(subject_events)
            rate.spotter.neutral_capped += sum(
                (e.offset_ns - e.onset_ns) * 1e-9 >= config.max_event_s - 1.5 / fps
                for face_events in events.values() for e in face_events)
            rate.baseline.neutral_false_positives += len(baseline)
        for truth, category in zip(truths, categories):
            if truth.video == name:
                rate.truths.append(truth)
                rate.categories.append(category)
        for face_id, face_events in events.items():
            for e in face_events:
                interval = Interval(name, e.onset_ns * 1e-9, e.offset_ns * 1e-9, e.type)
                (rate.spotter.predictions if face_id == SUBJECT else rate.spotter.other_faces).append(interval)
                rate.spotter.delays_s.append((e.emitted_ns - e.offset_ns) * 1e-9)
        for onset, offset, kind in baseline:
            rate.baseline.predictions.append(Interval(name, onset / fps, offset / fps, kind))
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fea-ros bench mie", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"benchmark folder (default {DEFAULT_DATA})")
    parser.add_argument("--landmarks", choices=("truth", "facemesh"), default="truth")
    parser.add_argument("--fps", type=float, default=None, help="only the clips at this frame rate")
    parser.add_argument("--no-baseline", action="store_true", help="skip the MDMD-style baseline")
    parser.add_argument("--set", action="append", default=[], metavar="mie.KEY=VALUE",
                        help="override a spotter parameter, e.g. --set threshold_sigma=5")
    parser.add_argument("--mdmd-p", type=float, default=MdmdConfig.p, help="baseline threshold position p")
    parser.add_argument("--markdown", action="store_true", help="print the BENCHMARKS.md section")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON here")
    parser.add_argument("--predictions", type=Path, default=None,
                        help="write the spotter's intervals (seconds) as CSV for 'fea-ros evaluate spotting'")
    return parser


def main(argv: list[str] | None = None) -> int:
    from fea_ros.mie.benchmark_report import report, summary, targets
    from fea_ros.mie.evaluation import write_intervals

    args = build_parser().parse_args(argv)
    config = MieConfig()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key.removeprefix("mie.")] = float(value) if value.replace(".", "", 1).lstrip("-").isdigit() \
            else value
    apply_overrides(config, overrides)
    results = run_benchmark(args.data, config, MdmdConfig(p=args.mdmd_p), args.landmarks,
                            not args.no_baseline, args.fps)
    print(report(results, config, args.markdown, args.data, args.landmarks))
    checks = targets(results)
    if checks:
        print("\nTargets at 30 fps:" if not args.markdown else "\nTargets at 30 fps:\n")
        print("\n".join(checks))
    if args.predictions:
        write_intervals(args.predictions, [p for r in results.values() for p in r.spotter.predictions])
    if args.json:
        args.json.write_text(json.dumps(summary(results), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
