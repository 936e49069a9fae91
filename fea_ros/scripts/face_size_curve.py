#!/usr/bin/env python3
"""Face detection rate against face size: every face scaled to 5 %..100 % of the image height.

Each source photo's face is located once (the reference box: BlazeFace short-range, else full-range, on the
photo padded by half its size on every side, the detection nearest the photo's centre). Then, for each
size s, the photo is scaled so that the reference box is s x the frame height and centred in a frame of the
chosen aspect (4:3 = a 640 x 480 webcam frame, 1:1 = a 480 x 480 face photo); what the photo does not cover
is padded with its mean colour (the 3 bundled faces are also moved sideways, 5 positions each). A detector
finds the face when one of its boxes has its centre inside the reference box and a height within 0.5..2 x
the reference's. Nothing is written but the numbers and plot.

Photos: the bundled ones (skimage's astronaut and cameraman, fea_ros/test/fixtures/messi5.jpg) and, with
--images, every .jpg/.png in a folder (e.g. ../shared/data/expression-dev/images: mostly 350 x 350 tight
face crops; --limit N takes an evenly spaced N of them).

Detectors: full, short (the plain BlazeFace models), default, fast (the detector of a video frame in those
pipeline configurations, whatever it does), stills (how Pipeline.process_image finds faces),
mediapipe-full, mediapipe-short (MediaPipe's own face detection solution, model_selection 1 / 0, if the
mediapipe package is installed, e.g. in a separate venv).

Usage (BENCHMARKS.md "Still images and close-up faces" has the runs behind its table):
    python fea_ros/scripts/face_size_curve.py --detectors full,short,default,stills \\
        --images ../shared/data/expression-dev/images --limit 300 --json out/curve.json --plot out/curve.png
    python fea_ros/scripts/face_size_curve.py --merge out/curve.json out/mediapipe.json --plot out/all.png
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from tqdm import tqdm

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS.parent))

SIZES = (0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
FRAMES = {"4:3": (640, 480), "1:1": (480, 480)}
#: the few bundled faces are each placed at 5 positions across the frame (anchor grids have a phase)
BUNDLED, BUNDLED_POSITIONS = "bundled photos", (-1.0, -0.5, 0.0, 0.5, 1.0)
Boxes = list[np.ndarray]
Detect = Callable[[np.ndarray], Boxes]


def bundled_photos() -> dict[str, np.ndarray]:
    from skimage import data

    messi = cv2.imread(str(SCRIPTS.parent / "test" / "fixtures" / "messi5.jpg"), cv2.IMREAD_COLOR)
    return {"astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
            "camera": cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR), "messi5": messi}


def folder_photos(folder: Path, limit: int | None) -> dict[str, np.ndarray]:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise SystemExit(f"{folder} holds no .jpg or .png images")
    if limit is not None and limit < len(paths):
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    photos = {}
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            print(f"skipping {path}: not a readable image", file=sys.stderr)
            continue
        photos[path.name] = image
    return photos


def fea_detector(name: str) -> Detect:
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.detection import FaceDetector, detector_spec
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.inference.factory import create_engine
    from fea_ros.inference.models import Manifest

    if name == "stills":
        from fea_ros.core.still import find_faces

        pipeline = Pipeline(PipelineConfig())
        return lambda image: [d.box for d, _ in find_faces(pipeline, image)]
    if name in ("default", "fast"):
        config = PipelineConfig() if name == "default" else PipelineConfig.fast()
        detector = Pipeline(config).detector
    else:
        config = PipelineConfig()
        config.detection.detector = name
        detector = FaceDetector(create_engine(detector_spec(name).model, config.inference, Manifest()),
                                config.detection)
    return lambda image: [d.box for d in detector(image)]


def mediapipe_detector(model_selection: int) -> Detect:
    try:
        import mediapipe as mp
    except ImportError as exc:
        raise SystemExit(f"mediapipe is not installed ({exc}); install mediapipe==0.10.21 in a separate venv "
                         "and run this script with that venv's python") from exc
    solution = mp.solutions.face_detection.FaceDetection(model_selection=model_selection,
                                                         min_detection_confidence=0.5)

    def detect(image: np.ndarray) -> Boxes:
        height, width = image.shape[:2]
        found = solution.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).detections or []
        boxes = []
        for detection in found:
            box = detection.location_data.relative_bounding_box
            x0, y0 = box.xmin * width, box.ymin * height
            boxes.append(np.array([x0, y0, x0 + box.width * width, y0 + box.height * height]))
        return boxes

    return detect


def make_detector(name: str) -> Detect:
    if name == "mediapipe-full":
        return mediapipe_detector(1)
    if name == "mediapipe-short":
        return mediapipe_detector(0)
    return fea_detector(name)


def reference_box(photo: np.ndarray, locators: list[Detect]) -> np.ndarray | None:
    """The face box in the photo's pixels: each locator on the photo padded by half its size on each side
    (a tight face crop), then on the photo itself (a small face in a large photo); nearest the centre."""
    height, width = photo.shape[:2]
    pad_y, pad_x = height // 2, width // 2
    mean = [float(c) for c in photo.reshape(-1, 3).mean(axis=0)]
    padded = cv2.copyMakeBorder(photo, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=mean)
    for locate in locators:
        for image, (dx, dy) in ((padded, (pad_x, pad_y)), (photo, (0, 0))):
            boxes = locate(image)
            if boxes:
                centre = np.array([dx + width / 2, dy + height / 2])
                best = min(boxes, key=lambda b: float(np.linalg.norm((b[:2] + b[2:]) / 2 - centre)))
                return best - np.array([dx, dy, dx, dy], np.float64)
    return None


def render(photo: np.ndarray, face: np.ndarray, size: float, frame: tuple[int, int],
           position: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The photo scaled so the face is ``size`` x the frame height, centred, then moved sideways by
    ``position`` (-1..1) x as far as the face box stays inside the frame, at most a fifth of its width;
    and the face box in the frame."""
    width, height = frame
    scale = size * height / float(face[3] - face[1])
    centre = (face[:2] + face[2:]) / 2
    room = max(0.0, min(0.2 * width, (width - scale * float(face[2] - face[0])) / 2))
    shift = np.array([width / 2 + position * room, height / 2]) - scale * centre
    matrix = np.array([[scale, 0.0, shift[0] + 0.5 * scale - 0.5], [0.0, scale, shift[1] + 0.5 * scale - 0.5]])
    mean = [float(c) for c in photo.reshape(-1, 3).mean(axis=0)]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.warpAffine(photo, matrix, frame, flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=mean)
    return image, np.concatenate([scale * face[:2] + shift, scale * face[2:] + shift])


