"""Fit the expression stage's fusion (core/expression_fusion.py) on labelled faces, with cross-validation.

The fusion is a small log-linear combiner (a multinomial logistic regression on the networks' log-probabilities):

    x = [log p_net1 (7), log p_net2 (7), ...]      z = x W + b      probabilities = softmax(z / T)

so each class's score may use every class of every network (neither network says "disgusted" on its own;
the fitted score for it draws on both networks' small disgust and larger neutral probabilities).
W and b are fitted by class-balanced cross-entropy, so that every class counts the same (the target is
balanced accuracy), with an L2 pull of W towards the plain weighted log-mean. Then one temperature T is fitted by ordinary (unweighted) cross-entropy, so that the
published probabilities are calibrated. A class with fewer than ``min_class_faces`` labelled faces (the dev
set's 21 fearful) is weighted as if it had ``min_class_faces``: its faces count like any other class's faces
instead of being blown up to a full class's weight, so a handful of faces cannot steer the fit.

Optionally (``recall_floor``) the biases are then raised, class by class, until every class's recall on the
fitting faces is at least its floor: a balanced fit takes faces from the classes a network over-predicts
(neutral), and the floors keep each class within a tolerance of today's stage.

Everything is reported cross-validated: ``cross_validate`` fits on k-1 folds and predicts the held-out fold,
so the scores are never on faces the parameters were fitted to.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from fea_ros.core.expression_fusion import Fusion, fuse, fusion_features, has_blendshapes
from fea_ros.core.types import EXPRESSION_LABELS

N_CLASSES = len(EXPRESSION_LABELS)
#: L2 pull of the blendshape weights towards 0: the default, and the choices choose_l2_blendshapes tries
L2_BLENDSHAPES = 0.003
L2_CHOICES = (0.003, 0.01, 0.03)


def prior_weights_matrix(networks: tuple[str, ...], weights: dict[str, float]) -> np.ndarray:
    """W of the weighted log-mean: each class's score is its own log-probabilities at the networks' weights."""
    prior = np.array([weights.get(key, 0.0) for key in networks], float)
    prior = prior / prior.sum() if prior.sum() > 0 else np.full(len(networks), 1.0 / len(networks))
    return np.concatenate([w * np.eye(N_CLASSES) for w in prior], axis=0)


def fit_fusion(per_network: dict[str, np.ndarray], labels: np.ndarray, prior_weights: dict[str, float],
               min_class_faces: int = 50, l2: float = 0.1, recall_floor: np.ndarray | None = None,
               blendshapes: np.ndarray | None = None, l2_blendshapes: float = L2_BLENDSHAPES) -> Fusion:
    """Fit W, b and the temperature on (N, 7) probabilities per network and (N,) label indices; with
    ``blendshapes`` (N, 52) those are further features, their weights pulled towards 0 by ``l2_blendshapes``."""
    networks = tuple(sorted(per_network))
    labels = np.asarray(labels, int)
    counts = np.bincount(labels, minlength=N_CLASSES)
    features = fusion_features(per_network, networks)
    prior = prior_weights_matrix(networks, prior_weights)
    pull = np.full(prior.shape, l2)
    if blendshapes is not None:
        extra = np.asarray(blendshapes, float)
        features = np.concatenate([features, extra], axis=1)
        prior = np.concatenate([prior, np.zeros((extra.shape[1], N_CLASSES))], axis=0)
        pull = np.concatenate([pull, np.full((extra.shape[1], N_CLASSES), l2_blendshapes)], axis=0)
    dims = features.shape[1]
    sample_weight = 1.0 / np.maximum(counts[labels], min_class_faces)
    sample_weight /= sample_weight.sum()
    theta0 = np.concatenate([prior.ravel(), np.zeros(N_CLASSES)])
    pull_flat = pull.ravel()
    rows = np.arange(len(labels))

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta[:-N_CLASSES].reshape(dims, N_CLASSES), theta[-N_CLASSES:]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = unpack(theta)
        log_p = log_softmax(features @ weights + bias, axis=1)
        gradient_logits = np.exp(log_p)
        gradient_logits[rows, labels] -= 1.0
        gradient_logits *= sample_weight[:, None]
        shrink = theta[:-N_CLASSES] - theta0[:-N_CLASSES]
        value = -float(np.sum(sample_weight * log_p[rows, labels])) + float(np.sum(pull_flat * shrink ** 2))
        gradient = np.concatenate([(features.T @ gradient_logits).ravel() + 2 * pull_flat * shrink,
                                   gradient_logits.sum(axis=0)])
        return value, gradient

    result = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    weights, bias = unpack(result.x)
    if recall_floor is not None:
        bias = bias + raise_biases(features @ weights + bias, labels, recall_floor)
    return Fusion(networks, weights, bias, fit_temperature(features @ weights + bias, labels),
                  blendshapes=blendshapes is not None)


def fit_fusions(per_network: dict[str, np.ndarray], labels: np.ndarray, prior_weights: dict[str, float],
                baseline: np.ndarray | None = None, blendshapes: np.ndarray | None = None, tolerance: float = 0.03,
                margin: float = 0.03, min_class_faces: int = 50, l2: float = 0.1,
                l2_blendshapes: float = L2_BLENDSHAPES) -> tuple[Fusion, Fusion | None]:
    """The stage's two combiners fitted on these faces: one on the networks alone (every face), and with
    ``blendshapes`` (N, 52; a row of NaN where a face has none) one that also reads them, fitted on the faces that
    have them (None without blendshapes). With ``baseline`` (N, 7) probabilities of today's stage, each keeps every
    class's recall on its own fitting faces within ``tolerance`` of the baseline's (recall_floors)."""
    labels = np.asarray(labels, int)

    def fit(rows: np.ndarray, shapes: np.ndarray | None) -> Fusion:
        floor = None if baseline is None else recall_floors(labels[rows], baseline[rows], tolerance, margin,
                                                              min_class_faces)
        return fit_fusion({key: p[rows] for key, p in per_network.items()}, labels[rows], prior_weights,
                          min_class_faces=min_class_faces, l2=l2, recall_floor=floor,
                          blendshapes=None if shapes is None else shapes[rows], l2_blendshapes=l2_blendshapes)

    nets = fit(np.ones(len(labels), bool), None)
    if blendshapes is None:
        return nets, None
    shapes = np.asarray(blendshapes, float)
    has = has_blendshapes(shapes)
    return nets, fit(has, shapes) if np.any(has) else None


def without_temperature(fusion: Fusion) -> Fusion:
    """The same combiner before its calibration (T = 1)."""
    return replace(fusion, temperature=1.0)


def recalls(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(7,) recall of argmax(scores) per class; nan for a class with no face."""
    predicted = np.asarray(scores).argmax(axis=1)
    return np.array([np.mean(predicted[labels == k] == k) if np.any(labels == k) else np.nan
                     for k in range(N_CLASSES)])


