"""Which file of a network runs at which precision: the fp32 ONNX file or its int8 (QDQ) sibling.

``inference.precision`` chooses: ``fp32`` (and ``fp16``, which only TensorRT builds) loads the fp32 files;
``int8`` loads ``<name>_int8.onnx`` for every network that has one (the others stay fp32); ``auto`` (the
default) is fp16 on TensorRT and, on ONNX Runtime, int8 only for the networks in CPU_INT8_DEFAULT: those whose
int8 file passed the accuracy BOUNDS against fp32 and ran faster on the CPU (BENCHMARKS.md, "Speed, round
2"). On TensorRT the QDQ file is what explicit int8 takes; see docs/jetson.md.
"""
from __future__ import annotations

PRECISIONS = ("auto", "fp32", "fp16", "int8")

#: networks with an int8 file (built by scripts/quantize_models.py)
INT8_MODELS: tuple[str, ...] = ("facemesh_v2_478_256", "facemesh_v1_468_192", "face_blendshapes_52",
                                "faceapi_expression_112", "fer_minixception_64")

#: how far int8 may be from fp32 on the same inputs (sample clips; expression labels also on a labelled set)
BOUNDS: dict[str, str] = {
    "landmarks": "mean <= 0.5 px and max <= 1.5 px at the crop scale",
    "blendshapes": "max abs difference <= 0.03",
    "expression": "same label on >= 98 % of faces",
}
LANDMARK_MEAN_PX, LANDMARK_MAX_PX = 0.5, 1.5
BLENDSHAPE_MAX = 0.03
LABEL_AGREEMENT = 0.98

#: int8 by default on the CPU: within BOUNDS and faster than fp32 with ONNX Runtime on x86. Empty: no int8
#: file passed (BENCHMARKS.md, "Speed, round 2"); the conv nets' int8 (QLinearConv) also ran slower than ONNX
#: Runtime's fp32 NCHWc kernels, and only the blendshape net's int8 MatMuls were faster.
CPU_INT8_DEFAULT: frozenset[str] = frozenset()

INT8_SUFFIX = "_int8"


def int8_name(name: str) -> str:
    return name + INT8_SUFFIX


def model_for(name: str, precision: str, backend: str, available: set[str] | frozenset[str]) -> str:
    """The manifest name to load for network ``name`` at ``precision`` on ``backend``.

    ``available`` is the set of names in the manifest; a network without an int8 file runs fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"inference.precision is '{precision}'; use one of {', '.join(PRECISIONS)}")
    if backend != "onnxruntime":
        return name  # TensorRT quantises from the fp32 file itself (calibrated int8) or builds fp16/fp32
    wanted = precision == "int8" or (precision == "auto" and name in CPU_INT8_DEFAULT)
    return int8_name(name) if wanted and int8_name(name) in available else name
