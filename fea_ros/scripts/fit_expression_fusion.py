#!/usr/bin/env python3
"""Fit the expression stage's fusions (models/expression_fusion_*.json) on labelled faces, cross-validated.

    python fea_ros/scripts/fit_expression_fusion.py ../shared/data/expression-dev/labels.csv \
        --out-dir fea_ros/models [--flip faceapi]

1. Runs the pipeline twice over the labelled faces (`fea-ros evaluate expression`'s runner, --crop detect):
   with today's stage (box crops, no flip, weighted mean) and with the new crops (aligned, mirror-averaged as
   --flip says), keeping every network's own probabilities and the face's 52 blendshapes.
2. Fits two combiners (fea_ros/expression_eval/fusion_fit.py) in 5-fold cross-validation, every class's
   recall kept within --tolerance of today's stage on the fitting faces: one on the networks alone (the stage
   uses it where there are no blendshapes: fast configuration, blendshapes off, mesh lost), one that also
   reads the blendshapes (its weight pull chosen by cross-validation); scores the held-out folds. As a second
   check, one stratified fifth of the faces is held out of everything (the pull is chosen on the rest).
3. Fits both once more on all faces and writes fusion_file(flip) and fusion_file(flip, blendshapes=True) into
   --out-dir, with the cross-validated scores in them.

The labelled images are only read; nothing derived from their pixels is written besides the combiners'
numbers. --cache keeps the networks' outputs (an .npz outside the repository) for re-fitting.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from fea_ros.core.action_units import BLENDSHAPE_NAMES
from fea_ros.core.config import PipelineConfig
from fea_ros.core.expression_fusion import N_BLENDSHAPES, Fusion, fuse, fusion_file, has_blendshapes
from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.expression_eval.fusion_fit import choose_l2_blendshapes, cross_validate, fit_fusions, stratified_folds
from fea_ros.expression_eval.metrics import Scores, score
from fea_ros.expression_eval.runner import evaluate_expression

PRIOR = {"faceapi": 0.6, "fer": 0.4}
MIN_CLASS_FACES = 50


def collect(labels: Path, root: Path | None, crop: str, aligned: bool, flip: str) -> dict[str, np.ndarray]:
    config = PipelineConfig()
    config.expression.fusion = "mean"
    config.expression.aligned_crops = aligned
    config.expression.flip_average = flip
    report = evaluate_expression(labels, root=root, crop=crop, config=config)
    found = report.scored
    missing = np.full(N_BLENDSHAPES, np.nan)  # the mesh lost the face: no blendshapes
    return {"name": np.array([i.name for i in found]), "label": np.array([i.label for i in found]),
            **{key: np.array([i.per_model[key] for i in found]) for key in PRIOR},
            "blendshapes": np.array([i.blendshapes if i.blendshapes is not None else missing for i in found]),
            "not_found": np.array([i.name for i in report.not_found])}


def summary(s: Scores) -> dict:
    return {"accuracy": round(s.accuracy, 4), "balanced_accuracy": round(s.balanced_accuracy, 4),
            "macro_f1": round(s.macro_f1, 4), "ece": round(s.ece, 4),
            "recall": {c.label: round(c.recall, 4) for c in s.per_class}}


def print_row(name: str, s: Scores) -> None:
    print(f"{name:66s} bal {100 * s.balanced_accuracy:5.1f}  acc {100 * s.accuracy:5.1f}  "
          f"F1 {100 * s.macro_f1:5.1f}  ECE {100 * s.ece:4.1f}  "
          + " ".join(f"{c.label[:4]} {100 * c.recall:4.1f}" for c in s.per_class), flush=True)


def held_out_split(per_network: dict[str, np.ndarray], labels: np.ndarray, today: np.ndarray,
                   shapes: np.ndarray, args: argparse.Namespace) -> dict[str, Scores]:
    """Today's stage and the blendshape fusion on one stratified fifth that nothing was chosen or fitted on."""
    test = stratified_folds(labels, 5, seed=1) == 0
    train = ~test
    fitting = {k: p[train] for k, p in per_network.items()}
    l2_shapes, _ = choose_l2_blendshapes(fitting, labels[train], PRIOR, today[train], shapes[train],
                                         tolerance=args.tolerance, margin=args.margin)
    nets, with_shapes = fit_fusions(fitting, labels[train], PRIOR, today[train], shapes[train], args.tolerance,
                                    args.margin, MIN_CLASS_FACES, l2_blendshapes=l2_shapes)
    held_out = {k: p[test] for k, p in per_network.items()}
    nets_only = nets(held_out)
    fused = fuse(nets, with_shapes, held_out, shapes[test])
    return {f"held-out fifth ({int(test.sum())} faces): today": score(labels[test], today[test]),
            "held-out fifth: fitted fusion": score(labels[test], nets_only),
            f"held-out fifth: fitted + blendshapes (pull {l2_shapes} chosen on the rest)": score(labels[test], fused)}


