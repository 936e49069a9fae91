"""The expression-fusion fit (expression_eval/fusion_fit.py): what it learns, and that it, its script
(scripts/fit_expression_fusion.py) and the stage share one fitting path and one fallback."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from fea_ros.core.config import ExpressionConfig, InferenceConfig
from fea_ros.core.expression import NETS, ExpressionClassifier
from fea_ros.core.expression_fusion import N_BLENDSHAPES, fusion_file, load_fusion
from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.expression_eval.fusion_fit import (cross_validate, fit_fusion, fit_fusions, raise_biases, recall_floors,
                                                recalls, stratified_folds)
from fea_ros.expression_eval.metrics import score
from fea_ros.inference.factory import create_engine

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fit_expression_fusion.py"
PRIOR = {"faceapi": 0.6, "fer": 0.4}


def biased_network(rng: np.random.Generator, labels: np.ndarray, signal: float, neutral_bias: float) -> np.ndarray:
    """(N, 7) probabilities of a network that knows the class (``signal`` on its logit) but leans to neutral."""
    logits = rng.normal(0, 1.0, (len(labels), 7))
    logits[np.arange(len(labels)), labels] += signal
    logits[:, 0] += neutral_bias
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    """Synthetic network outputs: faceapi informative but biased to neutral, fer weaker; blendshape 7 marks
    disgust (the others are 0); some faces without blendshapes (NaN rows); today's stage a noisier mean."""
    rng = np.random.default_rng(11)
    labels = np.repeat(np.arange(7), [70, 70, 40, 40, 12, 30, 40])
    faceapi = biased_network(rng, labels, 1.2, 0.8)
    fer = 0.7 * rng.dirichlet(np.full(7, 2.0), len(labels)) + 0.3 * np.eye(7)[labels]
    shapes = np.zeros((len(labels), N_BLENDSHAPES))  # constant coefficients keep the fits short
    shapes[:, 7] = rng.uniform(0.0, 0.2, len(labels)) + 0.5 * (labels == 5)
    shapes[rng.choice(len(labels), 20, replace=False)] = np.nan
    today = 0.6 * (0.8 * faceapi + 0.2 * rng.dirichlet(np.ones(7), len(labels))) + 0.4 * fer
    return {"label": labels, "faceapi": faceapi, "fer": fer, "blendshapes": shapes, "today": today}


@pytest.fixture(scope="module")
def engines() -> dict:
    return {key: create_engine(net.model, InferenceConfig()) for key, net in NETS.items()}