def found(boxes: Boxes, face: np.ndarray) -> bool:
    height = float(face[3] - face[1])
    for box in boxes:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        ratio = float(box[3] - box[1]) / height
        if face[0] <= cx <= face[2] and face[1] <= cy <= face[3] and 0.5 <= ratio <= 2.0:
            return True
    return False


def measure(photos: dict[str, np.ndarray], detectors: dict[str, Detect], aspects: list[str],
            sizes: tuple[float, ...], label: str, positions: tuple[float, ...]) -> dict:
    locators = [fea_detector("short"), fea_detector("full")]
    references = {}
    for name, photo in tqdm(photos.items(), desc=f"{label}: reference boxes", unit="photo"):
        box = reference_box(photo, locators)
        if box is not None:
            references[name] = box
    hits = {aspect: {d: np.zeros(len(sizes), int) for d in detectors} for aspect in aspects}
    total = len(references) * len(aspects) * len(sizes) * len(positions)
    with tqdm(total=total, desc=f"{label}: {len(references)} faces x {len(sizes)} sizes", unit="image") as bar:
        for name, face in references.items():
            for aspect in aspects:
                for i, size in enumerate(sizes):
                    for position in positions:
                        image, box = render(photos[name], face, size, FRAMES[aspect], position)
                        for detector_name, detect in detectors.items():
                            hits[aspect][detector_name][i] += found(detect(image), box)
                        bar.update(1)
    faces = len(references) * len(positions)
    return {"photos": len(photos), "faces": faces, "no_reference": sorted(set(photos) - set(references)),
            "sizes": list(sizes),
            "rate": {aspect: {d: (h / max(faces, 1)).round(4).tolist() for d, h in per.items()}
                     for aspect, per in hits.items()}}


