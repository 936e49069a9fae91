"""TensorRT backend: backend choice everywhere; parity, cache and precisions where TensorRT and a GPU exist.

The GPU tests skip with unavailable_reason()'s sentence, which says whether TensorRT, pycuda or the GPU
is what is missing.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from fea_ros.core.config import InferenceConfig, PipelineConfig
from fea_ros.inference.calibration import preprocess, preprocessing_for
from fea_ros.inference.errors import BackendError
from fea_ros.inference.factory import create_engine, resolve_backend
from fea_ros.inference.models import Manifest
from fea_ros.inference.tensorrt_engine import unavailable_reason
from model_fidelity_support import FACE_BOXES, MODELS_DIR, load_image, square_crop

REASON = unavailable_reason()
SKIP_WHY = (REASON or "").split(". On a Jetson")[0]  # the first sentence says what is missing
needs_trt = pytest.mark.skipif(REASON is not None, reason=f"TensorRT backend not usable here: {SKIP_WHY}")
without_trt = pytest.mark.skipif(REASON is None, reason="TensorRT is usable here; this checks the fallback")
MANIFEST = json.loads((MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))["models"]
SAMPLE = MODELS_DIR.parent / "samples" / "faces3.mp4"


def shipped(name: str) -> dict:
    """The manifest entry of a shipped model (every model these tests name ships)."""
    entry = next((m for m in MANIFEST if m["name"] == name), None)
    assert entry is not None, f"model {name} is not in models/manifest.json"
    return entry


@without_trt
def test_reason_says_what_is_missing_and_how_to_get_it() -> None:
    assert "python3-libnvinfer" in REASON and "pycuda" in REASON and "JetPack" in REASON


@without_trt
def test_auto_falls_back_to_onnxruntime_and_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    backend, why = resolve_backend("auto")
    assert backend == "onnxruntime" and REASON in why
    caplog.set_level(logging.INFO, logger="fea_ros.inference.factory")
    engine = create_engine("blazeface_short_128", InferenceConfig(backend="auto"), Manifest(MODELS_DIR))
    assert engine.backend == "onnxruntime"
    line = next(r.getMessage() for r in caplog.records if "blazeface_short_128: backend" in r.getMessage())
    assert "backend onnxruntime" in line and "TensorRT not usable" in line


@without_trt
def test_tensorrt_backend_fails_with_what_is_missing() -> None:
    with pytest.raises(BackendError, match="backend 'tensorrt' is not usable: .*python3-libnvinfer"):
        create_engine("blazeface_short_128", InferenceConfig(backend="tensorrt"), Manifest(MODELS_DIR))
    from fea_ros.inference.tensorrt_engine import TensorRTEngine

    with pytest.raises(BackendError, match="JetPack"):
        TensorRTEngine(MODELS_DIR / "blazeface_short_128.onnx")


def test_unknown_backend_is_named() -> None:
    with pytest.raises(BackendError, match="unknown backend 'tensorrtx'"):
        resolve_backend("tensorrtx")


def real_inputs(entry: dict, batch: int = 1) -> dict[str, np.ndarray] | None:
    """Inputs made from the astronaut photo the way the pipeline feeds the model; None if not an image/points net."""
    spec = entry["inputs"][0]
    shape = spec["shape"]
    photo = load_image("astronaut")
    if len(shape) == 4:
        _, channels, height, width = shape
        crop = photo if entry["name"].startswith("blazeface") else square_crop(
            photo, FACE_BOXES["astronaut"], 1.5, max(height, width))
        one = preprocess(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), height, width,
                         preprocessing_for(entry["normalisation"], channels))
        frames = [one if i % 2 == 0 else one[:, :, ::-1] for i in range(batch)]  # mirrored faces too
        return {spec["name"]: np.ascontiguousarray(np.stack(frames))}
    if len(shape) == 3 and shape[-1] == 2:
        mesh = next((m for m in MANIFEST if m["name"] == "facemesh_v2_478_256"), None)
        if mesh is None:
            return None
        ort = pytest.importorskip("onnxruntime")
        crop = square_crop(photo, FACE_BOXES["astronaut"], 1.5, 256).astype(np.float32) / 255.0
        session = ort.InferenceSession(str(MODELS_DIR / mesh["file"]), providers=["CPUExecutionProvider"])
        points = session.run(["landmarks"], {"image": crop.transpose(2, 0, 1)[None]})[0].reshape(-1, 3)
        subset = json.loads((MODELS_DIR / "blendshapes.json").read_text(encoding="utf-8"))["landmark_subset"]
        return {spec["name"]: np.ascontiguousarray(points[None, subset, :2], dtype=np.float32)}
    return None


def trt_engine(name: str, cache_dir: Path, precision: str = "fp32", **options: object):
    from fea_ros.inference.tensorrt_engine import TensorRTEngine

    entry = Manifest(MODELS_DIR).entry(name)
    return TensorRTEngine(MODELS_DIR / entry.file, name=name, sha256=entry.sha256, precision=precision,
                          cache_dir=cache_dir, normalisation=entry.normalisation, **options)


@needs_trt
@pytest.mark.parametrize("entry", MANIFEST, ids=lambda m: m["name"])
def test_fp32_matches_onnxruntime(entry: dict, tmp_path: Path) -> None:
    from fea_ros.inference.onnxruntime_engine import OnnxRuntimeEngine

    inputs = real_inputs(entry)
    assert inputs is not None, f"no real input recipe for {entry['name']}'s input {entry['inputs']}"
    reference = OnnxRuntimeEngine(MODELS_DIR / entry["file"], use_cuda=False).run(inputs)
    engine = trt_engine(entry["name"], tmp_path)
    assert engine.input_shapes == {i["name"]: tuple(d if isinstance(d, int) else -1 for d in i["shape"])
                                   for i in entry["inputs"]}
    result = engine.run(inputs)
    for name, expected in reference.items():
        assert result[name].shape == expected.shape
        assert np.abs(result[name] - expected).max() <= 1e-3, f"{entry['name']} output {name}"


@needs_trt
def test_dynamic_batch_within_and_beyond_the_profile(tmp_path: Path) -> None:
    from fea_ros.inference.onnxruntime_engine import OnnxRuntimeEngine

    entry = shipped("fer_minixception_64")
    reference = OnnxRuntimeEngine(MODELS_DIR / entry["file"], use_cuda=False)
    engine = trt_engine(entry["name"], tmp_path, max_batch=4)
    assert engine.input_shapes["image"][0] == -1 and engine.max_batch == 4
    for batch in (1, 3, 4, 9):  # 9 > max_batch: run in slices
        inputs = real_inputs(entry, batch)
        got, want = engine.run(inputs)["probabilities"], reference.run(inputs)["probabilities"]
        assert got.shape == (batch, 7)
        assert np.abs(got - want).max() <= 1e-3
    with pytest.raises(BackendError, match="expected"):
        engine.run({"image": np.zeros((1, 3, 64, 64), np.float32)})


@needs_trt
def test_second_load_is_a_cache_hit(tmp_path: Path) -> None:
    first = trt_engine("blazeface_short_128", tmp_path, precision="fp16")
    second = trt_engine("blazeface_short_128", tmp_path, precision="fp16")
    assert (first.cache_event, second.cache_event) == ("built", "hit")
    assert second.cache.builds == 0 and second.engine_path == first.engine_path


@needs_trt
def test_corrupt_cache_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = trt_engine("blazeface_short_128", tmp_path, precision="fp16")
    data = first.engine_path.read_bytes()
    first.engine_path.write_bytes(data[: len(data) // 3])
    caplog.set_level(logging.WARNING)
    again = trt_engine("blazeface_short_128", tmp_path, precision="fp16")
    assert again.cache_event == "rebuilt"
    assert any("rebuilding" in r.getMessage() for r in caplog.records)
    inputs = real_inputs(shipped("blazeface_short_128"))
    assert np.isfinite(again.run(inputs)["scores"]).all()


@needs_trt
def test_other_precision_is_another_cache_entry(tmp_path: Path) -> None:
    fp16 = trt_engine("blazeface_short_128", tmp_path, precision="fp16")
    fp32 = trt_engine("blazeface_short_128", tmp_path, precision="fp32")
    assert fp16.engine_path != fp32.engine_path
    assert fp16.engine_path.is_file() and fp32.engine_path.is_file()
    assert fp32.cache_event == "built"


@needs_trt
def test_fp16_pipeline_agrees_with_onnxruntime_on_the_sample(tmp_path: Path) -> None:
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.core.types import Frame

    assert SAMPLE.is_file(), f"sample clip {SAMPLE} is missing"
    results = {}
    for backend in ("onnxruntime", "tensorrt"):
        config = PipelineConfig()
        config.inference.backend = backend
        config.inference.engine_cache_dir = str(tmp_path)
        pipeline = Pipeline(config, Manifest(MODELS_DIR))
        capture = cv2.VideoCapture(str(SAMPLE))
        frames, index = [], 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(pipeline.process(Frame(image=image, stamp_ns=index * 40_000_000, index=index)))
            index += 1
        results[backend] = frames
    assert len(results["tensorrt"]) == len(results["onnxruntime"]) > 0
    compared = 0
    for ort_frame, trt_frame in zip(results["onnxruntime"], results["tensorrt"]):
        ort_faces = {f.face_id: f for f in ort_frame.faces}
        trt_faces = {f.face_id: f for f in trt_frame.faces}
        assert ort_faces.keys() == trt_faces.keys(), f"frame {ort_frame.index}"
        for face_id, face in ort_faces.items():
            assert trt_faces[face_id].expression == face.expression
            assert np.abs(trt_faces[face_id].box - face.box).max() <= 1.0
            compared += 1
    assert compared > 0
