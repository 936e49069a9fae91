"""What the blendshape network expects, from MediaPipe's face_blendshapes_graph.cc (Apache-2.0):
the 146 FaceMesh v2 landmark indices it reads (kLandmarksSubsetIdxs) and its 52 output names (kBlendshapeNames).
build_models writes both into models/blendshapes.json for the pipeline.
"""
from __future__ import annotations

import json

LANDMARK_SUBSET = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78,
    80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152,
    153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246,
    249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312,
    314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381,
    382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472,
    473, 474, 475, 476, 477,
)

BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)

assert len(LANDMARK_SUBSET) == 146 and len(BLENDSHAPE_NAMES) == 52


def blendshapes_json() -> bytes:
    facts = {
        "source": "mediapipe/tasks/cc/vision/face_landmarker/face_blendshapes_graph.cc (Apache-2.0)",
        "input": "points[N,146,2] = (x, y) in IMAGE PIXELS of the FaceMesh v2 landmarks at landmark_subset, in "
                 "that order (MediaPipe multiplies its normalised landmarks by the frame width/height)",
        "output": "blendshapes[N,52] in 0..1, in the order of names; _neutral is a baseline, not an expression",
        "landmark_subset": list(LANDMARK_SUBSET),
        "names": list(BLENDSHAPE_NAMES),
    }
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in facts.items()]
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")