def empty_frame_cost(detectors: dict[str, Detect], repeats: int) -> dict[str, float]:
    """Median ms per call on a 640 x 480 frame without a face (skimage's coffee photo), detectors interleaved
    so that load on a shared machine hits them alike. The cost a face-less video frame pays for detection."""
    import time

    from skimage import data

    frame = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), FRAMES["4:3"], interpolation=cv2.INTER_AREA)
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in tqdm(range(repeats), desc="empty-frame cost", unit="round"):
        for name, detect in detectors.items():
            start = time.perf_counter()
            if detect(frame):
                raise SystemExit(f"{name} found a face in the empty frame; the cost would not be an empty frame's")
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: float(np.median(values)) for name, values in times.items()}


def markdown(results: dict[str, dict]) -> str:
    lines = []
    for label, result in results.items():
        sizes = result["sizes"]
        lines.append(f"{label} ({result['faces']} faces; detection rate in %, face height / image height):\n")
        lines.append("| frame | detector | " + " | ".join(f"{100 * s:g} %" for s in sizes) + " |")
        lines.append("|---|---|" + "---|" * len(sizes))
        for aspect, per in result["rate"].items():
            for detector, rates in per.items():
                lines.append(f"| {aspect} | {detector} | " + " | ".join(f"{100 * r:.0f}" for r in rates) + " |")
        lines.append("")
    return "\n".join(lines)


#: detector -> (colour, line style, width) and legend text: before (full) dashed, after (default, stills) bold
STYLES = {"full": ("tab:blue", "--", 1.4), "mediapipe-full": ("tab:gray", ":", 1.4),
          "short": ("tab:green", "--", 1.0), "mediapipe-short": ("tab:olive", ":", 1.0),
          "default": ("tab:red", "-", 2.0), "stills": ("black", "-", 1.4), "fast": ("tab:purple", "-", 1.2)}
