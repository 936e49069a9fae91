"""Run the real pipeline over labelled faces and score its expressions: `fea-ros evaluate expression`.

Each row of the labels file (labels.py) is an image or a short video. Two ways to find the face:

* ``crop="whole"``: the image is taken to be one tight face crop. The detector is skipped; the whole image is
  the face box, the face mesh finds the landmarks inside it, and the expression stage crops from them, as in
  the video pipeline (``Pipeline.process_image(image, boxes=[(0, 0, w, h)])``).
* ``crop="detect"``: the image gets a black border of ``pad`` x its longer side on every side (a detector
  tuned for camera frames misses a face that fills the whole image) and the full pipeline detects the faces;
  the largest one is scored. An image where no face is found is counted in ``not_found`` and left out of
  the scores.

A video's frames are taken one by one the same way and the face's probabilities are averaged over the frames
where it was found. Besides the ensemble (what the pipeline publishes as raw_scores), every expression
network is scored alone on the same faces.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import ConfigError, InputError
from fea_ros.core.inputs import IMAGE_SUFFIXES, VideoFileSource
from fea_ros.core.pipeline import Pipeline
from fea_ros.core.types import EXPRESSION_LABELS, FaceResult
from fea_ros.expression_eval.labels import LabelledItem, LabelsFile, read_labels
from fea_ros.expression_eval.metrics import Scores, score

log = logging.getLogger(__name__)

CROP_MODES = ("whole", "detect")
#: border added around each image before detection in crop="detect", as a fraction of its longer side
DEFAULT_PAD = 0.4


@dataclass
class ItemResult:
    """What the pipeline made of one labelled image or video."""

    name: str  # the path as written in the labels file
    path: Path
    label: int  # index into EXPRESSION_LABELS
    probabilities: np.ndarray | None  # (7,) the ensemble; None when no face was found
    per_model: dict[str, np.ndarray] = field(default_factory=dict)  # network key -> (7,)
    milliseconds: float = 0.0  # pipeline time for the item (per frame for a video), decoding excluded
    box: np.ndarray | None = None  # (4,) the scored face, in the item's own pixels (first frame for a video)
    frames: int = 1
    blendshapes: np.ndarray | None = None  # (52,) the scored face's blendshapes (mean over a video's frames)
    problem: str = ""  # why the pipeline rejected the image (e.g. too small), if it did; counted as not found

    @property
    def found(self) -> bool:
        return self.probabilities is not None

    @property
    def predicted(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))


@dataclass
class ExpressionReport:
    crop: str
    labels_file: Path
    items: list[ItemResult]
    ensemble: Scores
    per_network: dict[str, Scores]
    other_labels: dict[str, int]
    missing_files: list[str]
    unreadable: list[str]
    config_summary: str

    @property
    def not_found(self) -> list[ItemResult]:
        return [item for item in self.items if not item.found]

    @property
    def scored(self) -> list[ItemResult]:
        return [item for item in self.items if item.found]

    def as_dict(self) -> dict:
        return {
            "labels_file": str(self.labels_file), "crop": self.crop, "expression_stage": self.config_summary,
            "rows_used": len(self.items), "faces_scored": len(self.scored),
            "faces_not_found": [item.name for item in self.not_found],
            "rejected_by_the_pipeline": {item.name: item.problem for item in self.items if item.problem},
            "other_labels_skipped": self.other_labels, "missing_files": self.missing_files,
            "unreadable_files": self.unreadable,
            "ensemble": self.ensemble.as_dict(),
            "per_network": {key: s.as_dict() for key, s in self.per_network.items()},
            "median_ms_per_face": float(np.median([i.milliseconds for i in self.scored])) if self.scored else None,
        }


def describe_expression_stage(config: PipelineConfig) -> str:
    e = config.expression
    nets = "+".join(key for key, weight in e.weights.items() if weight > 0)
    shapes = " (+ blendshapes where found)" if e.fusion == "fitted" and config.blendshapes else ""
    return (f"{nets}, fusion={e.fusion}{shapes}, aligned_crops={str(e.aligned_crops).lower()}, "
            f"flip_average={e.flip_average or 'none'}")


def _largest(faces: list[FaceResult]) -> FaceResult | None:
    return max(faces, key=lambda f: float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])), default=None)


#: what _FaceScorer finds: ensemble (7,), per-network (7,) each, the face box, blendshapes (52,) or None
Found = tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray | None]


class _FaceScorer:
    """One image in, the largest face's ensemble and per-network probabilities and blendshapes out (or None)."""

    def __init__(self, pipeline: Pipeline, crop: str, pad: float) -> None:
        self.pipeline, self.crop, self.pad = pipeline, crop, pad

    def __call__(self, image: np.ndarray) -> Found | None:
        height, width = image.shape[:2]
        if self.crop == "whole":
            offset = 0
            result = self.pipeline.process_image(image, boxes=[(0.0, 0.0, float(width), float(height))])
        else:
            offset = int(round(self.pad * max(width, height)))
            image = cv2.copyMakeBorder(image, offset, offset, offset, offset, cv2.BORDER_CONSTANT, value=0)
            result = self.pipeline.process_image(image)
        face = _largest(result.faces)
        if face is None:
            return None
        # each network's own output on this face, as the pipeline fused it (the networks ran once)
        shapes = face.action_units.blendshapes if face.action_units is not None else None
        return face.raw_scores, dict(face.per_model), face.box - offset, shapes


