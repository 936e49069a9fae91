#!/usr/bin/env python3
"""Make the bundled sample clips fea_ros/samples/face1.mp4 and fea_ros/samples/faces3.mp4.

What the clips are
------------------
Both are 640x480, 30 fps, mp4v, made from real face photos that registry packages ship:

* ``skimage.data.astronaut()`` (scikit-image; Eileen Collins, smiling),
* two portraits from the Debian package ``opencv-doc`` 4.6.0+dfsg-12, used by OpenCV's face-swapping tutorial:
  ``usr/share/doc/opencv-doc/opencv4/html/227943776_1.jpg`` (a smiling man) and ``230501201_1.jpg``
  (a man with a neutral face). Their sha256 is checked, so the clips are the same on every machine.

Each face is cut out with a soft elliptical mask and moved over a textured background with translation, scale
and in-plane rotation that vary smoothly over time:

* ``face1.mp4`` (4 s): the astronaut drifts across the frame, grows and shrinks, and rolls by up to +/-20 deg.
* ``faces3.mp4`` (6 s): three faces; the two men cross paths in the upper half (the neutral man passes in
  front of the smiling one around t = 2.2 s), then the neutral man leaves the frame on the left for a second
  (t 4.0..5.0 s) and comes back; the astronaut sways along the lower row.

Everything is deterministic (fixed seed, closed-form motion).

How to run
----------
    python fea_ros/scripts/make_sample.py                      # downloads opencv-doc with apt-get download
    python fea_ros/scripts/make_sample.py --opencv-doc PATH    # PATH: the opencv-doc .deb or a folder it was
                                                               # unpacked into (dpkg-deb -x opencv-doc_*.deb DIR)

The download needs Debian/Ubuntu with apt (``apt-get download opencv-doc`` works without root; the .deb is
about 96 MB). Needs numpy, opencv-python-headless and scikit-image.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 640, 480, 30.0
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
HTML_DIR = Path("usr/share/doc/opencv-doc/opencv4/html")
OPENCV_DOC_PHOTOS = {
    # file name -> (sha256, face box x, y, w, h in the photo's pixels)
    "227943776_1.jpg": ("b038fd3919363b92037715027c36f5671cc2f9cf1fda9770325f75daf9c8fa56", (112, 95, 183, 183)),
    "230501201_1.jpg": ("fe4ffecdddbd2d319d5d6af1b144fe5eaeb7b845e4835dc9907fd7b9283e5c2f", (113, 211, 375, 375)),
}
ASTRONAUT_FACE_BOX = (179, 82, 92, 93)
SPRITE_PX = 220  # side of a face sprite before per-frame scaling
HEAD_MARGIN = 1.9  # sprite side / face box side: keeps hair, ears and chin inside the mask


@dataclass
class Sprite:
    """A face cut out of a photo: BGR pixels and a soft alpha mask, both SPRITE_PX square."""

    image: np.ndarray
    alpha: np.ndarray


@dataclass
class Motion:
    """Where a sprite is at time t: centre (px), scale (x SPRITE_PX) and roll (degrees); None = off screen."""

    pose: Callable[[float], tuple[float, float, float, float] | None]


def unpack_opencv_doc(source: Path | None, workdir: Path) -> Path:
    """Return the folder holding the tutorial photos, downloading/unpacking the .deb when needed."""
    if source is not None and source.is_dir():
        for candidate in (source / HTML_DIR, source):
            if all((candidate / name).is_file() for name in OPENCV_DOC_PHOTOS):
                return candidate
        raise SystemExit(f"{source} does not hold {', '.join(OPENCV_DOC_PHOTOS)}; give the folder opencv-doc "
                         "was unpacked into (dpkg-deb -x opencv-doc_*.deb DIR) or the .deb itself")
    deb = source
    if deb is None:
        print("downloading opencv-doc with 'apt-get download opencv-doc' ...", file=sys.stderr)
        try:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=workdir, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(f"apt-get download opencv-doc failed ({exc}); on a machine without apt, fetch "
                             "opencv-doc_4.6.0+dfsg-12_all.deb from a Debian mirror and pass --opencv-doc PATH")
        deb = next(workdir.glob("opencv-doc_*.deb"))
    unpacked = workdir / "opencv-doc"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    return unpacked / HTML_DIR


def load_checked(path: Path, sha256: str) -> np.ndarray:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{path} has sha256 {digest}, expected {sha256}: a different opencv-doc version? "
                         "The clips are made from opencv-doc 4.6.0+dfsg-12.")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot decode {path}")
    return image


def cut_sprite(photo: np.ndarray, face_box: tuple[int, int, int, int]) -> Sprite:
    x, y, w, h = face_box
    side = max(w, h) * HEAD_MARGIN
    centre_x, centre_y = x + w / 2, y + h / 2 - 0.08 * h  # a little upwards to keep the hair
    scale = SPRITE_PX / side
    to_sprite = np.array([[scale, 0, SPRITE_PX / 2 - scale * centre_x],
                          [0, scale, SPRITE_PX / 2 - scale * centre_y]], dtype=np.float64)
    image = cv2.warpAffine(photo, to_sprite, (SPRITE_PX, SPRITE_PX), flags=cv2.INTER_AREA,
                           borderMode=cv2.BORDER_REPLICATE)
    alpha = np.zeros((SPRITE_PX, SPRITE_PX), np.float32)
    cv2.ellipse(alpha, (SPRITE_PX // 2, SPRITE_PX // 2), (int(SPRITE_PX * 0.36), int(SPRITE_PX * 0.46)),
                0, 0, 360, 1.0, thickness=-1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), SPRITE_PX * 0.03)
    return Sprite(image=image, alpha=alpha)


def background(seed: int) -> np.ndarray:
    """A soft two-colour gradient with low-frequency texture, like an out-of-focus wall."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    ramp = (0.6 * xs / WIDTH + 0.4 * ys / HEIGHT)[..., None]
    left, right = np.array([120, 135, 150], np.float32), np.array([70, 95, 110], np.float32)
    base = left * (1 - ramp) + right * ramp
    texture = cv2.resize(rng.normal(0, 12, (HEIGHT // 16, WIDTH // 16)).astype(np.float32), (WIDTH, HEIGHT),
                         interpolation=cv2.INTER_CUBIC)
    return np.clip(base + texture[..., None], 0, 255).astype(np.uint8)


def composite(canvas: np.ndarray, sprite: Sprite, pose: tuple[float, float, float, float]) -> None:
    centre_x, centre_y, scale, roll_deg = pose
    place = cv2.getRotationMatrix2D((SPRITE_PX / 2, SPRITE_PX / 2), roll_deg, scale)
    place[:, 2] += (centre_x - SPRITE_PX / 2, centre_y - SPRITE_PX / 2)
    warped = cv2.warpAffine(sprite.image, place, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(sprite.alpha, place, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)[..., None]
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)


def render(path: Path, layers: list[tuple[Sprite, Motion]], seconds: float, seed: int) -> int:
    """Write one clip; layers are drawn in order, so later ones pass in front. Returns the frame count."""
    still = background(seed)
    rng = np.random.default_rng(seed + 1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit(f"cv2.VideoWriter cannot write {path} with the mp4v codec")
    count = int(round(seconds * FPS))
    for index in range(count):
        t = index / FPS
        canvas = still.copy()
        for sprite, motion in layers:
            pose = motion.pose(t)
            if pose is not None:
                composite(canvas, sprite, pose)
        # a little sensor noise so consecutive frames are not identical
        noise = rng.normal(0, 2.0, canvas.shape).astype(np.float32)
        writer.write(np.clip(canvas + noise, 0, 255).astype(np.uint8))
    writer.release()
    return count


def ease(t: float, start: float, end: float) -> float:
    """0 before start, 1 after end, a smooth cosine step in between."""
    u = min(max((t - start) / (end - start), 0.0), 1.0)
    return 0.5 - 0.5 * math.cos(math.pi * u)


def one_face_motion(t: float) -> tuple[float, float, float, float]:
    return (WIDTH / 2 + 140 * math.sin(2 * math.pi * t / 4.0),
            HEIGHT / 2 + 35 * math.sin(2 * math.pi * t / 2.7),
            1.55 + 0.3 * math.sin(2 * math.pi * t / 3.3),
            20.0 * math.sin(2 * math.pi * t / 2.0))


def smiling_man_motion(t: float) -> tuple[float, float, float, float]:
    # left to right along the upper row; the neutral man passes in front of him around t = 2.2 s
    x = 110 + (WIDTH - 220) * ease(t, 0.5, 4.5)
    return x, 125 + 10 * math.sin(t * 2.1), 0.9 + 0.06 * math.sin(t * 1.3), 12 * math.sin(t * 1.7)


def neutral_man_motion(t: float) -> tuple[float, float, float, float] | None:
    # right to left, a little lower, then out of the frame on the left (t 4.0..5.0 s) and back in
    if t < 3.5:
        x = WIDTH - 110 - (WIDTH - 220) * ease(t, 0.5, 3.5)
    elif t < 4.0:
        x = 110 - 260 * ease(t, 3.5, 4.0)
    elif t < 5.0:
        return None
    else:
        x = -150 + 270 * ease(t, 5.0, 5.7)
    return x, 170 + 8 * math.sin(t * 1.9), 0.92 + 0.05 * math.cos(t * 1.1), -10 * math.sin(t * 1.4)


def astronaut_motion(t: float) -> tuple[float, float, float, float]:
    # the lower row, swaying and rolling, always in view
    return (WIDTH / 2 + 150 * math.sin(t * 0.9), 375 + 6 * math.sin(t * 1.6),
            0.85 + 0.08 * math.sin(t * 0.8), 18 * math.sin(t * 2.3))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opencv-doc", type=Path, default=None,
                        help="opencv-doc .deb or the folder it was unpacked into (default: apt-get download)")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output folder (default: fea_ros/samples)")
    args = parser.parse_args(argv)

    from skimage import data  # scikit-image is a dev dependency, only this script needs it

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fea_ros_sample_") as workdir:
        photos_dir = unpack_opencv_doc(args.opencv_doc, Path(workdir))
        photos = {name: (load_checked(photos_dir / name, sha), box)
                  for name, (sha, box) in OPENCV_DOC_PHOTOS.items()}
    astronaut = cut_sprite(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), ASTRONAUT_FACE_BOX)
    smiling_man = cut_sprite(*photos["227943776_1.jpg"])
    neutral_man = cut_sprite(*photos["230501201_1.jpg"])

    clips = {
        "face1.mp4": ([(astronaut, Motion(one_face_motion))], 4.0, 7),
        "faces3.mp4": ([(astronaut, Motion(astronaut_motion)), (smiling_man, Motion(smiling_man_motion)),
                        (neutral_man, Motion(neutral_man_motion))], 6.0, 11),
    }
    for name, (layers, seconds, seed) in clips.items():
        path = args.out / name
        frames = render(path, layers, seconds, seed)
        print(f"wrote {path} ({frames} frames, {path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
