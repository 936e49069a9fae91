"""The framework-free pipeline: one frame in, every face's result out (DESIGN.md "Data flow").

Stages: 1 detect, 2 track, 3 landmarks, 4 expression, 5 blendshapes, 6 temporal, 7 MiE, 8 attention (head
pose, gaze, engagement: core/attention.py). The pipeline owns
all per-face state (tracker, smoothers, crops predicted from landmarks); a stamp that goes backwards (a bag
that loops) resets it.

Detection is skipped on most frames the way MediaPipe does it: a confirmed face whose mesh was present in
the previous frame is cropped from its previous landmarks, and the detector only runs every
``detection.redetect_interval`` frames (to find new faces) or when a face is not followed (new, lost, or
missed). Wherever the mesh found the face, its box is taken from the mesh (landmarks.box_from_mesh), so the box
and the expression crop do not change character between frames with and without the detector.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from fea_ros.core.action_units import BlendshapeEstimator
from fea_ros.core.attention import AttentionEstimator
from fea_ros.core.camera import CameraIntrinsics
from fea_ros.core.config import PipelineConfig
from fea_ros.core.detection import FaceDetector, covered_fractions, detector_spec, fallback_spec
from fea_ros.core.errors import ConfigError
from fea_ros.core.expression import NETS, ExpressionClassifier, enabled_nets, flip_networks
from fea_ros.core.expression_fusion import load_fusions
from fea_ros.core.head_pose import FaceGeometry
from fea_ros.core.image_msg import MIN_IMAGE_SIDE, to_bgr
from fea_ros.core.landmarks import (FaceMesh, Roi, box_from_mesh, keypoints_from_mesh, mesh_model,
                                    roi_from_detection, roi_from_landmarks)
from fea_ros.core.temporal import ExpressionSmoother
from fea_ros.core.tracking import FaceTracker
from fea_ros.core.types import Detection, Expression, FaceResult, Frame, FrameResult, Landmarks, Track
from fea_ros.inference.engine import Engine
from fea_ros.inference.factory import create_engine, resolve_backend
from fea_ros.inference.models import Manifest
from fea_ros.mie.spotter import MieSpotter

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("detect", "track", "landmarks", "expression", "blendshapes", "temporal", "mie",
                           "attention")
#: in the back-half hand-over list: forget every face (no track id: those are f1, f2, ...)
_RESET = "*"


@dataclass
class FrontHalf:
    """A frame after front(): what back() needs, independent of later front() calls."""

    frame: Frame
    image: np.ndarray  # the frame as BGR (to_bgr)
    seen: list[Track]  # copies of the confirmed tracks seen in this frame
    meshes: list[Landmarks]  # per seen track (presence may be below tracking.min_presence)
    smoothers: list[ExpressionSmoother]  # per seen track
    timings: dict[str, float]  # stages 1-3 filled in
    back_ops: list[str]  # what back() forgets first: dropped track ids, _RESET


@dataclass
class _FaceState:
    """What the pipeline remembers about one track between frames."""

    smoother: ExpressionSmoother
    next_roi: Roi | None = None  # mesh crop predicted from this frame's landmarks; None = needs the detector
    score: float = 0.0  # last detector score


class Pipeline:
    """detect -> track -> landmarks -> expression -> blendshapes -> temporal -> MiE, for one camera."""

    def __init__(self, config: PipelineConfig | None = None, manifest: Manifest | None = None) -> None:
        self.config = config = config or PipelineConfig()
        self._check(config)
        manifest = manifest or Manifest(config.inference.models_dir or None)
        backend, why = resolve_backend(config.inference.backend)
        log.info("inference backend %s (%s)", backend, why)

        def engine(name: str) -> Engine:
            return create_engine(name, config.inference, manifest, backend=backend)

        fallback = fallback_spec(config.detection)
        self.detector = FaceDetector(
            engine(detector_spec(config.detection.detector).model), config.detection,
            fallback=FaceDetector(engine(fallback.model), config.detection, fallback) if fallback else None)
        self.mesh = FaceMesh(engine(mesh_model(config.landmarks.model)[0]), config.landmarks)
        self.blendshapes = BlendshapeEstimator(engine("face_blendshapes_52")) if config.blendshapes else None
        nets = enabled_nets(config.expression)
        fusion, fusion_blendshapes = (load_fusions(manifest.directory, flip_networks(config.expression),
                                                   config.blendshapes)
                                      if config.expression.fusion == "fitted" else (None, None))
        self.expression = ExpressionClassifier({key: engine(NETS[key].model) for key in nets}, config.expression,
                                               fusion, fusion_blendshapes)
        self.tracker = FaceTracker(config.tracking, max_tracks=config.detection.max_faces)
        #: stage 7: the per-track micro-expression spotter (update per face, drop when a track ends, reset)
        self.mie = MieSpotter(config.mie) if config.mie.enabled else None
        #: stage 8: head pose, gaze, looking and engagement per track
        self.attention = AttentionEstimator(FaceGeometry.from_manifest(manifest), config.attention) \
            if config.attention.enabled else None
        self._faces: dict[str, _FaceState] = {}
        #: what the next back() must forget, in order: dropped track ids and _RESET (front-half state)
        self._back_ops: list[str] = []
        self._stage_worker = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="fea_ros-expression")
                              if config.inference.stage_threads >= 2 else None)
        self._frames_since_detection = 0
        self._last_stamp_ns: int | None = None
        self._fov_camera: tuple[tuple[int, int, float], CameraIntrinsics] | None = None

    @staticmethod
    def _check(config: PipelineConfig) -> None:
        if config.blendshapes and config.landmarks.model != "v2":
            raise ConfigError("blendshapes need the 478-point mesh: set landmarks.model to 'v2' or blendshapes "
                              "to false")
        if config.detection.redetect_interval < 1:
            raise ConfigError(f"detection.redetect_interval must be >= 1, got {config.detection.redetect_interval}")
        if config.tracking.confirm_frames < 1 or config.tracking.drop_frames < 1:
            raise ConfigError("tracking.confirm_frames and tracking.drop_frames must be >= 1")
        if config.inference.stage_threads not in (1, 2):
            raise ConfigError(f"inference.stage_threads must be 1 or 2, got {config.inference.stage_threads}")
        if config.detection.max_faces < 1:
            raise ConfigError(f"detection.max_faces must be >= 1, got {config.detection.max_faces}")
        if config.landmarks.crop_scale <= 0:
            raise ConfigError(f"landmarks.crop_scale must be > 0 (MediaPipe uses 1.5), got "
                              f"{config.landmarks.crop_scale}")
        if not enabled_nets(config.expression):
            raise ConfigError("expression.weights gives every network weight 0; at least one of "
                              f"{sorted(NETS)} needs a weight > 0")

    def reset(self) -> None:
        """Forget every face (new ids start again at f1).

        The back half's state (MiE spotter, attention) is forgotten at the next back(), after any frame
        already between front() and back(): so a reset in the middle of a frame pipeline cannot hand that
        frame's old face ids to the new faces.
        """
        self._reset_front()

    def _reset_front(self) -> None:
        """Forget the faces on the front half's side; the back half forgets them at its next frame."""
        self.tracker.reset()
        self._faces = {}
        self._frames_since_detection = 0
        self._last_stamp_ns = None
        self._back_ops = [_RESET]  # a reset makes every drop before it moot

    def _apply_back_ops(self, ops: list[str]) -> None:
        """Forget what front() dropped: a track id, or _RESET for every face."""
        for op in ops:
            if op == _RESET:
                if self.mie is not None:
                    self.mie.reset()
                if self.attention is not None:
                    self.attention.reset()
            else:
                if self.mie is not None:
                    self.mie.drop(op)
                if self.attention is not None:
                    self.attention.drop(op)

    def intrinsics(self, frame: Frame, width: int, height: int) -> CameraIntrinsics:
        """The frame's camera (CameraInfo, scaled to the image) or one with camera.fov_deg."""
        if frame.camera is not None:
            return frame.camera.scaled_to(width, height)
        key = (width, height, self.config.camera.fov_deg)
        if self._fov_camera is None or self._fov_camera[0] != key:
            self._fov_camera = (key, CameraIntrinsics.from_fov(width, height, self.config.camera.fov_deg))
        return self._fov_camera[1]

    def process(self, frame: Frame) -> FrameResult:
        """Every face of one video frame (the two halves in turn; core/frame_pipeline.py overlaps them)."""
        return self.back(self.front(frame))

    def front(self, frame: Frame, reset: bool = False) -> FrontHalf:
        """Stages 1-3 of a frame: find and follow the faces and run the mesh (needs only earlier fronts).

        ``reset`` forgets every face first (as reset()). The state this half owns (tracker, the crops to
        follow, the detector's schedule) is touched by no back(), so front(n + 1) may run on another thread
        while back(n) runs; what the back half must forget (dropped tracks, a reset) is handed to it in order.
        """
        if reset:  # before the frame is checked, as reset() then process() would
            self._reset_front()
        image = to_bgr(frame.image, max(MIN_IMAGE_SIDE, int(np.ceil(self.config.detection.min_face_px))))
        if self._last_stamp_ns is not None and frame.stamp_ns < self._last_stamp_ns:
            log.info("stamp went back from %d to %d ns: resetting all face tracks", self._last_stamp_ns,
                     frame.stamp_ns)
            self._reset_front()
        self._last_stamp_ns = frame.stamp_ns
        timings = dict.fromkeys(STAGES, 0.0)
        clock = time.perf_counter

        followed = {tid: state.next_roi for tid, state in self._faces.items() if state.next_roi is not None}
        start = clock()
        meshes: dict[str, Landmarks] = {}
        continued: dict[str, Detection] = {}
        # every followed face in one mesh call
        for track_id, landmarks in zip(followed, self.mesh.many(image, list(followed.values()))):
            if landmarks.presence >= self.config.tracking.min_presence:
                meshes[track_id] = landmarks
                continued[track_id] = self._detection_from_mesh(self._faces[track_id].score, landmarks)
        timings["landmarks"] = (clock() - start) * 1e3

        # The detector also runs at once when a followed face slipped out of its predicted crop, so a fast
        # movement costs no missed frame.
        live = self.tracker.tracks
        detect_now = (not self.config.tracking.landmark_tracking or not live or len(continued) < len(followed)
                      or any(t.track_id not in followed for t in live)
                      or self._frames_since_detection + 1 >= self.config.detection.redetect_interval)
        detections = []
        if detect_now:  # a skipped detector reports 0 ms, so the timings show how often it ran
            start = clock()
            detections = self.detector(image)
            timings["detect"] = (clock() - start) * 1e3
        self._frames_since_detection = 0 if detect_now else self._frames_since_detection + 1

        start = clock()
        seen = [t for t in self.tracker.update(detections, continued) if t.confirmed]
        self._forget_dropped()
        timings["track"] = (clock() - start) * 1e3

        start = clock()
        unmeshed = [track for track in seen if track.track_id not in meshes]
        rois = [roi_from_detection(track.detection, self.config.landmarks.crop_scale) for track in unmeshed]
        meshes.update(zip((track.track_id for track in unmeshed), self.mesh.many(image, rois)))
        self._update_face_states(seen, meshes)
        timings["landmarks"] += (clock() - start) * 1e3
        # the tracker changes its Track objects in the next front(): the back half gets copies
        back_ops, self._back_ops = self._back_ops, []
        return FrontHalf(frame=frame, image=image, seen=[replace(t) for t in seen],
                         meshes=[meshes[t.track_id] for t in seen],
                         smoothers=[self._faces[t.track_id].smoother for t in seen], timings=timings,
                         back_ops=back_ops)

    def back(self, front: FrontHalf) -> FrameResult:
        """Stages 4-8 of a frame front() has prepared: expression, blendshapes, MiE, smoothing, attention.

        Back halves must run in frame order, one at a time; each needs only its own front half and the
        back halves before it.
        """
        self._apply_back_ops(front.back_ops)
        frame, image, seen, timings = front.frame, front.image, front.seen, front.timings
        clock = time.perf_counter
        boxes = [t.detection.box for t in seen]
        marks = [m if m.presence >= self.config.tracking.min_presence else None for m in front.meshes]
        # with inference.stage_threads 2 the expression nets run on the second core while blendshapes and the
        # MiE spotter run here (both read the frame only); their time is then measured on that thread
        pending = (self._stage_worker.submit(self._timed_networks, image, boxes, marks)
                   if self._stage_worker else None)
        if pending is None:
            per_model, timings["expression"] = self._timed_networks(image, boxes, marks)

        start = clock()
        present = {t.track_id: m for t, m in zip(seen, front.meshes)
                   if m.presence >= self.config.tracking.min_presence}
        units = {}
        if self.blendshapes is not None:  # every face in one call
            units = dict(zip(present, self.blendshapes.many([m.points for m in present.values()])))
        timings["blendshapes"] = (clock() - start) * 1e3

        start = clock()
        events = []
        if self.mie is not None:
            covered = covered_fractions(boxes)
            for track, fraction in zip(seen, covered):
                if fraction > self.config.mie.occlusion_overlap:
                    # another face in front changes the pixels without any facial movement
                    self.mie.drop(track.track_id)
                    continue
                events.extend(self.mie.update(track.track_id, frame.stamp_ns, image, present.get(track.track_id),
                                              units.get(track.track_id)))
        timings["mie"] = (clock() - start) * 1e3

        if pending is not None:
            per_model, timings["expression"] = pending.result()
        start = clock()  # the fusion reads the blendshapes, so it waits for them (a few microseconds)
        shapes = [units[t.track_id].blendshapes if t.track_id in units else None for t in seen]
        expressions = self.expression.fuse(per_model, shapes) if seen else []
        timings["expression"] += (clock() - start) * 1e3
        faces = []
        for track, expression, smoother in zip(seen, expressions, front.smoothers):
            face_landmarks = present.get(track.track_id)
            action_units = units.get(track.track_id)
            start = clock()
            smoothed = smoother.update(frame.stamp_ns, expression.probabilities)
            timings["temporal"] += (clock() - start) * 1e3
            faces.append(FaceResult(
                face_id=track.track_id, track_age=track.age, box=track.detection.box.copy(),
                detection_confidence=float(track.detection.score), landmarks=face_landmarks,
                expression=smoothed.label, expression_confidence=smoothed.confidence,
                expression_scores=smoothed.probabilities, raw_scores=expression.probabilities,
                valence=smoothed.valence, arousal=smoothed.arousal, action_units=action_units,
                per_model=expression.per_model))

        height, width = image.shape[:2]
        if self.attention is not None:
            start = clock()
            camera = self.intrinsics(frame, width, height)
            for face in faces:
                if face.landmarks is not None:
                    face.attention = self.attention.update(face.face_id, frame.stamp_ns, face.landmarks.points,
                                                           camera)
            timings["attention"] = (clock() - start) * 1e3
        return FrameResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, width=width, height=height,
                           faces=faces, events=events, timings_ms=timings, index=frame.index)

    def process_image(self, image: np.ndarray, *, frame_id: str = "", index: int = 0, stamp_ns: int = 0,
                      boxes: Sequence[Sequence[float] | np.ndarray] | None = None) -> FrameResult:
        """One still image (a photo, a face crop): every face it holds, found afresh, nothing remembered.

        ``image`` is BGR uint8 (grey and BGRA are converted), as for process(). Unlike process(), every face
        the detector finds is reported at once (ids "f1", "f2", ... best detector score first, track_age 0),
        the expression is this image's own (expression_scores == raw_scores, the label is their argmax,
        valence/arousal from them), there are no micro-expression events, and the video state (tracks,
        smoothing, MiE) is neither used nor changed: calls are independent, in any order, and may be
        interleaved with process() in the same thread (not while core/frame_pipeline.py runs a front() on its
        worker: both use the detector's and the mesh's reused buffers). ``boxes`` (x0, y0, x1, y1 image px each) skips the detector and takes
        these as the faces, e.g. ``[(0, 0, w, h)]`` for an image known to be one face crop; as for detected
        faces, the reported box is then taken from the face mesh where the mesh finds the face.
        """
        from fea_ros.core.still import process_still

        return process_still(self, image, frame_id=frame_id, index=index, stamp_ns=stamp_ns, boxes=boxes)

    def _timed_networks(self, image: np.ndarray, boxes: list[np.ndarray],
                        marks: list[Landmarks | None]) -> tuple[dict[str, np.ndarray], float]:
        start = time.perf_counter()
        per_model = self.expression.networks(image, boxes, marks) if boxes else {}
        return per_model, (time.perf_counter() - start) * 1e3

    def _detection_from_mesh(self, score: float, landmarks: Landmarks) -> Detection:
        """A detector-like box and keypoints for a face the mesh found."""
        return Detection(box=box_from_mesh(landmarks.points, self.config.detection.detector), score=score,
                         keypoints=keypoints_from_mesh(landmarks.points))

    def _update_face_states(self, seen: list[Track], meshes: dict[str, Landmarks]) -> None:
        """Boxes from the mesh where it found the face; the crops to follow each face in the next frame."""
        for track in self.tracker.tracks:
            state = self._faces.get(track.track_id)
            if state is not None:
                state.next_roi = None
        follow = self.config.tracking.landmark_tracking
        for track in seen:
            state = self._faces.setdefault(track.track_id, _FaceState(ExpressionSmoother(self.config.temporal)))
            landmarks = meshes[track.track_id]
            present = landmarks.presence >= self.config.tracking.min_presence
            detection = self.tracker.matched.get(track.track_id)
            if detection is not None:
                state.score = float(detection.score)
            if present and detection is not None:  # a face followed without a detection has its mesh box
                self.tracker.refine(track.track_id, self._detection_from_mesh(state.score, landmarks))
            if follow and present:
                state.next_roi = roi_from_landmarks(landmarks.points, self.config.landmarks.crop_scale)
        self._stop_following_crowded_faces()

    def _stop_following_crowded_faces(self) -> None:
        """Faces close to another face go back to the detector.

        A mesh crop that holds part of a second face can slide onto it, and then two tracks follow one
        face. The detector plus the tracker's motion prediction keeps identities apart instead.
        """
        boxes = {t.track_id: t.detection.box for t in self.tracker.tracks}
        for track_id, state in self._faces.items():
            roi = state.next_roi
            if roi is None:
                continue
            half = roi.size / 2
            crop = np.array([roi.cx - half, roi.cy - half, roi.cx + half, roi.cy + half])
            for other_id, box in boxes.items():
                if other_id != track_id and box[0] < crop[2] and crop[0] < box[2] and box[1] < crop[3] \
                        and crop[1] < box[3]:
                    state.next_roi = None
                    break

    def _forget_dropped(self) -> None:
        alive = {t.track_id for t in self.tracker.tracks}
        for track_id in [tid for tid in self._faces if tid not in alive]:
            del self._faces[track_id]
            self._back_ops.append(track_id)  # the back half drops it from MiE and attention