def _read_image(path: Path) -> np.ndarray | None:
    data = np.fromfile(str(path), dtype=np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _run_item(item: LabelledItem, scorer: _FaceScorer) -> ItemResult | None:
    """None when the file cannot be decoded."""
    if item.path.suffix.lower() in IMAGE_SUFFIXES:
        image = _read_image(item.path)
        if image is None:
            return None
        start = time.perf_counter()
        try:
            found = scorer(image)
        except InputError as exc:  # bad input is counted and skipped, the evaluation goes on
            log.warning("%s: %s", item.name, exc)
            return ItemResult(item.name, item.path, item.label, None, problem=str(exc))
        elapsed = (time.perf_counter() - start) * 1e3
        if found is None:
            return ItemResult(item.name, item.path, item.label, None, milliseconds=elapsed)
        probabilities, per_model, box, shapes = found
        return ItemResult(item.name, item.path, item.label, probabilities, per_model, elapsed, box,
                          blendshapes=shapes)
    try:
        source = VideoFileSource(item.path)
    except InputError:
        return None
    ensemble: list[np.ndarray] = []
    frame_nets: list[dict[str, np.ndarray]] = []
    boxes: list[np.ndarray] = []
    frame_shapes: list[np.ndarray] = []
    elapsed, frames = 0.0, 0
    with source:
        for frame in source:
            frames += 1
            start = time.perf_counter()
            try:
                found = scorer(frame.image)
            except InputError as exc:
                log.warning("%s frame %d: %s", item.name, frame.index, exc)
                found = None
            elapsed += (time.perf_counter() - start) * 1e3
            if found is not None:
                ensemble.append(found[0])
                frame_nets.append(found[1])
                boxes.append(found[2])
                if found[3] is not None:
                    frame_shapes.append(found[3])
    if frames == 0:
        return None
    if not ensemble:
        return ItemResult(item.name, item.path, item.label, None, milliseconds=elapsed / frames, frames=frames)
    mean = {key: np.mean([nets[key] for nets in frame_nets], axis=0) for key in frame_nets[0]}
    return ItemResult(item.name, item.path, item.label, np.mean(ensemble, axis=0), mean, elapsed / frames,
                      boxes[0], frames, np.mean(frame_shapes, axis=0) if frame_shapes else None)


def evaluate_expression(labels_csv: str | Path, root: str | Path | None = None, out: str | Path | None = None,
                        crop: str = "whole", config: PipelineConfig | None = None, pad: float = DEFAULT_PAD,
                        progress: bool = True, examples: int = 12) -> ExpressionReport:
    """Score the pipeline's expressions on a labelled CSV (see the module docstring); with ``out``, write
    report.json, predictions.csv, confusion.png and examples.png (``examples`` most-confused and slowest faces)
    there."""
    if crop not in CROP_MODES:
        raise ConfigError(f"crop must be one of {', '.join(CROP_MODES)}, got '{crop}'")
    if not 0.0 <= pad <= 2.0:
        raise ConfigError(f"pad is a fraction of the image's longer side (0..2), got {pad}")
    labels: LabelsFile = read_labels(labels_csv, root)
    config = config or PipelineConfig()
    config.mie.enabled = False  # not scored here, and the spotter needs a video anyway
    # blendshapes stay as the config says: the expression fusion reads them where they are on
    pipeline = Pipeline(config)
    scorer = _FaceScorer(pipeline, crop, pad)

    from tqdm import tqdm

    items: list[ItemResult] = []
    unreadable: list[str] = []
    for item in tqdm(labels.items, desc=f"evaluate expression ({crop})", unit="face", disable=not progress):
        result = _run_item(item, scorer)
        if result is None:
            log.warning("%s cannot be read as an image or video; skipped", item.path)
            unreadable.append(item.name)
        else:
            items.append(result)
    scored = [item for item in items if item.found]
    truth = np.array([item.label for item in scored], dtype=int)
    ensemble = score(truth, np.array([item.probabilities for item in scored]).reshape(-1, len(EXPRESSION_LABELS)))
    networks = sorted({key for item in scored for key in item.per_model})
    per_network = {key: score(truth, np.array([item.per_model[key] for item in scored]).reshape(-1, 7))
                   for key in networks}
    report = ExpressionReport(crop=crop, labels_file=Path(labels_csv), items=items, ensemble=ensemble,
                              per_network=per_network, other_labels=dict(labels.other_labels),
                              missing_files=labels.missing_files, unreadable=unreadable,
                              config_summary=describe_expression_stage(config))
    if out is not None:
        from fea_ros.expression_eval.report import write_report

        write_report(report, Path(out), examples)
    return report
