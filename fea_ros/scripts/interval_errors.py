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
import csv
from pathlib import Path

import numpy as np


COLUMNS = ("video", "onset", "offset", "type")


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a spotting CSV, or a clear exit when the file or one of its columns is missing."""
    if not path.is_file():
        raise SystemExit(f"{path} not found: give a benchmark truth.csv and a 'fea-ros bench mie --predictions' CSV")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path} has no column {', '.join(missing)}; the header must hold {','.join(COLUMNS)}")
        return list(reader)


def paired_errors(truth_path: Path, pred_path: Path) -> list[tuple[str, float, float, float]]:
    """(type, IoU, onset error, offset error) of each subject truth and its most overlapping same-type event."""
    truths = [r for r in read_rows(truth_path) if r.get("face", "subject") == "subject"]
    preds = read_rows(pred_path)
    pairs = []
    for truth in truths:
        onset, offset = float(truth["onset"]), float(truth["offset"])
        best = None
        for pred in preds:
            if pred["video"] != truth["video"] or pred["type"] != truth["type"]:
                continue
            p_on, p_off = float(pred["onset"]), float(pred["offset"])
            overlap = min(offset, p_off) - max(onset, p_on)
            if overlap > 0:
                iou = overlap / (max(offset, p_off) - min(onset, p_on))
                if best is None or iou > best[1]:
                    best = (truth["type"], iou, p_on - onset, p_off - offset)
        if best is not None:
            pairs.append(best)
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
