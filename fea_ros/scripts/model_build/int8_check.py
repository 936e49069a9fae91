"""int8 against fp32 on the same inputs: landmark error in crop pixels, blendshape difference, label agreement.

Used by scripts/quantize_models.py (prints the table in BENCHMARKS.md) and by test/test_int8.py (asserts the
bounds of fea_ros.inference.precision for the networks that run int8 by default).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fea_ros.core.expression import NETS, faceapi_blob, faceapi_crop, fer_blob, fer_crop
from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.inference.models import Manifest
from fea_ros.inference.onnxruntime_engine import OnnxRuntimeEngine
from fea_ros.inference.precision import (BLENDSHAPE_MAX, LABEL_AGREEMENT, LANDMARK_MAX_PX, LANDMARK_MEAN_PX,
                                         int8_name)

Samples = list[dict[str, np.ndarray]]
#: the pipeline's default ensemble weights (ExpressionConfig)
ENSEMBLE = {"faceapi": 0.6, "fer": 0.4}


@dataclass
class Check:
    model: str
    samples: int
    measure: str  # what was compared, in words
    values: dict[str, float] = field(default_factory=dict)
    passed: bool = False


def engines(name: str, manifest: Manifest | None = None) -> tuple[OnnxRuntimeEngine, OnnxRuntimeEngine]:
    manifest = manifest or Manifest()
    return (OnnxRuntimeEngine(manifest.path(name), name=name),
            OnnxRuntimeEngine(manifest.path(int8_name(name)), name=int8_name(name)))


def _outputs(engine: OnnxRuntimeEngine, samples: Samples, key: str) -> np.ndarray:
    return np.concatenate([engine.run(s)[key].reshape(1, -1) for s in samples])


def check_mesh(name: str, samples: Samples, manifest: Manifest | None = None) -> Check:
    fp32, int8 = engines(name, manifest)
    a = _outputs(fp32, samples, "landmarks").reshape(len(samples), -1, 3)[:, :, :2]
    b = _outputs(int8, samples, "landmarks").reshape(len(samples), -1, 3)[:, :, :2]
    error = np.linalg.norm(a - b, axis=2)
    values = {"mean px": float(error.mean()), "max px": float(error.max()),
              "worst face mean px": float(error.mean(axis=1).max())}
    return Check(name, len(samples), "landmark error at the crop scale (x, y in crop pixels)", values,
                 values["mean px"] <= LANDMARK_MEAN_PX and values["max px"] <= LANDMARK_MAX_PX)


def check_blendshapes(samples: Samples, manifest: Manifest | None = None) -> Check:
    name = "face_blendshapes_52"
    fp32, int8 = engines(name, manifest)
    diff = np.abs(_outputs(fp32, samples, "blendshapes") - _outputs(int8, samples, "blendshapes"))
    values = {"max abs": float(diff.max()), "mean abs": float(diff.mean())}
    return Check(name, len(samples), "blendshape coefficients (0..1)", values, values["max abs"] <= BLENDSHAPE_MAX)


def _canonical(key: str, probabilities: np.ndarray) -> np.ndarray:
    return probabilities.reshape(len(probabilities), -1)[:, NETS[key].canonical_order()]


def label_agreement(blobs: dict[str, Samples], manifest: Manifest | None = None,
                    what: str = "sample clips") -> list[Check]:
    """Per net and for the fused ensemble: share of faces whose arg-max label is the same in int8 and fp32."""
    fused: dict[str, np.ndarray] = {}
    checks = []
    for key, samples in blobs.items():
        name = NETS[key].model
        fp32, int8 = engines(name, manifest)
        p32 = _canonical(key, _outputs(fp32, samples, "probabilities"))
        p8 = _canonical(key, _outputs(int8, samples, "probabilities"))
        if len({len(s) for s in blobs.values()}) == 1:  # with mirror averaging face-api sees twice the crops
            fused["fp32"] = fused.get("fp32", 0.0) + ENSEMBLE[key] * p32
            fused["int8"] = fused.get("int8", 0.0) + ENSEMBLE[key] * p8
        same = float(np.mean(p32.argmax(1) == p8.argmax(1)))
        checks.append(Check(name, len(samples), f"label agreement, {what}",
                            {"same label": same, "max prob diff": float(np.abs(p32 - p8).max())},
                            same >= LABEL_AGREEMENT))
    if len(blobs) == len(ENSEMBLE) and len({len(s) for s in blobs.values()}) == 1:
        a, b = np.asarray(fused["fp32"]), np.asarray(fused["int8"])
        same = float(np.mean(a.argmax(1) == b.argmax(1)))
        checks.append(Check("ensemble (0.6 faceapi + 0.4 fer)", len(a), f"label agreement, {what}",
                            {"same label": same}, same >= LABEL_AGREEMENT))
    return checks


def expression_dev_blobs(folder: Path, limit: int | None = None) -> dict[str, Samples]:
    """The expression nets' inputs for a labelled folder of face images (labels.csv: path,label).

    The images are tight face crops, so the whole image is the face box (no detector).
    """
    import cv2

    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("label") in EXPRESSION_LABELS]
    blobs: dict[str, Samples] = {"faceapi": [], "fer": []}
    for row in rows[:limit]:
        image = cv2.imread(str(folder / row["path"]), cv2.IMREAD_COLOR)
        if image is None:
            continue
        box = np.array([0.0, 0.0, image.shape[1], image.shape[0]])
        blobs["faceapi"].append({"image": faceapi_blob([faceapi_crop(image, box)])})
        blobs["fer"].append({"image": fer_blob([fer_crop(image, box)])})
    return blobs


def check_all(recorded: dict[str, Samples], expression_dev: Path | None = None, progress: bool = True,
              manifest: Manifest | None = None) -> list[Check]:
    manifest = manifest or Manifest()
    checks = []
    for name in ("facemesh_v2_478_256", "facemesh_v1_468_192"):
        if name in recorded and int8_name(name) in manifest.entries:
            checks.append(check_mesh(name, recorded[name], manifest))
    if "face_blendshapes_52" in recorded and int8_name("face_blendshapes_52") in manifest.entries:
        checks.append(check_blendshapes(recorded["face_blendshapes_52"], manifest))
    blobs = {key: recorded[NETS[key].model] for key in ENSEMBLE if NETS[key].model in recorded}
    checks += label_agreement(blobs, manifest)
    if expression_dev is not None:
        checks += label_agreement(expression_dev_blobs(expression_dev), manifest, f"{expression_dev.name} images")
    return checks


def markdown(checks: list[Check]) -> str:
    lines = ["| network | compared on | samples | result | within bounds |", "|---|---|---|---|---|"]
    for check in checks:
        result = ", ".join(f"{k} {v:.3f}" if "label" not in k else f"{k} {100 * v:.1f} %"
                           for k, v in check.values.items())
        lines.append(f"| {check.model} | {check.measure} | {check.samples} | {result} | "
                     f"{'yes' if check.passed else 'NO'} |")
    return "\n".join(lines)


def cpu_ms_per_call(engine: OnnxRuntimeEngine, samples: Samples, calls: int = 60) -> float:
    """Median CPU time (this thread; one ONNX Runtime thread) of one call on the recorded single-face inputs."""
    import time

    for sample in samples[:5]:
        engine.run(sample)
    times = []
    for i in range(calls):
        sample = samples[i % len(samples)]
        start = time.thread_time()
        engine.run(sample)
        times.append((time.thread_time() - start) * 1e3)
    return float(np.median(times))


def speed_markdown(recorded: dict[str, Samples], manifest: Manifest | None = None) -> str:
    """fp32 against int8 CPU time per call, per network, measured alternately (fp32, int8, fp32, int8)."""
    manifest = manifest or Manifest()
    lines = ["| network | fp32 CPU ms/call | int8 CPU ms/call | int8 / fp32 |", "|---|---|---|---|"]
    for name, samples in recorded.items():
        if int8_name(name) not in manifest.entries:
            continue
        fp32, int8 = engines(name, manifest)
        a = [cpu_ms_per_call(fp32, samples), cpu_ms_per_call(int8, samples)]
        b = [cpu_ms_per_call(fp32, samples), cpu_ms_per_call(int8, samples)]
        ms32, ms8 = min(a[0], b[0]), min(a[1], b[1])
        lines.append(f"| {name} | {ms32:.2f} | {ms8:.2f} | {ms8 / ms32:.2f} |")
    return "\n".join(lines)
