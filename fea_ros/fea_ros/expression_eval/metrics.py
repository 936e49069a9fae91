"""Classification scores for the seven expressions: accuracy, balanced accuracy, macro-F1, per-class
precision/recall/F1, the confusion matrix, and the expected calibration error of the probabilities.

Balanced accuracy is the mean per-class recall over the classes that occur in the labels (a class never labelled
has no recall); macro-F1 is the mean F1 over the classes that occur in the labels or the predictions (a class
predicted but never labelled counts with F1 0). Both follow scikit-learn's definitions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fea_ros.core.types import EXPRESSION_LABELS


@dataclass(frozen=True)
class ClassScores:
    label: str
    support: int  # faces labelled with this class
    predicted: int  # faces predicted as this class
    precision: float  # nan when nothing was predicted as this class
    recall: float  # nan when no face has this label
    f1: float


@dataclass(frozen=True)
class Scores:
    n: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    ece: float  # expected calibration error of the top-class probability (15 equal-width bins)
    per_class: tuple[ClassScores, ...]
    confusion: np.ndarray  # (7, 7) counts, rows = label, columns = prediction, EXPRESSION_LABELS order

    def as_dict(self) -> dict:
        data = asdict(self)
        data["confusion"] = self.confusion.tolist()
        data["per_class"] = [asdict(c) for c in self.per_class]
        return data

    def recall(self, label: str) -> float:
        return next(c.recall for c in self.per_class if c.label == label)


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int = len(EXPRESSION_LABELS)) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, int), np.asarray(predicted, int)), 1)
    return matrix


def expected_calibration_error(probabilities: np.ndarray, truth: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE: the support-weighted mean |accuracy - confidence| over equal-width confidence bins."""
    probabilities = np.asarray(probabilities, float)
    if len(probabilities) == 0:
        return float("nan")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(truth)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def score(truth: np.ndarray, probabilities: np.ndarray) -> Scores:
    """All scores of the probabilities (N, 7) in EXPRESSION_LABELS order against labels (N,) as indices."""
    truth = np.asarray(truth, int)
    probabilities = np.asarray(probabilities, float).reshape(len(truth), len(EXPRESSION_LABELS))
    predicted = probabilities.argmax(axis=1) if len(truth) else np.zeros(0, int)
    matrix = confusion_matrix(truth, predicted)
    per_class = []
    for k, label in enumerate(EXPRESSION_LABELS):
        support, made, hits = int(matrix[k].sum()), int(matrix[:, k].sum()), int(matrix[k, k])
        precision = hits / made if made else float("nan")
        recall = hits / support if support else float("nan")
        f1 = 2 * hits / (support + made) if support + made else float("nan")
        per_class.append(ClassScores(label, support, made, precision, recall, f1))
    present = [c for c in per_class if c.support > 0]
    seen = [c for c in per_class if c.support + c.predicted > 0]
    n = len(truth)
    return Scores(
        n=n,
        accuracy=float(np.trace(matrix) / n) if n else float("nan"),
        balanced_accuracy=float(np.mean([c.recall for c in present])) if present else float("nan"),
        macro_f1=float(np.mean([c.f1 for c in seen])) if seen else float("nan"),
        ece=expected_calibration_error(probabilities, truth),
        per_class=tuple(per_class),
        confusion=matrix,
    )