def document(params: Fusion, args: argparse.Namespace, labels: np.ndarray, faces_not_found: int,
             rows: dict[str, Scores], extra: dict) -> dict:
    counts = np.bincount(labels, minlength=len(EXPRESSION_LABELS))
    features = "x = concatenation over 'networks' of log(clip(p, 1e-4, 1)), p in 'labels' order"
    if params.blendshapes:
        features += ", then the face's 52 blendshape coefficients (0..1) in 'blendshape_names' order"
    return {
        "format": 1,
        "labels": list(EXPRESSION_LABELS),
        "networks": list(params.networks),
        "blendshapes": params.blendshapes,
        **({"blendshape_names": list(BLENDSHAPE_NAMES)} if params.blendshapes else {}),
        "features": features,
        "formula": "probabilities = softmax((x @ weights + bias) / temperature)",
        "weights": np.round(params.weights, 6).tolist(),
        "bias": np.round(params.bias, 6).tolist(),
        "temperature": round(params.temperature, 6),
        "preprocessing": {"aligned_crops": True, "flip_average": [n for n in args.flip.split(",") if n],
                          "crop": args.crop},
        "fitted_on": {
            "labels_file": args.labels.name, "faces": int(len(labels)),
            "per_class": {label: int(n) for label, n in zip(EXPRESSION_LABELS, counts)},
            "faces_not_found": faces_not_found, "recall_tolerance": args.tolerance, "floor_margin": args.margin,
            "date": datetime.date.today().isoformat(),
            "command": "python fea_ros/scripts/fit_expression_fusion.py <expression-dev>/labels.csv "
                       f"--out-dir fea_ros/models --flip '{args.flip}'",
            **extra,
        },
        "cross_validated": {name: summary(s) for name, s in rows.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", type=Path, help="CSV of path,label (see fea-ros evaluate expression)")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--out-dir", type=Path, required=True, help="folder to write the two fusion files to")
    parser.add_argument("--crop", choices=("whole", "detect"), default="detect")
    parser.add_argument("--flip", default="", help="networks that average the mirrored crop ('' = none)")
    parser.add_argument("--tolerance", type=float, default=0.03, help="largest recall drop per class vs today")
    parser.add_argument("--margin", type=float, default=0.03, help="floor safety margin on the fitting faces")
    parser.add_argument("--cache", type=Path, default=None, help="npz of the networks' outputs (read if present)")
    args = parser.parse_args(argv)
    if not args.out_dir.is_dir():
        parser.error(f"--out-dir {args.out_dir} is not a folder")

    if args.cache is not None and args.cache.is_file():
        data = dict(np.load(args.cache, allow_pickle=False))
    else:
        today = collect(args.labels, args.root, args.crop, aligned=False, flip="")
        new = collect(args.labels, args.root, args.crop, aligned=True, flip=args.flip)
        if not np.array_equal(today["name"], new["name"]):
            print("the two runs found faces in different images; cannot compare", file=sys.stderr)
            return 1
        data = {"name": new["name"], "label": new["label"], "not_found": new["not_found"],
                "blendshapes": new["blendshapes"],
                **{f"today_{k}": today[k] for k in PRIOR}, **{f"new_{k}": new[k] for k in PRIOR}}
        if args.cache is not None:
            np.savez_compressed(args.cache, **data)
    labels = data["label"].astype(int)
    shapes = data["blendshapes"].astype(float)
    has = has_blendshapes(shapes)
    today = sum(PRIOR[k] * data[f"today_{k}"] for k in PRIOR)
    per_network = {k: data[f"new_{k}"] for k in PRIOR}
    print(f"{len(labels)} faces scored, {int(has.sum())} with blendshapes, {len(data['not_found'])} not found")

    calibrated, uncalibrated = cross_validate(per_network, labels, PRIOR, baseline=today, tolerance=args.tolerance,
                                              margin=args.margin)
    l2_shapes, tried = choose_l2_blendshapes(per_network, labels, PRIOR, today, shapes, tolerance=args.tolerance,
                                             margin=args.margin)
    print("blendshape weight pull: cross-validated balanced accuracy %, largest recall drop vs today (points): "
          + ", ".join(f"{c}: {100 * b:.1f} / {100 * w:.1f}" for c, (b, w) in tried.items()) + f" -> {l2_shapes}")
    shapes_calibrated, shapes_uncalibrated = cross_validate(
        per_network, labels, PRIOR, baseline=today, tolerance=args.tolerance, margin=args.margin,
        blendshapes=shapes, l2_blendshapes=l2_shapes)
    mean_new = sum(PRIOR[k] * per_network[k] for k in PRIOR)
    rows = {"today (box crops, weighted mean)": score(labels, today),
            "new crops, weighted mean": score(labels, mean_new),
            "new crops, fitted fusion before temperature (5-fold CV)": score(labels, uncalibrated),
            "new crops, fitted fusion (5-fold CV)": score(labels, calibrated),
            "new crops, fitted fusion + blendshapes before temperature (5-fold CV)": score(labels,
                                                                                          shapes_uncalibrated),
            "new crops, fitted fusion + blendshapes (5-fold CV)": score(labels, shapes_calibrated)}
    rows.update(held_out_split(per_network, labels, today, shapes, args))
    for name, s in rows.items():
        print_row(name, s)

    nets, with_shapes = fit_fusions(per_network, labels, PRIOR, today, shapes, args.tolerance, args.margin,
                                    MIN_CLASS_FACES, l2_blendshapes=l2_shapes)
    if with_shapes is None:
        print("no scored face has blendshapes: the fusion with them cannot be fitted (are blendshapes on in the "
              "configuration?)", file=sys.stderr)
        return 1
    flip = tuple(n for n in args.flip.split(",") if n)
    not_found = int(len(data["not_found"]))
    for params, extra in ((nets, {}), (with_shapes, {"faces_with_blendshapes": int(has.sum()),
                                                     "l2_blendshapes": l2_shapes})):
        path = args.out_dir / fusion_file(flip, params.blendshapes)
        path.write_text(json.dumps(document(params, args, labels, not_found, rows, extra), indent=1) + "\n")
        print(f"written {path} (temperature {params.temperature:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
