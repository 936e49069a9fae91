"""`fea-ros bench mie`: the streaming spotter and the MDMD-style baseline on the synthetic benchmark.

The clips come from fea_ros/scripts/make_mie_benchmark.py (real face photos with injected movements of known
onset/apex/offset, plus blinks, head motion, lighting drift, noise and JPEG). Reported per frame rate:
F1 for MiE, MaE and overall at IoU 0.5 (MEGC protocol, evaluation.py), false positives per minute on the
neutral clips, the delay from an event's offset to its emission, and the spotter's cost per face per frame.

Landmarks: ``--landmarks truth`` (default) uses the clip's stored per-frame landmarks (the photo's FaceMesh
moved with the face, plus jitter); ``--landmarks facemesh`` runs fea_ros's Pipeline (detector + FaceMesh +
blendshapes) on every frame instead, which is slower but includes the real landmark noise and action units.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from fea_ros.core.config import MieConfig, apply_overrides
from fea_ros.core.errors import InputError
from fea_ros.core.types import ActionUnits, Landmarks
from fea_ros.mie.alignment import FaceAligner
from fea_ros.mie.baseline_mdmd import MdmdConfig, mdmd_spot
from fea_ros.mie.evaluation import Interval, SpottingScores, evaluate, normalise_type, write_intervals
from fea_ros.mie.datasets import FaceAnalyser
from fea_ros.mie.spotter import MieSpotter

if TYPE_CHECKING:
    from fea_ros.core.pipeline import Pipeline

#: the pipeline that finds the faces (reset per clip) and the analyser that runs it; None: stored landmarks
MeshSource = tuple["Pipeline", FaceAnalyser] | None

DEFAULT_DATA = Path("out") / "mie_benchmark" / "seed-2"
TUNED_ON_SEED = 1


@dataclass
class MethodResult:
    predictions: list[Interval] = field(default_factory=list)
    neutral_false_positives: int = 0
    delays_s: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)


@dataclass
class RateResult:
    fps: float
    neutral_minutes: float = 0.0
    truths: list[Interval] = field(default_factory=list)
    spotter: MethodResult = field(default_factory=MethodResult)
    baseline: MethodResult = field(default_factory=MethodResult)

    def scores(self, method: MethodResult) -> SpottingScores:
        return evaluate(method.predictions, self.truths)


def load_truth(path: Path) -> list[Interval]:
    with path.open(newline="") as handle:
        return [Interval(row["video"], float(row["onset"]), float(row["offset"]), normalise_type(row["type"]))
                for row in csv.DictReader(handle)]


def _mesh_source(mode: str) -> MeshSource:
    if mode == "truth":
        return None
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.core.types import Frame

    config = PipelineConfig()
    config.mie.enabled = False
    pipeline = Pipeline(config)

    def analyse(image: np.ndarray, stamp_ns: int) -> tuple[Landmarks | None, ActionUnits | None]:
        result = pipeline.process(Frame(image=image, stamp_ns=stamp_ns))
        if not result.faces:
            return None, None
        face = max(result.faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        return face.landmarks, face.action_units

    return pipeline, analyse


def run_clip(folder: Path, fps: float, n_frames: int, spotter: MieSpotter, mdmd: MdmdConfig,
             mesh_source: MeshSource, run_baseline: bool) -> tuple[list, list[float], list[tuple[int, int, str]], list[float]]:
    """Spotter events, spotter ms per frame, baseline intervals (frames), baseline ms per frame."""
    stored = np.load(folder / "landmarks.npy") if mesh_source is None else None
    if mesh_source is not None:
        mesh_source[0].reset()
    spotter.reset()
    aligner = FaceAligner(spotter.config.crop_px)
    events, spot_ms, crops, align_ms = [], [], [], []
    for index in range(n_frames):
        image = cv2.imread(str(folder / f"{index + 1:06d}.jpg"), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{folder / f'{index + 1:06d}.jpg'} is missing or unreadable; re-make the benchmark")
        stamp_ns = int(round(index * 1e9 / fps))
        landmarks: Landmarks | None
        action_units: ActionUnits | None
        if stored is not None:
            points = np.zeros((stored.shape[1], 3))
            points[:, :2] = stored[index]
            landmarks, action_units = Landmarks(points=points, presence=1.0, ibug68=points[:68, :2]), None
        else:
            assert mesh_source is not None  # stored landmarks are read exactly when there is no mesh source
            landmarks, action_units = mesh_source[1](image, stamp_ns)
        start = time.perf_counter()
        events.extend(spotter.update("face", stamp_ns, image, landmarks, action_units))
        spot_ms.append((time.perf_counter() - start) * 1e3)
        if run_baseline and landmarks is not None:
            start = time.perf_counter()
            crops.append(aligner.align(image, landmarks.points).crop)
            align_ms.append((time.perf_counter() - start) * 1e3)
    baseline, baseline_ms = [], []
    if run_baseline and crops:
        start = time.perf_counter()
        baseline = mdmd_spot(crops, fps, mdmd)
        per_frame = (time.perf_counter() - start) * 1e3 / len(crops)
        baseline_ms = [a + per_frame for a in align_ms]
    return events, spot_ms, baseline, baseline_ms


def run_benchmark(data: Path, config: MieConfig, mdmd: MdmdConfig, landmarks: str = "truth",
                  run_baseline: bool = True, only_fps: float | None = None) -> dict[float, RateResult]:
    index_path = data / "clips.json"
    if not index_path.is_file():
        raise InputError(f"{index_path} not found; make the benchmark first: python "
                         f"fea_ros/scripts/make_mie_benchmark.py --seed 2 --output {data}")
    clips = json.loads(index_path.read_text())["clips"]
    truths = load_truth(data / "truth.csv")
    results: dict[float, RateResult] = {}
    spotter = MieSpotter(config)
    mesh_source = _mesh_source(landmarks)
    chosen = [c for c in clips if only_fps is None or abs(c["fps"] - only_fps) < 1e-6]
    for clip in tqdm(chosen, desc="mie benchmark", unit="clip"):
        fps = float(clip["fps"])
        rate = results.setdefault(fps, RateResult(fps))
        events, spot_ms, baseline, baseline_ms = run_clip(data / "clips" / clip["name"], fps, clip["frames"],
                                                          spotter, mdmd, mesh_source, run_baseline)
        rate.spotter.frame_ms.extend(spot_ms)
        rate.baseline.frame_ms.extend(baseline_ms)
        name = clip["name"]
        if clip["neutral"]:
            rate.neutral_minutes += clip["frames"] / fps / 60.0
            rate.spotter.neutral_false_positives += len(events)
            rate.baseline.neutral_false_positives += len(baseline)
        rate.truths.extend(t for t in truths if t.video == name)
        for e in events:
            rate.spotter.predictions.append(Interval(name, e.onset_ns * 1e-9, e.offset_ns * 1e-9, e.type))
            rate.spotter.delays_s.append((e.emitted_ns - e.offset_ns) * 1e-9)
        for onset, offset, kind in baseline:
            rate.baseline.predictions.append(Interval(name, onset / fps, offset / fps, kind))
    return results


def _row(name: str, rate: RateResult, method: MethodResult, delay: str) -> list[str]:
    s = rate.scores(method)
    fp_per_min = method.neutral_false_positives / rate.neutral_minutes if rate.neutral_minutes else float("nan")
    cost = f"{statistics.mean(method.frame_ms):.2f} / {np.percentile(method.frame_ms, 95):.2f}" \
        if method.frame_ms else "-"
    return [name, f"{s.micro.f1:.3f}", f"{s.macro.f1:.3f}", f"{s.overall.f1:.3f}",
            f"{s.micro.tp}/{s.micro.n_pred}/{s.micro.n_gt}", f"{s.macro.tp}/{s.macro.n_pred}/{s.macro.n_gt}",
            f"{fp_per_min:.2f}", delay, cost]


def report(results: dict[float, RateResult], config: MieConfig, markdown: bool, data: Path, landmarks: str) -> str:
    header = ["method", "MiE F1", "MaE F1", "overall F1", "MiE TP/pred/GT", "MaE TP/pred/GT",
              "FP/min neutral", "delay median / max (s)", "ms/face/frame mean / p95"]
    lines = []
    for fps in sorted(results):
        rate = results[fps]
        delays = rate.spotter.delays_s
        delay = f"{statistics.median(delays):.2f} / {max(delays):.2f}" if delays else "-"
        rows = [_row("fea_ros spotter", rate, rate.spotter, delay)]
        if rate.baseline.frame_ms:
            rows.append(_row("MDMD-style baseline", rate, rate.baseline, "offline (whole video)"))
        n_micro = sum(t.type == "MICRO" for t in rate.truths)
        title = (f"{fps:g} fps: {n_micro} MiE, {len(rate.truths) - n_micro} MaE, "
                 f"{rate.neutral_minutes:.1f} min of neutral clips")
        if markdown:
            lines += [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
            lines.append("")
        else:
            widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
            lines += [title, "  ".join(h.ljust(w) for h, w in zip(header, widths))]
            lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
            lines.append("")
    frame_bound = max(1.0 / fps for fps in results) if results else 0.0
    lines.append(f"Delay bound: an event is emitted at most window_s = {config.window_s:.2f} s (+ one frame, "
                 f"<= {frame_bound:.3f} s) after its offset; movements longer than max_event_s = "
                 f"{config.max_event_s:.1f} s are closed and emitted then.")
    lines.append(f"Data: {data} (landmarks: {landmarks}); spotter parameters tuned on seed {TUNED_ON_SEED}.")
    return "\n".join(lines)


def targets(results: dict[float, RateResult]) -> list[str]:
    rate = results.get(30.0)
    if rate is None:
        return []
    s, b = rate.scores(rate.spotter), rate.scores(rate.baseline)
    fp = rate.spotter.neutral_false_positives / rate.neutral_minutes if rate.neutral_minutes else float("nan")
    bfp = rate.baseline.neutral_false_positives / rate.neutral_minutes if rate.neutral_minutes else float("nan")
    cost = statistics.mean(rate.spotter.frame_ms) if rate.spotter.frame_ms else float("nan")
    checks = [("MiE F1 >= 0.7", s.micro.f1 >= 0.7), ("MaE F1 >= 0.8", s.macro.f1 >= 0.8),
              ("<= 1 FP/min on neutral clips", fp <= 1.0), ("cost <= 2 ms per face per frame", cost <= 2.0)]
    if rate.baseline.frame_ms:
        baseline_cost = statistics.mean(rate.baseline.frame_ms)
        checks.append(("better than the baseline on every figure (F1 x3, FP/min, delay: streaming vs offline, cost)",
                       s.micro.f1 > b.micro.f1 and s.macro.f1 > b.macro.f1 and s.overall.f1 > b.overall.f1
                       and fp < bfp and cost < baseline_cost))
    return [f"- {name}: {'met' if ok else 'NOT met'}" for name, ok in checks]


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
        args.json.write_text(json.dumps({str(fps): {"spotter": r.scores(r.spotter).as_dict(),
                                                    "baseline": r.scores(r.baseline).as_dict(),
                                                    "neutral_minutes": r.neutral_minutes,
                                                    "spotter_fp": r.spotter.neutral_false_positives,
                                                    "baseline_fp": r.baseline.neutral_false_positives}
                                         for fps, r in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
