"""The fitted fusion of the expression networks: a log-linear combiner with a calibration temperature.

    x = [log clip(p_net, 1e-4) for each network in the file's order]     (7 per network)
    probabilities = softmax((x W + b) / T)

W, b and T are read from ``models/expression_fusion.json``, written by ``scripts/fit_expression_fusion.py``
(fea_ros/expression_eval/fusion_fit.py says how they are fitted; docs/expression.md what they were fitted on).
The file also records the crops each network's probabilities were fitted with, so that the stage can refuse
a configuration the numbers do not hold for.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fea_ros.core.errors import ConfigError
from fea_ros.core.types import EXPRESSION_LABELS

FUSION_FILE = "expression_fusion.json"
#: fitted without the mirror image (expression.flip_average: ""), the cheaper stage
FUSION_FILE_NO_MIRROR = "expression_fusion_no_mirror.json"
LOG_FLOOR = 1e-4


@dataclass(frozen=True)
class Fusion:
    networks: tuple[str, ...]
    weights: np.ndarray  # (7 * len(networks), 7)
    bias: np.ndarray  # (7,)
    temperature: float
    flip_average: tuple[str, ...]  # networks whose probabilities are the mean over the crop and its mirror image
    aligned_crops: bool

    def __call__(self, per_network: dict[str, np.ndarray]) -> np.ndarray:
        """(N, 7) calibrated probabilities from each network's (N, 7) probabilities (canonical order)."""
        features = np.concatenate([np.log(np.clip(per_network[key], LOG_FLOOR, 1.0)) for key in self.networks],
                                  axis=1)
        logits = (features @ self.weights + self.bias) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def fusion_file(flip_average: tuple[str, ...]) -> str:
    """The shipped fusion file fitted with these mirrored networks (the default one for any other choice;
    the stage then warns that its probabilities may be off)."""
    return FUSION_FILE_NO_MIRROR if not flip_average else FUSION_FILE


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
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} is not an expression fusion file (missing or bad field: {exc})") from exc
    n = len(EXPRESSION_LABELS)
    if labels != EXPRESSION_LABELS or weights.shape != (n * len(networks), n) or bias.shape != (n,) \
            or not temperature > 0 or not np.all(np.isfinite(weights)) or not np.all(np.isfinite(bias)):
        raise ConfigError(f"{path}: weights must be ({n} x networks) x {n}, bias {n}, temperature > 0, labels "
                          f"{EXPRESSION_LABELS}; rebuild it with scripts/fit_expression_fusion.py")
    return Fusion(networks, weights, bias, temperature, flip, aligned)
