#!/usr/bin/env python3
"""MEGC recall per benchmark action (and group: eye+blink, eye, lower face), summed over several seeds.

`fea-ros bench mie` prints recall per category; this splits it by the action each truth row names (upper-lid
raise, nose wrinkle, ...), and ``--missed`` lists the movements not found with their amplitude. The
predictions come from ``fea-ros bench mie --predictions``, one file per seed:

    fea-ros bench mie --data out/mie_benchmark/seed-1 --fps 30 --no-baseline --predictions out/pred-1.csv
    python fea_ros/scripts/action_recall.py --data out/mie_benchmark/seed-1 --pred out/pred-1.csv \
        --data out/mie_benchmark/seed-2 --pred out/pred-2.csv --missed
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

from fea_ros.mie.benchmark import SUBJECT, load_truth
from fea_ros.mie.errors import SpottingFormatError
from fea_ros.mie.evaluation import found_truths, read_intervals
from fea_ros.mie.synthetic_plan import GROUPS


def seed_rows(data: Path, pred: Path) -> list[tuple[dict[str, str], bool]]:
    """Each subject truth row of a seed and whether the predictions found it."""
    truth_path = data / "truth.csv"
    if not truth_path.is_file():
        raise SystemExit(f"{truth_path} not found: make the seed with fea_ros/scripts/make_mie_benchmark.py")
    truths, _ = load_truth(truth_path)
    try:
        found = found_truths(read_intervals(pred), truths)
    except (OSError, SpottingFormatError) as exc:
        raise SystemExit(f"{pred}: {exc} (give a CSV from fea-ros bench mie --predictions)") from exc
    with truth_path.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("face", SUBJECT) == SUBJECT]
    return list(zip(rows, found))  # load_truth keeps the subject rows in file order


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="a benchmark seed folder out/mie_benchmark/seed-<N> (repeatable: the counts add up)")
    parser.add_argument("--pred", type=Path, action="append", required=True,
                        help="predictions CSV of fea-ros bench mie, one per --data in the same order")
    parser.add_argument("--missed", action="store_true", help="also list each movement not found")
    args = parser.parse_args()
    if len(args.pred) != len(args.data):
        parser.error("give one --pred per --data")
    table: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    missed = []
    for data, pred in zip(args.data, args.pred):
        for row, hit in seed_rows(data, pred):
            group = next((g for g in GROUPS if row["categories"].startswith(g + " ")), "")
            counts = table[(row["type"], group, row["action"])]
            counts[0] += int(hit)
            counts[1] += 1
            if not hit:
                missed.append(f"{data.name} {row['video']} {row['onset']}-{row['offset']} {row['type']} "
                              f"{row['action']} {row['side']} {row['amplitude_px']} px ({row['categories']})")
    print(f"{', '.join(d.name for d in args.data)}: recall per action")
    print("type   group        action            found / total")
    for (kind, group, action), (hit, total) in sorted(table.items()):
        print(f"{kind:6s} {group:12s} {action:17s} {hit:3d} / {total:3d}")
    if args.missed:
        print("\nnot found:")
        print("\n".join(missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
