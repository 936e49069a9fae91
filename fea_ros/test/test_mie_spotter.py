"""The streaming spotter on short clips of the astronaut photo with injected movements (real FaceMesh landmarks)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fea_ros.core.config import LandmarksConfig, MieConfig, PipelineConfig
from fea_ros.core.types import Landmarks
from fea_ros.mie.alignment import STABLE_POINTS, FaceAligner, apply_affine
from fea_ros.mie.evaluation import interval_iou
from fea_ros.mie.spotter import MieSpotter
from fea_ros.mie.synthetic import ClipSpec, FaceAnimator, HeadMotion, Movement, eye_opening

INTEROCULAR = 75.0


@pytest.fixture(scope="module")
def astronaut_mesh():
    """The astronaut photo and its FaceMesh from fea_ros's own detector and mesh network."""
    skimage_data = pytest.importorskip("skimage.data")
    from fea_ros.core.detection import FaceDetector
    from fea_ros.core.landmarks import FaceMesh, mesh_model, roi_from_detection, roi_from_landmarks
    from fea_ros.inference.factory import create_engine
    from fea_ros.inference.models import Manifest

    photo = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    config = PipelineConfig()
    manifest = Manifest(None)
    model = "v2" if manifest.check(mesh_model("v2")[0]) is None else "v1"
    mesh = FaceMesh(create_engine(mesh_model(model)[0], config.inference, manifest), LandmarksConfig(model=model))
    detector = FaceDetector(create_engine("blazeface_full_192", config.inference, manifest), config.detection)
    landmarks = mesh(photo, roi_from_detection(detector(photo)[0], config.landmarks.crop_scale))
    landmarks = mesh(photo, roi_from_landmarks(landmarks.points, config.landmarks.crop_scale))
    return photo, landmarks.points[:468, :2]


def make_clip(photo_mesh, fps: float, seconds: float, movements: list[Movement], jerks=(), seed: int = 3):
    photo, mesh = photo_mesh
    animator = FaceAnimator(photo, mesh)
    rng = np.random.default_rng(seed)
    head = HeadMotion(translation_px=(8.0, 5.0), rotation_deg=6.0, scale=0.05, phases=rng.uniform(0, 6.3, (4, 3)),
                      jerks=list(jerks))
    spec = ClipSpec("test", fps, seconds, movements, head, scale=INTEROCULAR / animator.interocular,
                    frame_size=(256, 256), noise_sigma=2.0, jpeg_quality=85, landmark_jitter_px=0.4)
    return [animator.render(spec, i, rng) for i in range(int(round(seconds * fps)))]


def run_spotter(frames, fps: float, config: MieConfig | None = None):
    spotter = MieSpotter(config or MieConfig())
    events = []
    for i, (image, points) in enumerate(frames):
        mesh = np.zeros((points.shape[0], 3))
        mesh[:, :2] = points
        events += spotter.update("f1", int(round(i * 1e9 / fps)), image,
                                 Landmarks(points=mesh, presence=1.0, ibug68=mesh[:68, :2]))
    return events


def seconds(event):
    return event.onset_ns * 1e-9, event.offset_ns * 1e-9


