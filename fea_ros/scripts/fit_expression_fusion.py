#!/usr/bin/env python3
"""Fit the expression stage's fusion (models/expression_fusion.json) on labelled faces, cross-validated.

    python fea_ros/scripts/fit_expression_fusion.py ../shared/data/expression-dev/labels.csv \
        --out fea_ros/models/expression_fusion.json

1. Runs the pipeline twice over the labelled faces (`fea-ros evaluate expression`'s runner, --crop detect):
   with today's stage (box crops, no flip, weighted mean) and with the new crops (aligned, mirror-averaged as
   --flip says), keeping every network's own probabilities.
2. Fits the combiner (fea_ros/expression_eval/fusion_fit.py) in 5-fold cross-validation, with every class's
   recall kept within --tolerance of today's stage on the fitting faces, and scores the held-out folds.
3. Fits once more on all faces and writes the file with the cross-validated scores in it.

The labelled images are only read; nothing derived from their pixels is written besides the 112 numbers of
the combiner. --cache keeps the networks' outputs (an .npz outside the repository) for re-fitting.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from fea_ros.core.config import PipelineConfig
from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.expression_eval.fusion_fit import cross_validate, fit_fusion, recall_floors
from fea_ros.expression_eval.metrics import Scores, score
from fea_ros.expression_eval.runner import evaluate_expression

PRIOR = {"faceapi": 0.6, "fer": 0.4}


def collect(labels: Path, root: Path | None, crop: str, aligned: bool, flip: str) -> dict[str, np.ndarray]:
    config = PipelineConfig()
    config.expression.fusion = "mean"
    config.expression.aligned_crops = aligned
    config.expression.flip_average = flip
    report = evaluate_expression(labels, root=root, crop=crop, config=config)
    found = report.scored
    return {"name": np.array([i.name for i in found]), "label": np.array([i.label for i in found]),
            **{key: np.array([i.per_model[key] for i in found]) for key in PRIOR},
            "not_found": np.array([i.name for i in report.not_found])}


def summary(s: Scores) -> dict:
    return {"accuracy": round(s.accuracy, 4), "balanced_accuracy": round(s.balanced_accuracy, 4),
            "macro_f1": round(s.macro_f1, 4), "ece": round(s.ece, 4),
            "recall": {c.label: round(c.recall, 4) for c in s.per_class}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", type=Path, help="CSV of path,label (see fea-ros evaluate expression)")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True, help="the fusion file to write")
    parser.add_argument("--crop", choices=("whole", "detect"), default="detect")
    parser.add_argument("--flip", default="faceapi", help="networks that average the mirrored crop")
    parser.add_argument("--tolerance", type=float, default=0.03, help="largest recall drop per class vs today")
    parser.add_argument("--margin", type=float, default=0.03, help="floor safety margin on the fitting faces")
    parser.add_argument("--cache", type=Path, default=None, help="npz of the networks' outputs (read if present)")
    args = parser.parse_args(argv)

    if args.cache is not None and args.cache.is_file():
        data = dict(np.load(args.cache, allow_pickle=False))
    else:
        today = collect(args.labels, args.root, args.crop, aligned=False, flip="")
        new = collect(args.labels, args.root, args.crop, aligned=True, flip=args.flip)
        if not np.array_equal(today["name"], new["name"]):
            print("the two runs found faces in different images; cannot compare", file=sys.stderr)
            return 1
        data = {"name": new["name"], "label": new["label"], "not_found": new["not_found"],
                **{f"today_{k}": today[k] for k in PRIOR}, **{f"new_{k}": new[k] for k in PRIOR}}
        if args.cache is not None:
            np.savez_compressed(args.cache, **data)
    labels = data["label"].astype(int)
    today = sum(PRIOR[k] * data[f"today_{k}"] for k in PRIOR)
    per_network = {k: data[f"new_{k}"] for k in PRIOR}

    calibrated, uncalibrated = cross_validate(per_network, labels, PRIOR, baseline=today, tolerance=args.tolerance,
                                              margin=args.margin)
    mean_new = sum(PRIOR[k] * per_network[k] for k in PRIOR)
    rows = {"today (box crops, weighted mean)": score(labels, today),
            "new crops, weighted mean": score(labels, mean_new),
            "new crops, fitted fusion before temperature (5-fold CV)": score(labels, uncalibrated),
            "new crops, fitted fusion (5-fold CV)": score(labels, calibrated)}
    for name, s in rows.items():
        print(f"{name:58s} bal {100 * s.balanced_accuracy:5.1f}  acc {100 * s.accuracy:5.1f}  "
              f"F1 {100 * s.macro_f1:5.1f}  ECE {100 * s.ece:4.1f}  "
              + " ".join(f"{c.label[:4]} {100 * c.recall:4.1f}" for c in s.per_class))

    floor = recall_floors(labels, today, args.tolerance, args.margin, 50)
    params = fit_fusion(per_network, labels, PRIOR, recall_floor=floor)
    counts = np.bincount(labels, minlength=len(EXPRESSION_LABELS))
    document = {
        "format": 1,
        "labels": list(EXPRESSION_LABELS),
        "networks": list(params.networks),
        "features": "x = concatenation over 'networks' of log(clip(p, 1e-4, 1)), p in 'labels' order",
        "formula": "probabilities = softmax((x @ weights + bias) / temperature)",
        "weights": np.round(params.weights, 6).tolist(),
        "bias": np.round(params.bias, 6).tolist(),
        "temperature": round(params.temperature, 6),
        "preprocessing": {"aligned_crops": True, "flip_average": [n for n in args.flip.split(",") if n],
                          "crop": args.crop},
        "fitted_on": {
            "labels_file": args.labels.name, "faces": int(len(labels)),
            "per_class": {label: int(n) for label, n in zip(EXPRESSION_LABELS, counts)},
            "faces_not_found": int(len(data["not_found"])),
            "recall_tolerance": args.tolerance, "floor_margin": args.margin,
            "date": datetime.date.today().isoformat(),
            "command": "python fea_ros/scripts/fit_expression_fusion.py <expression-dev>/labels.csv "
                       f"--out fea_ros/models/expression_fusion.json --flip {args.flip}",
        },
        "cross_validated": {name: summary(s) for name, s in rows.items()},
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"written {args.out} (temperature {params.temperature:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