LEGEND = {"full": "full-range alone (before)", "mediapipe-full": "MediaPipe full-range",
          "short": "short-range alone", "default": "default, video frame (after)",
          "stills": "default, process_image (after)"}


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(label, aspect) for label, r in results.items() for aspect in r["rate"]]
    columns = min(len(panels), 2)
    rows = math.ceil(len(panels) / columns)
    fig, grid = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.8 * rows), squeeze=False, sharey=True)
    axes = [list(grid.ravel())]
    for ax, (label, aspect) in zip(axes[0], panels):
        result = results[label]
        for detector, rates in result["rate"][aspect].items():
            colour, style, width = STYLES.get(detector, (None, "-", 1.2))
            ax.plot([100 * s for s in result["sizes"]], [100 * r for r in rates], marker="o", ms=3,
                    color=colour, linestyle=style, linewidth=width, label=LEGEND.get(detector, detector))
        ax.set_xscale("log")
        ax.set_xticks([5, 10, 20, 50, 100], ["5", "10", "20", "50", "100"])
        ax.set_title(f"{label}, {aspect} frame ({result['faces']} faces)", fontsize=9)
        ax.set_xlabel("face height / image height (%)")
        ax.grid(alpha=0.3)
    for ax in axes[0][::columns]:
        ax.set_ylabel("faces detected (%)")
    axes[0][0].set_ylim(0, 102)
    for ax in axes[0][len(panels):]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=7, loc="lower center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def merge(paths: list[Path]) -> dict[str, dict]:
    """The curves of several --json files in one (e.g. MediaPipe's, measured in its own venv, and fea_ros's)."""
    merged: dict[str, dict] = {}
    for path in paths:
        for label, result in json.loads(path.read_text()).items():
            if label == "empty_frame_ms":
                continue
            if label not in merged:
                merged[label] = {**result, "rate": {a: dict(r) for a, r in result["rate"].items()}}
                continue
            if (result["faces"], result["sizes"]) != (merged[label]["faces"], merged[label]["sizes"]):
                raise SystemExit(f"{path}: '{label}' has other faces or sizes than the files before it; measure "
                                 "every file with the same --images and --limit")
            for aspect, rates in result["rate"].items():
                merged[label]["rate"].setdefault(aspect, {}).update(rates)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detectors", default="full,short,default",
                        help="comma-separated: full, short, default, fast, stills, mediapipe-full, mediapipe-short")
    parser.add_argument("--images", type=Path, default=None, help="a folder of face photos to add")
    parser.add_argument("--limit", type=int, default=None, help="use an evenly spaced N of the folder's photos")
    parser.add_argument("--no-bundled", action="store_true", help="skip the bundled photos")
    parser.add_argument("--aspects", default="4:3,1:1", help=f"frame shapes: {', '.join(FRAMES)}")
    parser.add_argument("--empty-frame-cost", type=int, default=0, metavar="N",
                        help="also time each detector N times on a frame without a face (median ms)")
    parser.add_argument("--as-is", action="store_true",
                        help="measure nothing else: the share of the photos, as they are, in which each detector "
                             "finds at least one face")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                        help="measure nothing: merge these --json outputs into one table and plot")
    parser.add_argument("--json", type=Path, default=None, help="write the rates here")
    parser.add_argument("--plot", type=Path, default=None, help="write the curves here (PNG)")
    args = parser.parse_args()
    if args.merge:
        merged = merge(args.merge)
        print(markdown(merged))
        if args.plot:
            plot(merged, args.plot)
            print(f"wrote {args.plot}", file=sys.stderr)
        return
    aspects = args.aspects.split(",")
    if unknown := set(aspects) - set(FRAMES):
        raise SystemExit(f"unknown --aspects {sorted(unknown)}; use {', '.join(FRAMES)}")
    detectors = {name: make_detector(name) for name in args.detectors.split(",")}
    sets: dict[str, dict[str, np.ndarray]] = {}
    if not args.no_bundled:
        sets[BUNDLED] = bundled_photos()
    if args.images is not None:
        if not args.images.is_dir():
            raise SystemExit(f"--images {args.images} is not a folder")
        sets[args.images.parent.name if args.images.name == "images" else args.images.name] = \
            folder_photos(args.images, args.limit)
    if args.as_is:
        for label, photos in sets.items():
            found_in = {name: 0 for name in detectors}
            for photo in tqdm(photos.values(), desc=f"{label}: photos as they are", unit="photo"):
                for name, detect in detectors.items():
                    found_in[name] += bool(detect(photo))
            print(f"{label}, {len(photos)} photos as they are, share with a face found: "
                  + ", ".join(f"{name} {100 * n / len(photos):.1f} %" for name, n in found_in.items()))
        return
    results = {label: measure(photos, detectors, aspects, SIZES, label,
                              BUNDLED_POSITIONS if label == BUNDLED else (0.0,))
               for label, photos in sets.items()}
    for label, result in results.items():
        if result["no_reference"]:
            print(f"{label}: no face found for the reference box in {len(result['no_reference'])} photos "
                  f"(left out): {', '.join(result['no_reference'][:10])}", file=sys.stderr)
    print(markdown(results))
    cost = empty_frame_cost(detectors, args.empty_frame_cost) if args.empty_frame_cost > 0 else {}
    if cost:
        print("median ms per 640 x 480 frame without a face: "
              + ", ".join(f"{name} {ms:.2f}" for name, ms in cost.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**results, "empty_frame_ms": cost}, indent=1))
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