def test_alignment_removes_a_known_similarity(astronaut_mesh):
    photo, mesh = astronaut_mesh
    aligner = FaceAligner(128)
    reference = aligner.align(photo, mesh)
    angle, scale, shift = 7.0, 1.15, (9.0, -6.0)
    matrix = cv2.getRotationMatrix2D((256.0, 256.0), angle, scale)
    matrix[:, 2] += shift
    moved = cv2.warpAffine(photo, matrix, (512, 512), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    aligned = aligner.align(moved, apply_affine(matrix, mesh))
    # the stable points land where they were, and the crops agree pixel by pixel away from the border
    assert np.abs(aligned.points[list(STABLE_POINTS)] - reference.points[list(STABLE_POINTS)]).max() < 1e-6
    inner = (slice(16, 112), slice(16, 112))
    difference = np.abs(aligned.crop[inner].astype(int) - reference.crop[inner].astype(int))
    assert np.median(difference) <= 3 and aligned.interocular_px == pytest.approx(reference.interocular_px)
    unaligned = cv2.resize(moved, (128, 128))
    assert np.median(np.abs(unaligned.astype(int) - cv2.resize(photo, (128, 128)).astype(int))) > 10


def test_detects_an_injected_micro_and_macro_expression(astronaut_mesh):
    micro = Movement("brow_raise", 1.8, 1.95, 2.15, 3.0, "MICRO")
    macro = Movement("lip_corner_pull", 3.0, 3.5, 4.4, 8.0, "MACRO", hold_s=0.2)
    events = run_spotter(make_clip(astronaut_mesh, 30.0, 5.5, [micro, macro]), 30.0)
    assert len(events) == 2, [(seconds(e), e.type) for e in events]
    first, second = sorted(events, key=lambda e: e.onset_ns)
    assert first.type == "MICRO" and interval_iou(seconds(first), (1.8, 2.15)) >= 0.5
    assert set(first.regions) & {"brow_left", "brow_right"} and {1, 2} <= set(first.action_units)
    assert second.type == "MACRO" and interval_iou(seconds(second), (3.0, 4.4)) >= 0.5
    assert set(second.regions) & {"mouth_corner_left", "mouth_corner_right"} and 12 in second.action_units
    assert second.intensity > first.intensity and 0 < first.confidence <= 1
    for event in events:
        assert event.onset_ns <= event.apex_ns <= event.offset_ns
        # bounded delay: emitted within window_s (+ one frame) of the offset
        assert 0 <= event.emitted_ns - event.offset_ns <= (MieConfig().window_s + 1 / 30.0) * 1e9 + 1


def test_ignores_blinks_and_pure_head_motion(astronaut_mesh):
    photo, mesh = astronaut_mesh
    lid = 0.9 * eye_opening(mesh) * INTEROCULAR / np.linalg.norm(mesh[[362, 263]].mean(0) - mesh[[33, 133]].mean(0))
    blinks = [Movement("blink", t, t + 0.1, t + 0.28, lid) for t in (1.5, 2.6, 3.9)]
    jerks = [(2.0, 0.3, 10.0, -6.0), (3.3, 0.25, -8.0, 5.0)]
    frames = make_clip(astronaut_mesh, 30.0, 5.0, blinks, jerks)
    # the blinks are visible in the frames: the eye region of the aligned face changes
    aligner = FaceAligner(128)
    open_eye = aligner.align(frames[40][0], frames[40][1]).crop
    closed = aligner.align(frames[48][0], frames[48][1]).crop
    assert np.abs(open_eye[35:60].astype(int) - closed[35:60].astype(int)).mean() > 2
    assert run_spotter(frames, 30.0) == []


def test_same_movement_at_25_and_100_fps_gives_the_same_interval(astronaut_mesh):
    movement = Movement("lip_corner_pull", 1.8, 2.0, 2.25, 3.5, "MICRO")
    intervals = {}
    for fps in (25.0, 100.0):
        events = run_spotter(make_clip(astronaut_mesh, fps, 3.2, [movement]), fps)
        assert len(events) == 1, (fps, [seconds(e) for e in events])
        intervals[fps] = seconds(events[0])
        assert events[0].type == "MICRO"
        assert interval_iou(intervals[fps], (1.8, 2.25)) >= 0.5
    # within three frames at the lower rate
    (on25, off25), (on100, off100) = intervals[25.0], intervals[100.0]
    assert abs(on25 - on100) <= 0.12 and abs(off25 - off100) <= 0.12
    assert interval_iou(intervals[25.0], intervals[100.0]) >= 0.6


def test_drop_reset_and_missing_landmarks(astronaut_mesh):
    frames = make_clip(astronaut_mesh, 30.0, 0.3, [])
    spotter = MieSpotter(MieConfig())
    image, points = frames[0]
    mesh = np.c_[points, np.zeros(len(points))]
    spotter.update("a", 0, image, Landmarks(mesh, 1.0, mesh[:68, :2]))
    spotter.update("b", 0, image, Landmarks(mesh, 1.0, mesh[:68, :2]))
    assert spotter.update("c", 0, image, None) == [] and set(spotter.face_ids) == {"a", "b"}
    spotter.drop("a")
    assert spotter.face_ids == ("b",)
    spotter.reset()
    assert spotter.face_ids == ()
