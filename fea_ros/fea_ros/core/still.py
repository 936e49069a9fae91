"""One still image in, every face's result out: no tracking, no smoothing, no micro-expressions.

A photo is not a frame of a video. Each call detects the faces afresh (down to a tenth of the image when
the detector finds none on the whole image: core/tiles.py), reports every detection at once
(video reports a face only after ``tracking.confirm_frames`` frames), gives the unsmoothed expression
probabilities and keeps nothing for the next call, so a folder of unrelated photos gives independent
results. The stages and models are the video pipeline's own (core/pipeline.py), so a face gets the same box,
mesh and expression crop as in a video frame.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from fea_ros.core.detection import DETECTORS, FaceDetector
from fea_ros.core.errors import InputError
from fea_ros.core.landmarks import box_from_mesh, keypoints_from_mesh, roi_from_detection
from fea_ros.core.temporal import valence_arousal
from fea_ros.core.tiles import detect_in_tiles
from fea_ros.core.types import EXPRESSION_LABELS, ActionUnits, Detection, FaceResult, FrameResult, Landmarks

if TYPE_CHECKING:
    from fea_ros.core.pipeline import Pipeline

#: where BlazeFace's eye, nose and mouth keypoints sit in its box (x, y in units of the box), for a face box
#: given by the caller: only the eye line matters (it sets the roll of the mesh crop: level eyes = upright)
_KEYPOINTS_IN_BOX = np.array([(0.3, 0.35), (0.7, 0.35), (0.5, 0.6), (0.5, 0.8), (0.05, 0.45), (0.95, 0.45)])


def detection_from_box(box: Sequence[float] | np.ndarray) -> Detection:
    """A caller-given (x0, y0, x1, y1) face box as an upright detection with score 1."""
    array = np.asarray(box, dtype=np.float64).reshape(-1)
    if array.shape != (4,) or not np.all(np.isfinite(array)) or array[2] <= array[0] or array[3] <= array[1]:
        raise InputError(f"a face box must be 4 finite numbers x0, y0, x1, y1 with x1 > x0 and y1 > y0 "
                         f"(image pixels), got {box!r}")
    size = array[2:] - array[:2]
    return Detection(box=array.astype(np.float32), score=1.0,
                     keypoints=(array[:2] + _KEYPOINTS_IN_BOX * size).astype(np.float32))


def tile_detector(detector: FaceDetector) -> FaceDetector:
    """The short-range model where the pipeline has it (first or as fallback), else its only detector."""
    for candidate in (detector, detector.fallback):
        if candidate is not None and candidate.spec.model == DETECTORS["short"].model:
            return candidate
    return detector


def find_faces(pipeline: "Pipeline", image: np.ndarray,
               boxes: Sequence[Sequence[float] | np.ndarray] | None = None) -> list[tuple[Detection, Landmarks | None]]:
    """Each face of a BGR image with its mesh (None where the mesh does not find it), best detection first.

    The pipeline's detector (with its fallback) runs on the whole image; where it finds nothing, the
    short-range model looks at tiles for smaller faces (core/tiles.py), and a face found only there must also
    be found by the mesh. A face's box is then taken from its mesh, as the video pipeline does.
    """
    config = pipeline.config
    tiled = False
    if boxes is not None:
        detections = [detection_from_box(box) for box in boxes]
    else:
        detections = pipeline.detector(image)
        if not detections:
            detections, tiled = detect_in_tiles(tile_detector(pipeline.detector), image), True
    found: list[tuple[Detection, Landmarks | None]] = []
    for detection in detections:
        landmarks = pipeline.mesh(image, roi_from_detection(detection, config.landmarks.crop_scale))
        if landmarks.presence < config.tracking.min_presence:
            if not tiled:
                found.append((detection, None))
            continue
        # the box the video pipeline reports for a face its mesh found (landmarks.box_from_mesh)
        box = box_from_mesh(landmarks.points, config.detection.detector).astype(np.float32)
        found.append((Detection(box=box, score=detection.score, keypoints=keypoints_from_mesh(landmarks.points)),
                      landmarks))
    return found


def process_still(pipeline: "Pipeline", image: np.ndarray, *, frame_id: str = "", index: int = 0,
                  stamp_ns: int = 0, boxes: Sequence[Sequence[float] | np.ndarray] | None = None) -> FrameResult:
    """See Pipeline.process_image."""
    from fea_ros.core.image_msg import MIN_IMAGE_SIDE, to_bgr
    from fea_ros.core.pipeline import STAGES

    image = to_bgr(image, max(MIN_IMAGE_SIDE, int(np.ceil(pipeline.config.detection.min_face_px))))
    timings = dict.fromkeys(STAGES, 0.0)
    clock = time.perf_counter

    start = clock()
    found = find_faces(pipeline, image, boxes)
    # detector and mesh run together here (the mesh confirms faces found in tiles): all of it is "detect"
    timings["detect"] = (clock() - start) * 1e3

    start = clock()
    units: list[ActionUnits | None] = [None] * len(found)
    meshed = [(i, landmarks) for i, (_, landmarks) in enumerate(found) if landmarks]
    if pipeline.blendshapes is not None and meshed:  # every face in one call, as in Pipeline.back
        for (i, _), unit in zip(meshed, pipeline.blendshapes.many([marks.points for _, marks in meshed])):
            units[i] = unit
    timings["blendshapes"] = (clock() - start) * 1e3

    start = clock()  # after the blendshapes: the expression fusion reads them
    expressions = pipeline.expression(image, [detection.box for detection, _ in found], [m for _, m in found],
                                      [u.blendshapes if u is not None else None for u in units])
    timings["expression"] = (clock() - start) * 1e3

    faces = []
    for number, ((detection, landmarks), expression, action_units) in enumerate(zip(found, expressions, units),
                                                                                start=1):
        probabilities = expression.probabilities
        best = int(np.argmax(probabilities))
        valence, arousal = valence_arousal(probabilities)
        faces.append(FaceResult(
            face_id=f"f{number}", track_age=0, box=detection.box.copy(),
            detection_confidence=float(detection.score), landmarks=landmarks,
            expression=EXPRESSION_LABELS[best], expression_confidence=float(probabilities[best]),
            expression_scores=probabilities.copy(), raw_scores=probabilities.copy(),
            valence=valence, arousal=arousal, action_units=action_units, per_model=expression.per_model))
    height, width = image.shape[:2]
    return FrameResult(stamp_ns=stamp_ns, frame_id=frame_id, width=width, height=height, faces=faces, events=[],
                       timings_ms=timings, index=index)