def raise_biases(logits: np.ndarray, labels: np.ndarray, floor: np.ndarray, step: float = 0.02,
                 max_steps: int = 1000) -> np.ndarray:
    """Bias offsets (7,): repeatedly raise the bias of the class furthest below its recall floor."""
    offsets = np.zeros(N_CLASSES)
    for _ in range(max_steps):
        shortfall = np.nan_to_num(floor - recalls(labels, logits + offsets), nan=-1.0)
        worst = int(np.argmax(shortfall))
        if shortfall[worst] <= 0:
            break
        offsets[worst] += step
    return offsets


def recall_floors(labels: np.ndarray, baseline: np.ndarray, tolerance: float, margin: float,
                  min_class_faces: int) -> np.ndarray:
    """Each class's baseline recall minus the tolerance plus a safety margin (held-out recall runs lower than
    on the fitting faces); no floor (-1) for a class with fewer than min_class_faces faces."""
    counts = np.bincount(labels, minlength=N_CLASSES)
    floor = recalls(labels, baseline) - tolerance + margin
    return np.where(counts >= min_class_faces, np.nan_to_num(floor, nan=-1.0), -1.0)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 that minimises the plain cross-entropy of softmax(logits / T)."""
    rows = np.arange(len(labels))

    def loss(log_t: np.ndarray) -> float:
        return -float(np.mean(log_softmax(logits / np.exp(log_t[0]), axis=1)[rows, labels]))

    result = minimize(loss, np.zeros(1), method="L-BFGS-B", bounds=[(-3.0, 3.0)])
    return float(np.exp(result.x[0]))


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) fold index per face; each class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(labels), int)
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        rng.shuffle(members)
        assignment[members] = (np.arange(len(members)) + rng.integers(folds)) % folds
    return assignment


def cross_validate(per_network: dict[str, np.ndarray], labels: np.ndarray, prior_weights: dict[str, float],
                   folds: int = 5, seed: int = 0, baseline: np.ndarray | None = None, tolerance: float = 0.03,
                   margin: float = 0.03, min_class_faces: int = 50, l2: float = 0.1,
                   blendshapes: np.ndarray | None = None,
                   l2_blendshapes: float = L2_BLENDSHAPES) -> tuple[np.ndarray, np.ndarray]:
    """Held-out (N, 7) probabilities of the fitted fusion, and the same before the temperature (T = 1).

    With ``baseline`` (N, 7) probabilities of today's stage, each fold's fit keeps every class's recall within
    ``tolerance`` of the baseline's on that fold's fitting faces (recall_floors). With ``blendshapes`` (N, 52;
    a row of nan where a face has none) they are features too; a held-out face without them is scored by a
    fusion of the networks alone fitted on the same fold, as the stage falls back to the fusion without them."""
    labels = np.asarray(labels, int)
    assignment = stratified_folds(labels, folds, seed)
    calibrated = np.zeros((len(labels), N_CLASSES))
    uncalibrated = np.zeros((len(labels), N_CLASSES))
    shapes = None if blendshapes is None else np.asarray(blendshapes, float)
    for fold in range(folds):
        train, test = assignment != fold, assignment == fold
        nets, with_shapes = fit_fusions({key: p[train] for key, p in per_network.items()}, labels[train],
                                        prior_weights, None if baseline is None else baseline[train],
                                        None if shapes is None else shapes[train], tolerance, margin,
                                        min_class_faces, l2, l2_blendshapes)
        held_out = {key: p[test] for key, p in per_network.items()}
        held_shapes = None if shapes is None else shapes[test]
        calibrated[test] = fuse(nets, with_shapes, held_out, held_shapes)
        uncalibrated[test] = fuse(without_temperature(nets),
                                  None if with_shapes is None else without_temperature(with_shapes), held_out,
                                  held_shapes)
    return calibrated, uncalibrated


def worst_recall_drop(labels: np.ndarray, scores: np.ndarray, baseline: np.ndarray, min_class_faces: int) -> float:
    """The largest fall in recall vs ``baseline`` over the classes with at least min_class_faces faces."""
    counts = np.bincount(labels, minlength=N_CLASSES)
    drop = recalls(labels, baseline) - recalls(labels, scores)
    return float(np.nanmax(np.where(counts >= min_class_faces, drop, np.nan)))


def choose_l2_blendshapes(per_network: dict[str, np.ndarray], labels: np.ndarray, prior_weights: dict[str, float],
                          baseline: np.ndarray, blendshapes: np.ndarray, candidates: tuple[float, ...] = L2_CHOICES,
                          tolerance: float = 0.03, margin: float = 0.03,
                          min_class_faces: int = 50) -> tuple[float, dict[float, tuple[float, float]]]:
    """The blendshape pull with the best cross-validated balanced accuracy among those whose held-out recall
    stays within ``tolerance`` of the baseline for every class (the strongest pull if none does), and each
    candidate's (balanced accuracy, worst recall drop)."""
    labels = np.asarray(labels, int)
    results: dict[float, tuple[float, float]] = {}
    for l2_shapes in candidates:
        held_out, _ = cross_validate(per_network, labels, prior_weights, baseline=baseline, tolerance=tolerance,
                                     margin=margin, min_class_faces=min_class_faces, blendshapes=blendshapes,
                                     l2_blendshapes=l2_shapes)
        predicted = held_out.argmax(axis=1)
        balanced = float(np.nanmean([np.mean(predicted[labels == k] == k) for k in range(N_CLASSES)
                                     if np.any(labels == k)]))
        results[l2_shapes] = (balanced, worst_recall_drop(labels, held_out, baseline, min_class_faces))
    allowed = [c for c in candidates if results[c][1] <= tolerance]
    best = max(allowed, key=lambda c: results[c][0]) if allowed else max(candidates)
    return best, results
