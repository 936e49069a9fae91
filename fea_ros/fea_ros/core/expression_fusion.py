"""The fitted fusion of the expression networks: a log-linear combiner with a calibration temperature.

    x = [log clip(p_net, 1e-4) for each network in the file's order]     (7 per network)
        [+ the face's 52 blendshape coefficients, 0..1, in BLENDSHAPE_NAMES order, if the file says so]
    probabilities = softmax((x W + b) / T)

W, b and T are read from ``models/expression_fusion_*.json`` (one file per mirror setting, and one more with
the blendshapes as features; fusion_file() names them), written by ``scripts/fit_expression_fusion.py``
(fea_ros/expression_eval/fusion_fit.py says how they are fitted; docs/expression.md what they were fitted on).
The file also records the crops each network's probabilities were fitted with, so that the stage can warn
about a configuration the numbers do not hold for.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fea_ros.core.action_units import BLENDSHAPE_NAMES
from fea_ros.core.errors import ConfigError
from fea_ros.core.types import EXPRESSION_LABELS

#: probabilities are clipped here before the log, so a network's hard 0 cannot dominate
LOG_FLOOR = 1e-4
log = logging.getLogger(__name__)
#: the blendshape network's coefficients per face (core/action_units.py)
N_BLENDSHAPES = len(BLENDSHAPE_NAMES)


def fusion_features(per_network: dict[str, np.ndarray], networks: tuple[str, ...],
                    blendshapes: np.ndarray | None = None) -> np.ndarray:
    """x of the fusion: (N, 7 * networks [+ 52]), each network's clipped log-probabilities side by side, then
    the faces' blendshape coefficients if given. Shared by the stage and the fit, so both read the same x."""
    n = len(EXPRESSION_LABELS)
    parts = [np.log(np.clip(np.asarray(per_network[key], float).reshape(-1, n), LOG_FLOOR, 1.0))
             for key in networks]
    if blendshapes is not None:
        shapes = np.asarray(blendshapes, float)
        if shapes.ndim != 2 or shapes.shape != (len(parts[0]), N_BLENDSHAPES):
            raise ValueError(f"blendshapes must be (faces, {N_BLENDSHAPES}) = ({len(parts[0])}, {N_BLENDSHAPES}), "
                             f"got {shapes.shape}")
        if not np.all(np.isfinite(shapes)):
            raise ValueError("blendshape coefficients are not all finite (NaN or inf): the blendshape network's "
                             "input was broken; these faces need the fusion without blendshapes")
        parts.append(shapes)
    return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class Fusion:
    """One fitted combiner: what the stage loads from a fusion file, and what the fit (expression_eval/fusion_fit.py)
    makes and writes."""

    networks: tuple[str, ...]
    weights: np.ndarray  # (7 * len(networks) [+ 52], 7)
    bias: np.ndarray  # (7,)
    temperature: float
    blendshapes: bool = False  # x ends with the 52 blendshape coefficients
    #: the crops the networks' probabilities were fitted with (the stage warns when it runs others); a fresh
    #: fit does not know them, its script writes them into the file
    flip_average: tuple[str, ...] = ()  # networks whose probabilities are the mean over the crop and its mirror image
    aligned_crops: bool = True

    def logits(self, per_network: dict[str, np.ndarray], blendshapes: np.ndarray | None = None) -> np.ndarray:
        """(N, 7) (x W + b) / T from each network's (N, 7) probabilities (canonical order) and, for a fusion with
        blendshapes, the faces' (N, 52) blendshape coefficients."""
        if self.blendshapes and blendshapes is None:
            raise ValueError("this expression fusion needs the faces' blendshapes")
        features = fusion_features(per_network, self.networks, blendshapes if self.blendshapes else None)
        return (features @ self.weights + self.bias) / self.temperature

    def __call__(self, per_network: dict[str, np.ndarray], blendshapes: np.ndarray | None = None) -> np.ndarray:
        """(N, 7) calibrated probabilities: the softmax of logits()."""
        logits = self.logits(per_network, blendshapes)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def has_blendshapes(blendshapes: np.ndarray) -> np.ndarray:
    """(N,) whether each face's row of (N, 52) coefficients is all finite; a row of NaN is a face without them
    (the mesh lost it, or its blendshape input was broken)."""
    return np.all(np.isfinite(np.asarray(blendshapes, float)), axis=1)


