#!/usr/bin/env python3
"""Make the synthetic micro-expression spotting benchmark: clips of real face photos with known movements.

Photos: ``skimage.data.astronaut()`` and two portraits from the Debian package ``opencv-doc`` 4.6.0+dfsg-12
(the ones make_sample.py uses). Each photo's FaceMesh is found once with fea_ros's own detector and mesh
network; the movements are placed at those landmarks (fea_ros/mie/synthetic.py has the warps and distractors).

Per seed: 30 fps - 20 clips x 20 s with 3 MiE + 2 MaE each, 6 neutral clips x 30 s (blinks, head motion,
lighting, noise, JPEG only); 100 fps - 6 clips x 12 s with 2 MiE + 1 MaE, 2 neutral clips x 15 s.
So 72 MiE and 46 MaE events in all (60 and 40 at 30 fps).

Output (not committed; default out/mie_benchmark/seed-<N>):
    clips.json            one entry per clip: name, fps, frames, neutral, photo, frame size
    truth.csv             video, onset, apex, offset (seconds), type (MICRO/MACRO), action, amplitude_px
    clips/<name>/NNNNNN.jpg   the frames (JPEG at the clip's quality: the compression is the distractor)
    clips/<name>/landmarks.npy  (frames, 468, 2) float32: the photo's mesh moved with the face, plus jitter

Usage:
    python fea_ros/scripts/make_mie_benchmark.py --seed 1      # the seed the spotter was tuned on
    python fea_ros/scripts/make_mie_benchmark.py --seed 2      # the seed BENCHMARKS.md reports
    python fea_ros/scripts/make_mie_benchmark.py --opencv-doc PATH   # an opencv-doc .deb or unpacked folder
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS.parent))
sys.path.insert(0, str(SCRIPTS))

from make_sample import OPENCV_DOC_PHOTOS, load_checked, unpack_opencv_doc  # noqa: E402

from fea_ros.core.config import PipelineConfig  # noqa: E402
from fea_ros.core.detection import FaceDetector  # noqa: E402
from fea_ros.core.landmarks import FaceMesh, mesh_model, roi_from_detection, roi_from_landmarks  # noqa: E402
from fea_ros.inference.factory import create_engine  # noqa: E402
from fea_ros.inference.models import Manifest  # noqa: E402
from fea_ros.mie.synthetic import FaceAnimator, eye_opening, plan_clip  # noqa: E402

PHOTO_INTEROCULAR_PX = 80.0
#: (fps, expressive clips, seconds, MiE per clip, MaE per clip, neutral clips, neutral seconds)
LAYOUT = ((30.0, 20, 20.0, 3, 2, 6, 30.0), (100.0, 6, 12.0, 2, 1, 2, 15.0))
FRAME_SIZE = (320, 320)


def load_photos(opencv_doc: Path | None) -> dict[str, np.ndarray]:
    from skimage import data

    photos = {"astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)}
    with tempfile.TemporaryDirectory() as workdir:
        folder = unpack_opencv_doc(opencv_doc, Path(workdir))
        for name, (sha256, _) in OPENCV_DOC_PHOTOS.items():
            photos[Path(name).stem] = load_checked(folder / name, sha256)
    return photos


class StillMesh:
    """FaceMesh of a still photo with fea_ros's detector and mesh stages (the largest face)."""

    def __init__(self) -> None:
        config = PipelineConfig()
        manifest = Manifest(None)
        # v2 (478 points) when it is built, else v1: the first 468 points are the same mesh
        config.landmarks.model = "v2" if manifest.check(mesh_model("v2")[0]) is None else "v1"
        mesh_engine = create_engine(mesh_model(config.landmarks.model)[0], config.inference, manifest)
        self.config = config
        self.detector = FaceDetector(create_engine("blazeface_full_192", config.inference, manifest),
                                     config.detection)
        self.mesh = FaceMesh(mesh_engine, config.landmarks)

    def __call__(self, photo: np.ndarray) -> np.ndarray:
        detections = self.detector(photo)
        if not detections:
            raise SystemExit("no face found in a benchmark photo")
        best = max(detections, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
        landmarks = self.mesh(photo, roi_from_detection(best, self.config.landmarks.crop_scale))
        # a second pass from the mesh's own box, as the pipeline does when it follows a face
        landmarks = self.mesh(photo, roi_from_landmarks(landmarks.points, self.config.landmarks.crop_scale))
        return landmarks.points[:468, :2]


def prepare(photo: np.ndarray, mesh_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rescale the photo so its inter-ocular distance is PHOTO_INTEROCULAR_PX."""
    interocular = np.linalg.norm(mesh_xy[[362, 263]].mean(0) - mesh_xy[[33, 133]].mean(0))
    factor = PHOTO_INTEROCULAR_PX / interocular
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(photo, None, fx=factor, fy=factor, interpolation=interpolation)
    return scaled, mesh_xy * factor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None, help="default: out/mie_benchmark/seed-<seed>")
    parser.add_argument("--opencv-doc", type=Path, default=None)
    args = parser.parse_args(argv)
    output = args.output or Path("out") / "mie_benchmark" / f"seed-{args.seed}"
    photos = load_photos(args.opencv_doc)
    still_mesh = StillMesh()
    animators = {}
    for name, photo in photos.items():
        scaled, mesh = prepare(photo, still_mesh(photo))
        animators[name] = FaceAnimator(scaled, mesh)
    rng = np.random.default_rng(args.seed)
    specs = []
    for fps, n_clips, seconds, n_micro, n_macro, n_neutral, neutral_seconds in LAYOUT:
        for i in range(n_clips + n_neutral):
            neutral = i >= n_clips
            photo = list(animators)[i % len(animators)]
            interocular = float(rng.uniform(60.0, 90.0))
            opening = eye_opening(animators[photo].mesh) * interocular / PHOTO_INTEROCULAR_PX
            name = f"{'neutral' if neutral else 'expr'}_{int(fps)}fps_{i:02d}_{photo}"
            spec = plan_clip(name, rng, fps, neutral_seconds if neutral else seconds, 0 if neutral else n_micro,
                             0 if neutral else n_macro, interocular, opening, FRAME_SIZE, PHOTO_INTEROCULAR_PX)
            specs.append((spec, photo, neutral))
    (output / "clips").mkdir(parents=True, exist_ok=True)
    entries, truth_rows = [], []
    total = sum(int(round(s.duration_s * s.fps)) for s, _, _ in specs)
    with tqdm(total=total, unit="frame", desc=f"mie benchmark seed {args.seed}") as progress:
        for spec, photo, neutral in specs:
            folder = output / "clips" / spec.name
            folder.mkdir(exist_ok=True)
            frame_rng = np.random.default_rng(spec.seed)
            n_frames = int(round(spec.duration_s * spec.fps))
            landmarks = np.empty((n_frames, 468, 2), np.float32)
            for index in range(n_frames):
                encoded, points = animators[photo].render_jpeg(spec, index, frame_rng)
                (folder / f"{index + 1:06d}.jpg").write_bytes(encoded)
                landmarks[index] = points
                progress.update()
            np.save(folder / "landmarks.npy", landmarks)
            entries.append({"name": spec.name, "fps": spec.fps, "frames": n_frames, "neutral": neutral,
                            "photo": photo, "width": spec.frame_size[0], "height": spec.frame_size[1],
                            "jpeg_quality": spec.jpeg_quality})
            for m in spec.movements:
                if m.kind:
                    truth_rows.append([spec.name, f"{m.onset_s:.4f}", f"{m.apex_s:.4f}", f"{m.offset_s:.4f}",
                                       m.kind, m.action, f"{m.amplitude_px:.2f}"])
    (output / "clips.json").write_text(json.dumps({"seed": args.seed, "clips": entries}, indent=1))
    with (output / "truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "onset", "apex", "offset", "type", "action", "amplitude_px"])
        writer.writerows(truth_rows)
    n_micro = sum(r[4] == "MICRO" for r in truth_rows)
    print(f"wrote {len(entries)} clips, {n_micro} MiE and {len(truth_rows) - n_micro} MaE events to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
