#!/usr/bin/env python3
"""Make the synthetic micro-expression spotting benchmark: clips of real face photos with known movements.

Photos: ``skimage.data.astronaut()`` and two portraits from the Debian package ``opencv-doc`` 4.6.0+dfsg-12
(the ones make_sample.py uses). Each photo's FaceMesh is found once with fea_ros's own detector and mesh
network; the movements are placed at those landmarks (fea_ros/mie/synthetic.py has the warps and distractors,
fea_ros/mie/synthetic_plan.py the categories and their proportions).

Per seed: 30 fps - 18 clips x 22 s with 3 MiE + 2 MaE each, 6 neutral clips x 30 s (blinks, head motion,
lighting, noise, compression only), so 54 MiE and 36 MaE; with --high-rate also 100 fps - 4 clips x 14 s with
2 MiE + 1 MaE, 2 neutral clips x 15 s. Over the expressive movements of each frame rate and
type: a third are eye-region actions with a blink within 0.1 s of their onset, a sixth eye-region actions
alone, the rest lower-face actions; a third are unilateral; half the MaE are long with a hold. Half the clips
(expressive and neutral) are JPEG at quality 60-85, half lossless (PNG); a third have a rigid bystander face
cut by the right edge of a 480 x 320 frame (the others are 320 x 320).

Output (not committed; default out/mie_benchmark/seed-<N>):
    clips.json            one entry per clip: name, fps, frames, neutral, photo, frame size, frame_ext,
                          lossless, jpeg_quality, bystander (its photo or null)
    truth.csv             video, onset, apex, offset (seconds), type (MICRO/MACRO), action, amplitude_px, face
                          (always "subject"), side, categories (space-separated, see synthetic_plan.CATEGORIES)
    clips/<name>/NNNNNN.jpg|png   the frames
    clips/<name>/landmarks.npy  (frames, 468, 2) float32: the subject's mesh moved with the face, plus jitter
    clips/<name>/bystander_landmarks.npy  the same for the bystander (points beyond the frame edge included)

Usage:
    python fea_ros/scripts/make_mie_benchmark.py --seed 1      # a seed the spotter was tuned on (1 to 7)
    python fea_ros/scripts/make_mie_benchmark.py --seed 8      # a held-out seed BENCHMARKS.md reports (8 to 21)
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
from fea_ros.mie.synthetic import ClipSpec, FaceAnimator, eye_opening  # noqa: E402
from fea_ros.mie.synthetic_plan import category_mix, movement_categories, plan_clip  # noqa: E402

PHOTO_INTEROCULAR_PX = 80.0
#: (fps, expressive clips, seconds, MiE per clip, MaE per clip, neutral clips, neutral seconds)
LAYOUT = ((30.0, 18, 22.0, 3, 2, 6, 30.0),)
HIGH_RATE_LAYOUT = ((100.0, 4, 14.0, 2, 1, 2, 15.0),)
FRAME_SIZE = (480, 320)
BYSTANDER_EVERY = 3  # every third clip has a bystander


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


def load_animators(opencv_doc: Path | None = None) -> dict[str, FaceAnimator]:
    """One animator per benchmark photo, its FaceMesh from fea_ros's own networks."""
    still_mesh = StillMesh()
    animators = {}
    for name, photo in load_photos(opencv_doc).items():
        scaled, mesh = prepare(photo, still_mesh(photo))
        animators[name] = FaceAnimator(scaled, mesh)
    return animators


def plan_benchmark(seed: int, animators: dict[str, FaceAnimator], high_rate: bool = False
                   ) -> list[tuple[ClipSpec, str, bool]]:
    """(clip spec, photo name, neutral) of every clip of a seed: the whole plan, before any frame is drawn."""
    rng = np.random.default_rng(seed)
    names = list(animators)
    specs = []
    for fps, n_clips, seconds, n_micro, n_macro, n_neutral, neutral_seconds in \
            LAYOUT + (HIGH_RATE_LAYOUT if high_rate else ()):
        micro_mix = iter(category_mix(n_clips * n_micro, rng))
        macro_mix = iter(category_mix(n_clips * n_macro, rng))
        lossless = [i % 2 == 1 for i in range(n_clips + n_neutral)]
        for i in range(n_clips + n_neutral):
            neutral = i >= n_clips
            photo = names[i % len(names)]
            interocular = float(rng.uniform(60.0, 90.0))
            opening = eye_opening(animators[photo].mesh) * interocular / PHOTO_INTEROCULAR_PX
            kinds = [] if neutral else ["MICRO"] * n_micro + ["MACRO"] * n_macro
            rng.shuffle(kinds)
            categories = [next(micro_mix) if kind == "MICRO" else next(macro_mix) for kind in kinds]
            bystander = names[(i + 1) % len(names)] if i % BYSTANDER_EVERY == 2 else None
            name = f"{'neutral' if neutral else 'expr'}_{int(fps)}fps_{i:02d}_{photo}"
            spec = plan_clip(name, rng, fps, neutral_seconds if neutral else seconds, kinds, categories,
                             interocular, opening, FRAME_SIZE, PHOTO_INTEROCULAR_PX, lossless[i], bystander)
            specs.append((spec, photo, neutral))
    return specs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None, help="default: out/mie_benchmark/seed-<seed>")
    parser.add_argument("--opencv-doc", type=Path, default=None)
    parser.add_argument("--high-rate", action="store_true", help="also make the 100 fps clips")
    args = parser.parse_args(argv)
    output = args.output or Path("out") / "mie_benchmark" / f"seed-{args.seed}"
    animators = load_animators(args.opencv_doc)
    specs = plan_benchmark(args.seed, animators, args.high_rate)
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
            other = np.empty((n_frames, 468, 2), np.float32) if spec.bystander else None
            bystander = animators[spec.bystander.photo] if spec.bystander else None
            ext = "png" if spec.lossless else "jpg"
            for index in range(n_frames):
                frame = animators[photo].render_scene(spec, index, frame_rng, bystander)
                (folder / f"{index + 1:06d}.{ext}").write_bytes(frame.encoded)
                landmarks[index] = frame.points
                if other is not None and frame.bystander_points is not None:
                    other[index] = frame.bystander_points
                progress.update()
            np.save(folder / "landmarks.npy", landmarks)
            if other is not None:
                np.save(folder / "bystander_landmarks.npy", other)
            entries.append({"name": spec.name, "fps": spec.fps, "frames": n_frames, "neutral": neutral,
                            "photo": photo, "width": spec.frame_size[0], "height": spec.frame_size[1],
                            "frame_ext": ext, "lossless": spec.lossless, "jpeg_quality": spec.jpeg_quality,
                            "bystander": spec.bystander.photo if spec.bystander else None})
            for m in spec.movements:
                if m.kind:
                    truth_rows.append([spec.name, f"{m.onset_s:.4f}", f"{m.apex_s:.4f}", f"{m.offset_s:.4f}",
                                       m.kind, m.action, f"{m.amplitude_px:.2f}", "subject", m.side or "both",
                                       " ".join(movement_categories(m, spec.lossless))])
    (output / "clips.json").write_text(json.dumps({"seed": args.seed, "clips": entries}, indent=1))
    with (output / "truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "onset", "apex", "offset", "type", "action", "amplitude_px", "face", "side",
                         "categories"])
        writer.writerows(truth_rows)
    n_micro = sum(r[4] == "MICRO" for r in truth_rows)
    print(f"wrote {len(entries)} clips, {n_micro} MiE and {len(truth_rows) - n_micro} MaE events to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
