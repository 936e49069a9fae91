#!/usr/bin/env python3
"""How far spotted intervals lie from the truth: onset and offset errors of the matched events.

Each truth interval is paired with the prediction of the same video that overlaps it most (any IoU > 0); for
the pairs of the same type the script prints the median and mean onset and offset error (prediction minus
truth, seconds) and how many pairs stay below IoU 0.5 (missed by the MEGC protocol although found). The
predictions come from ``fea-ros bench mie --predictions``:

    fea-ros bench mie --data out/mie_benchmark/seed-1 --fps 30 --no-baseline --predictions out/pred-1.csv
    python fea_ros/scripts/interval_errors.py --truth out/mie_benchmark/seed-1/truth.csv --pred out/pred-1.csv
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fea_ros.mie.benchmark import load_truth
from fea_ros.mie.errors import SpottingFormatError
from fea_ros.mie.evaluation import interval_iou, read_intervals


def paired_errors(truth_path: Path, pred_path: Path) -> list[tuple[str, float, float, float]]:
    """(type, IoU, onset error, offset error) of each subject truth and its most overlapping same-type event."""
    if not truth_path.is_file():
        raise SystemExit(f"{truth_path} not found: give a benchmark seed's truth.csv")
    truths, _ = load_truth(truth_path)
    try:
        predictions = read_intervals(pred_path)
    except SpottingFormatError as exc:
        raise SystemExit(f"{exc} (a 'fea-ros bench mie --predictions' CSV)") from None
    pairs = []
    for truth in truths:
        same = [p for p in predictions if p.video == truth.video and p.type == truth.type]
        scored = [(interval_iou((truth.onset, truth.offset), (p.onset, p.offset)), p) for p in same]
        best = max(scored, key=lambda pair: pair[0], default=None)
        if best is not None and best[0] > 0:
            iou, pred = best
            pairs.append((truth.type, iou, pred.onset - truth.onset, pred.offset - truth.offset))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truth", type=Path, action="append", required=True, help="truth.csv (repeatable)")
    parser.add_argument("--pred", type=Path, action="append", required=True,
                        help="predictions CSV, one per --truth, in the same order")
    args = parser.parse_args()
    if len(args.truth) != len(args.pred):
        parser.error("give one --pred per --truth")
    pairs = [p for t, p in zip(args.truth, args.pred) for p in paired_errors(t, p)]
    for kind in ("MICRO", "MACRO"):
        rows = np.array([p[1:] for p in pairs if p[0] == kind]).reshape(-1, 3)
        if not len(rows):
            print(f"{kind}: no overlapping events")
            continue
        print(f"{kind}: {len(rows)} found, {int((rows[:, 0] < 0.5).sum())} below IoU 0.5; onset error median "
              f"{1e3 * np.median(rows[:, 1]):+.0f} ms, mean {1e3 * rows[:, 1].mean():+.0f} ms; offset error median "
              f"{1e3 * np.median(rows[:, 2]):+.0f} ms, mean {1e3 * rows[:, 2].mean():+.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
