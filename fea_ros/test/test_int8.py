"""The int8 (QDQ) networks: shipped with their sha256, chosen by inference.precision, measured against fp32.

The bounds (fea_ros.inference.precision.BOUNDS) are checked on the networks' real inputs on the bundled
sample clips; a network runs int8 by default on the CPU only if its check passes.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from model_fidelity_support import MODELS_DIR, art

import quantize_models  # noqa: E402  (model_fidelity_support puts scripts/ on sys.path)
from model_build import int8_check  # noqa: E402

from fea_ros.core.config import InferenceConfig, PipelineConfig
from fea_ros.core.pipeline import Pipeline
from fea_ros.inference.errors import BackendError
from fea_ros.inference.factory import create_engine
from fea_ros.inference.precision import CPU_INT8_DEFAULT, INT8_MODELS, int8_name, model_for


def manifest_entries() -> dict[str, dict]:
    return {m["name"]: m for m in json.loads((MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))["models"]}


@pytest.fixture(scope="module")
def recorded() -> dict[str, list[dict[str, np.ndarray]]]:
    return quantize_models.record_inputs(step=5, progress=False)


@pytest.fixture(scope="module")
def checks(recorded) -> dict[str, list[int8_check.Check]]:
    by_model: dict[str, list[int8_check.Check]] = {}
    for check in int8_check.check_all(recorded, progress=False):
        by_model.setdefault(check.model, []).append(check)
    return by_model


@pytest.mark.parametrize("name", INT8_MODELS)
def test_every_int8_file_is_in_the_manifest_and_made_from_the_current_fp32_file(name: str) -> None:
    entries = manifest_entries()
    entry = entries[int8_name(name)]
    assert entry["precision"] == "int8" and entry["file"] == f"{int8_name(name)}.onnx"
    assert art.file_sha256(MODELS_DIR / entry["file"]) == entry["sha256"]
    assert entry["source"]["quantised_from"] == name
    assert entry["source"]["quantised_from_sha256"] == entries[name]["sha256"], \
        f"{name} changed since it was quantised: run fea_ros/scripts/quantize_models.py"
    assert entry["inputs"] == entries[name]["inputs"] and entry["outputs"] == entries[name]["outputs"]


def test_the_int8_files_are_qdq_graphs_with_symmetric_int8_for_tensorrt() -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(MODELS_DIR / f"{int8_name('fer_minixception_64')}.onnx"))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    zero_points = [initializers[n.input[2]] for n in model.graph.node
                   if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2]
    # int8 activations/weights and int32 biases, all with zero point 0 (symmetric)
    assert {z.dtype for z in zero_points} == {np.dtype(np.int8), np.dtype(np.int32)}
    assert not any(z.any() for z in zero_points)


def test_precision_picks_the_file() -> None:
    available = frozenset(manifest_entries())
    for name in INT8_MODELS:
        assert model_for(name, "int8", "onnxruntime", available) == int8_name(name)
        assert model_for(name, "fp32", "onnxruntime", available) == name
        assert model_for(name, "auto", "onnxruntime", available) == (
            int8_name(name) if name in CPU_INT8_DEFAULT else name)
        assert model_for(name, "int8", "tensorrt", available) == name  # TensorRT quantises the fp32 file
    assert model_for("blazeface_full_192", "int8", "onnxruntime", available) == "blazeface_full_192"  # no int8 file
    with pytest.raises(BackendError, match="inference.precision"):
        create_engine("fer_minixception_64", InferenceConfig(precision="int4"))


def test_an_int8_pipeline_finds_and_follows_the_faces_of_the_sample() -> None:
    from fea_ros.core.inputs import VideoFileSource

    config = PipelineConfig()
    config.inference.precision = "int8"
    config.mie.enabled = False
    pipeline = Pipeline(config)
    # the engines keep the network's name and load the int8 file
    assert pipeline.expression.engines["fer"].name == "fer_minixception_64"
    assert pipeline.expression.engines["fer"].path.name == "fer_minixception_64_int8.onnx"
    assert pipeline.mesh.engine.path.name == "facemesh_v2_478_256_int8.onnx"
    assert pipeline.detector.engine.path.name == "blazeface_full_192.onnx"  # no int8 detector
    faces = []
    with VideoFileSource(MODELS_DIR.parent / "samples" / "faces3.mp4") as source:
        for frame in source:
            if frame.index >= 30:
                break
            faces.append(len(pipeline.process(frame).faces))
    assert max(faces[10:]) == 3


def test_the_expression_nets_keep_their_labels_in_int8_on_the_sample_clips(checks) -> None:
    # each net alone: the shipped stage fuses them with a fitted combiner (with the blendshapes) and may
    # mirror-average face-api (expression.flip_average), so the fixed-weight ensemble row is only computed when
    # both nets see the same crops
    for name in ("faceapi_expression_112", "fer_minixception_64"):
        (check,) = checks[name]
        assert check.samples > 50
        assert check.passed, f"{name}: {check.values}"


def test_a_network_runs_int8_by_default_only_if_it_is_within_the_bounds(checks) -> None:
    measured = {name for name in INT8_MODELS if name in checks}
    assert measured == set(INT8_MODELS), "every int8 network is measured"
    for name in CPU_INT8_DEFAULT:
        assert all(check.passed for check in checks[name]), f"{name} is int8 by default but {checks[name][0].values}"