def _subset(faces: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {key: faces[key][rows] for key in PRIOR}


def test_cross_validation_fits_each_fold_as_two_fusions_and_scores_as_the_stage_falls_back(faces):
    labels, shapes, today = faces["label"], faces["blendshapes"], faces["today"]
    held_out, before_temperature = cross_validate(_subset(faces, slice(None)), labels, PRIOR, baseline=today,
                                                  blendshapes=shapes, l2_blendshapes=0.01)
    # the same by hand with fit_fusion: per fold one fusion of the networks on every fitting face, one with the
    # blendshapes on the fitting faces that have them; each held-out face scored by the one that fits it
    has = np.all(np.isfinite(shapes), axis=1)
    expected, expected_t1 = np.zeros_like(held_out), np.zeros_like(held_out)
    for fold in range(5):
        train, test = stratified_folds(labels, 5, 0) != fold, stratified_folds(labels, 5, 0) == fold
        for fit_rows, score_rows, extra in ((train, test & ~has, None), (train & has, test & has, shapes)):
            floor = recall_floors(labels[fit_rows], today[fit_rows], 0.03, 0.03, 50)
            fusion = fit_fusion(_subset(faces, fit_rows), labels[fit_rows], PRIOR, recall_floor=floor,
                                blendshapes=None if extra is None else extra[fit_rows], l2_blendshapes=0.01)
            scored = _subset(faces, score_rows), None if extra is None else extra[score_rows]
            expected[score_rows] = fusion(*scored)
            logits = fusion.logits(*scored) * fusion.temperature
            expected_t1[score_rows] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(held_out, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(before_temperature, expected_t1, rtol=0, atol=1e-12)
    assert np.any(~has) and np.any(has)  # both fusions were used


def test_the_stage_fuses_as_the_fit_scores(faces, engines):
    has = np.all(np.isfinite(faces["blendshapes"]), axis=1)
    picked = np.concatenate([np.flatnonzero(has)[:20], np.flatnonzero(~has)[:10]])  # faces with and without them
    shapes, rows = faces["blendshapes"][picked], _subset(faces, picked)
    nets, with_shapes = fit_fusions(_subset(faces, slice(None)), faces["label"], PRIOR,
                                    blendshapes=faces["blendshapes"])
    assert with_shapes is not None and with_shapes.blendshapes and not nets.blendshapes
    stage = ExpressionClassifier(engines, ExpressionConfig(aligned_crops=True, flip_average=""), nets, with_shapes)
    # a face without blendshapes comes as None (the mesh lost it) or as a row of NaN (a broken mesh)
    given = [s if np.isfinite(s).all() or i % 2 else None for i, s in enumerate(shapes)]
    per_face = stage.fuse(rows, given)
    # each face alone through the combiner that fits it: the one with the blendshapes where it has them
    expected = [with_shapes({key: p[i:i + 1] for key, p in rows.items()}, shapes[i:i + 1])[0] if has[face]
                else nets({key: p[i:i + 1] for key, p in rows.items()})[0] for i, face in enumerate(picked)]
    np.testing.assert_allclose(np.stack([e.probabilities for e in per_face]), np.stack(expected), rtol=0, atol=1e-12)


def test_the_script_writes_the_fusions_fit_fusions_gives(faces, tmp_path):
    spec = importlib.util.spec_from_file_location("fit_expression_fusion", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cache = tmp_path / "outputs.npz"  # what the script keeps of the pipeline's run, read instead of running it
    np.savez(cache, name=np.array([f"{i}.png" for i in range(len(faces["label"]))]), label=faces["label"],
             not_found=np.array(["lost.png"]), blendshapes=faces["blendshapes"], today_faceapi=faces["today"],
             today_fer=faces["today"], new_faceapi=faces["faceapi"], new_fer=faces["fer"])
    out = tmp_path / "models"
    out.mkdir()
    assert script.main([str(tmp_path / "labels.csv"), "--out-dir", str(out), "--cache", str(cache),
                        "--flip", "faceapi"]) == 0
    nets_file, shapes_file = out / fusion_file(("faceapi",)), out / fusion_file(("faceapi",), blendshapes=True)
    l2_shapes = json.loads(shapes_file.read_text())["fitted_on"]["l2_blendshapes"]
    # today's stage is the prior-weighted mean of the two 'today' outputs, here both faces["today"]
    today = sum(PRIOR[key] * faces["today"] for key in PRIOR)
    nets, with_shapes = fit_fusions(_subset(faces, slice(None)), faces["label"], PRIOR, today, faces["blendshapes"],
                                    l2_blendshapes=l2_shapes)
    assert with_shapes is not None
    for path, fitted in ((nets_file, nets), (shapes_file, with_shapes)):
        loaded = load_fusion(path)  # the file the stage reads
        assert loaded.flip_average == ("faceapi",) and loaded.aligned_crops and loaded.blendshapes == fitted.blendshapes
        np.testing.assert_allclose(loaded.weights, fitted.weights, rtol=0, atol=5e-7)  # written to 6 decimals
        np.testing.assert_allclose(loaded.bias, fitted.bias, rtol=0, atol=5e-7)
        assert loaded.temperature == pytest.approx(fitted.temperature, abs=5e-7)
    rows = json.loads(nets_file.read_text())["cross_validated"]
    assert {"new crops, fitted fusion (5-fold CV)", "held-out fifth: fitted fusion"} <= set(rows)


def test_fusion_fit_learns_from_an_informative_network_and_keeps_recall_floors():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(7), [200, 200, 120, 120, 20, 80, 100])
    a = biased_network(rng, labels, 1.5, 1.2)  # net "a" knows the class but leans to neutral; net "b" is noise
    b = rng.dirichlet(np.ones(7), len(labels))
    prior = 0.5 * a + 0.5 * b
    held_out, _ = cross_validate({"a": a, "b": b}, labels, {"a": 0.5, "b": 0.5})
    assert score(labels, held_out).balanced_accuracy > score(labels, prior).balanced_accuracy + 0.05
    params = fit_fusion({"a": a, "b": b}, labels, {"a": 0.5, "b": 0.5})
    assert np.abs(params.weights[:7]).sum() > np.abs(params.weights[7:]).sum()  # it trusts the informative net
    floor = np.full(7, -1.0)
    floor[0] = 0.95
    offsets = raise_biases(np.log(a), labels, floor)
    assert recalls(labels, np.log(a) + offsets)[0] >= 0.95 and offsets[0] > 0


def test_fusion_fit_uses_informative_blendshapes_and_falls_back_where_a_face_has_none():
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(7), [150, 150, 100, 100, 20, 80, 100])
    # both networks are weak; one "blendshape" coefficient says whether the face is disgusted
    a = rng.dirichlet(np.ones(7), len(labels))
    b = rng.dirichlet(np.ones(7), len(labels))
    shapes = rng.uniform(0.0, 0.2, (len(labels), 52))
    disgusted = EXPRESSION_LABELS.index("disgusted")
    shapes[labels == disgusted, 7] += 0.7
    shapes[:40] = np.nan  # the mesh lost these faces: no blendshapes
    nets = {"a": a, "b": b}
    plain, _ = cross_validate(nets, labels, {"a": 0.5, "b": 0.5})
    with_shapes, _ = cross_validate(nets, labels, {"a": 0.5, "b": 0.5}, blendshapes=shapes)
    has = np.all(np.isfinite(shapes), axis=1)
    assert recalls(labels[has], with_shapes[has])[disgusted] > recalls(labels[has], plain[has])[disgusted] + 0.5
    # the faces without blendshapes are scored by the networks' fusion alone, as the stage does
    assert np.all(np.isfinite(with_shapes)) and np.allclose(with_shapes.sum(axis=1), 1.0)
    params = fit_fusion({k: p[has] for k, p in nets.items()}, labels[has], {"a": 0.5, "b": 0.5},
                        blendshapes=shapes[has])
    assert params.blendshapes and params.weights.shape == (14 + 52, 7)
    assert int(np.argmax(np.abs(params.weights[14:, disgusted]))) == 7  # it found the informative coefficient
    with pytest.raises(ValueError, match="blendshapes"):
        params(nets)
