"""Stage 5: MediaPipe's 52 face blendshapes and the FACS action-unit intensities derived from them.

The blendshape network (MediaPipe face_blendshapes, an MLP-Mixer) reads the (x, y) image-pixel positions of
146 of FaceMesh v2's 478 points. The blendshapes are ARKit-style coefficients, not FACS codes; AU_TABLE
maps them to action units as a documented approximation (docs/action_units.md): most ARKit shapes were
modelled on one AU, so the AU is the mean of the left and right shape; AU23, AU24 and AU25 have no direct
counterpart and are combinations, marked as such.
"""
from __future__ import annotations

import numpy as np

from fea_ros.core.types import ActionUnits
from fea_ros.inference.engine import Engine

#: kLandmarksSubsetIdxs of MediaPipe's face_blendshapes_graph.cc: the 146 mesh points the model reads
BLENDSHAPE_LANDMARKS: tuple[int, ...] = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67,
    70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148,
    149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191,
    195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297,
    300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374,
    375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415,
    454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
)

#: kBlendshapeNames of face_blendshapes_graph.cc, in the model's output order
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)


def _pair(stem: str) -> tuple[tuple[str, float], ...]:
    return ((stem + "Left", 0.5), (stem + "Right", 0.5))


#: AU number -> (FACS name, ((blendshape, weight), ...)); intensity = clip(sum(weight * blendshape), 0, 1)
AU_TABLE: dict[int, tuple[str, tuple[tuple[str, float], ...]]] = {
    1: ("inner brow raiser", (("browInnerUp", 1.0),)),
    2: ("outer brow raiser", _pair("browOuterUp")),
    4: ("brow lowerer", _pair("browDown")),
    5: ("upper lid raiser", _pair("eyeWide")),
    6: ("cheek raiser", _pair("cheekSquint")),
    7: ("lid tightener", _pair("eyeSquint")),
    9: ("nose wrinkler", _pair("noseSneer")),
    10: ("upper lip raiser", _pair("mouthUpperUp")),
    12: ("lip corner puller", _pair("mouthSmile")),
    14: ("dimpler", _pair("mouthDimple")),
    15: ("lip corner depressor", _pair("mouthFrown")),
    17: ("chin raiser", (("mouthShrugLower", 1.0),)),
    20: ("lip stretcher", _pair("mouthStretch")),
    # No ARKit shape narrows the lips; rolling them in is the closest visible change (approximation).
    23: ("lip tightener", (("mouthRollLower", 0.5), ("mouthRollUpper", 0.5))),
    24: ("lip pressor", _pair("mouthPress")),
    # Lips apart: the jaw opening unless the lips stay closed over it (mouthClose), or the lower lip pulled
    # down on its own.
    25: ("lips part", (("jawOpen", 1.0), ("mouthClose", -1.0), ("mouthLowerDownLeft", 0.5),
                       ("mouthLowerDownRight", 0.5))),
    26: ("jaw drop", (("jawOpen", 1.0),)),
    45: ("blink", _pair("eyeBlink")),
}
AU_NUMBERS: tuple[int, ...] = tuple(AU_TABLE)


def au_weight_matrix() -> np.ndarray:
    """(num AUs, 52) matrix W such that intensities = clip(W @ blendshapes, 0, 1)."""
    index = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
    matrix = np.zeros((len(AU_TABLE), len(BLENDSHAPE_NAMES)))
    for row, (_, terms) in enumerate(AU_TABLE.values()):
        for name, weight in terms:
            matrix[row, index[name]] += weight
    return matrix


class BlendshapeEstimator:
    """Blendshapes from FaceMesh v2 landmarks, and AU intensities from the blendshapes.

    ``many`` runs every face of a frame in one network call when the model has a dynamic batch axis.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.input_name = next(iter(engine.input_shapes))
        self.subset = np.array(BLENDSHAPE_LANDMARKS, dtype=np.intp)
        self.weights = au_weight_matrix()
        self.batched = engine.input_shapes[self.input_name][0] == -1
        self._points = np.zeros((1, len(self.subset), 2), np.float32)  # reused input, grown for more faces

    def __call__(self, points: np.ndarray) -> ActionUnits:
        """``points``: (478, >=2) mesh in image pixels (the model is scale-invariant, pixels are its unit)."""
        return self.many([points])[0]

    def many(self, meshes: list[np.ndarray]) -> list[ActionUnits]:
        """Action units of every (478, >=2) mesh, in the order given."""
        if not meshes:
            return []
        if len(self._points) < len(meshes):
            self._points = np.zeros((len(meshes), len(self.subset), 2), np.float32)
        batch = self._points[:len(meshes)]
        for i, points in enumerate(meshes):
            batch[i] = points[self.subset, :2]
        if self.batched or len(meshes) == 1:
            raw = self.engine.run({self.input_name: batch})["blendshapes"].reshape(len(meshes), -1)
        else:  # a fixed-batch model: one call per face
            raw = np.stack([self.engine.run({self.input_name: batch[i:i + 1]})["blendshapes"].reshape(-1)
                            for i in range(len(meshes))])
        blendshapes = np.clip(raw.astype(np.float64), 0.0, 1.0)
        intensities = np.clip(blendshapes @ self.weights.T, 0.0, 1.0)
        return [ActionUnits(blendshapes=blendshapes[i], au_numbers=AU_NUMBERS, intensities=intensities[i])
                for i in range(len(meshes))]