def fuse(fusion: Fusion, fusion_blendshapes: Fusion | None, per_network: dict[str, np.ndarray],
         blendshapes: np.ndarray | None = None) -> np.ndarray:
    """(N, 7): ``fusion_blendshapes`` for every face with finite blendshapes ((N, 52), NaN rows for faces without),
    ``fusion`` (the networks alone) for the others. The stage and the fit both fuse here, so they fall back alike."""
    fused = fusion(per_network)
    if fusion_blendshapes is None or blendshapes is None:
        return fused
    shapes = np.asarray(blendshapes, float)
    rows = np.flatnonzero(has_blendshapes(shapes))
    if rows.size:
        fused[rows] = fusion_blendshapes({key: np.asarray(p)[rows] for key, p in per_network.items()}, shapes[rows])
    return fused


def fusion_file(flip_average: tuple[str, ...] | list[str], blendshapes: bool = False) -> str:
    """The name of the shipped fusion file fitted with these mirrored networks, with or without the blendshapes:
    expression_fusion_no_mirror.json, expression_fusion_mirror_fer.json, ..._mirror_fer_blendshapes.json."""
    mirror = "mirror_" + "_".join(sorted(flip_average)) if flip_average else "no_mirror"
    return f"expression_fusion_{mirror}{'_blendshapes' if blendshapes else ''}.json"


def load_fusions(directory: Path, flip_average: tuple[str, ...], blendshapes: bool) -> tuple[Fusion, Fusion | None]:
    """The shipped fusion for this mirror setting, and (if ``blendshapes`` and the file exists) the one that also
    reads the blendshapes; the log says which the stage uses."""
    path = directory / fusion_file(flip_average)
    if not path.is_file():
        raise ConfigError(f"no fitted expression fusion for expression.flip_average '{','.join(flip_average)}' "
                          f"({path.name} is not in {directory}): fit one with scripts/fit_expression_fusion.py "
                          "--flip, choose a flip_average with a shipped file (docs/expression.md), or set "
                          "expression.fusion to 'mean'")
    fusion = load_fusion(path)
    with_shapes = directory / fusion_file(flip_average, blendshapes=True)
    if not blendshapes:
        log.info("expression fusion: %s (blendshapes off, so the fusion with them is not used)", path.name)
        return fusion, None
    if not with_shapes.is_file():
        log.info("expression fusion: %s (no fusion with blendshapes for this mirror setting)", path.name)
        return fusion, None
    log.info("expression fusion: %s for faces with blendshapes, %s for the others", with_shapes.name, path.name)
    return fusion, load_fusion(with_shapes)


def load_fusion(path: str | Path) -> Fusion:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"the expression fusion file {path} is missing; rebuild it with "
                          "scripts/fit_expression_fusion.py, or set expression.fusion to 'mean'") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the expression fusion file {path}: {exc}") from exc
    try:
        networks = tuple(str(n) for n in data["networks"])
        weights = np.asarray(data["weights"], float)
        bias = np.asarray(data["bias"], float)
        temperature = float(data["temperature"])
        labels = tuple(data["labels"])
        flip = tuple(str(n) for n in data["preprocessing"]["flip_average"])
        aligned = bool(data["preprocessing"]["aligned_crops"])
        blendshapes = bool(data.get("blendshapes", False))
        shape_names = tuple(str(n) for n in data.get("blendshape_names", ())) if blendshapes else ()
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} is not an expression fusion file (missing or bad field: {exc})") from exc
    n = len(EXPRESSION_LABELS)
    rows = n * len(networks) + (N_BLENDSHAPES if blendshapes else 0)
    if labels != EXPRESSION_LABELS or weights.shape != (rows, n) or bias.shape != (n,) \
            or not temperature > 0 or not np.all(np.isfinite(weights)) or not np.all(np.isfinite(bias)):
        raise ConfigError(f"{path}: weights must be ({n} x networks [+ {N_BLENDSHAPES} with blendshapes]) x {n}, "
                          f"bias {n}, temperature > 0, labels {EXPRESSION_LABELS}; rebuild it with "
                          "scripts/fit_expression_fusion.py")
    if blendshapes and shape_names != BLENDSHAPE_NAMES:
        # the rows of W follow the names the file was fitted with; another order would permute them silently
        raise ConfigError(f"{path}: its blendshape_names are not the blendshape network's {N_BLENDSHAPES} names in "
                          "order (core/action_units.py BLENDSHAPE_NAMES); refit it with "
                          "scripts/fit_expression_fusion.py")
    return Fusion(networks, weights, bias, temperature, blendshapes=blendshapes, flip_average=flip,
                  aligned_crops=aligned)
