#!/usr/bin/env python3
"""MEGC recall per benchmark action (and group: eye+blink, eye, lower face), summed over several seeds, and the
scores of `fea-ros bench mie` pooled over those seeds.

`fea-ros bench mie` prints recall per category for one seed; this splits it by the action each truth row names
(upper-lid raise, nose wrinkle, ...), ``--missed`` lists the movements not found with their amplitude, and the
pooled lines give MiE / MaE F1 and each category's recall over all the seeds given (one miss moves a category of
a single seed by 0.02-0.07). How far one seed's category spread strays by chance alone is then drawn from the
pooled result (``--draws``): each movement of a seed is replaced by one of the same categories from the pool, found
or not as that one was, and the spread of the drawn seed is taken as `fea-ros bench mie` takes it; the same for
all the seeds pooled, and for one seed of a spotter with the same recall in every category. The
predictions come from ``fea-ros bench mie --predictions``, one file per seed:

    fea-ros bench mie --data out/mie_benchmark/seed-1 --fps 30 --no-baseline --predictions out/pred-1.csv
    python fea_ros/scripts/action_recall.py --data out/mie_benchmark/seed-1 --pred out/pred-1.csv \
        --data out/mie_benchmark/seed-2 --pred out/pred-2.csv --missed
"""
from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from fea_ros.mie.benchmark import SUBJECT, RateResult, load_truth
from fea_ros.mie.benchmark_report import CATEGORY_SPREAD, category_spread
from fea_ros.mie.errors import SpottingFormatError
from fea_ros.mie.evaluation import Interval, found_truths, read_intervals
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


def pooled(data_dirs: list[Path], preds: list[Path]) -> RateResult:
    """One RateResult for several seeds; each video is named after its seed, since every seed reuses the names."""
    rate = RateResult(fps=30.0)
    for data, pred in zip(data_dirs, preds):
        truths, categories = load_truth(data / "truth.csv")
        rate.truths += [Interval(f"{data.name}/{t.video}", t.onset, t.offset, t.type) for t in truths]
        rate.categories += categories
        rate.spotter.predictions += [Interval(f"{data.name}/{p.video}", p.onset, p.offset, p.type)
                                     for p in read_intervals(pred)]
    return rate


def spread_by_chance(rate: RateResult, seeds: list[list[tuple[str, ...]]], draws: int,
                     rng: np.random.Generator, same_recall: bool = False) -> np.ndarray:
    """(draws,) category spreads of seeds drawn from the pooled result.

    ``seeds``: each seed's categories per truth (its composition); draw i takes the composition of seed
    i mod len(seeds) and, for each of its movements, the found-or-not of a random pooled movement with the same
    categories (drawn with replacement: so many found of k is binomial, with that kind's pooled recall). What
    varies between the draws is only which movements a seed happens to hold. ``same_recall``: every kind at the
    pooled recall of all movements, as for a spotter whose categories do not differ at all.
    """
    found_all = found_truths(rate.spotter.predictions, rate.truths)
    pool: dict[tuple[str, ...], list[bool]] = defaultdict(list)
    for categories, hit in zip(rate.categories, found_all):
        pool[categories].append(hit)
    recall = {kind: float(np.mean(found_all if same_recall else hits)) for kind, hits in pool.items()}
    spreads = np.empty(draws)
    for index, seed in enumerate(seeds):
        rows = np.arange(index, draws, len(seeds))
        found: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(rows)))
        total: dict[str, int] = defaultdict(int)
        for categories, count in Counter(seed).items():
            hits = rng.binomial(count, recall[categories], size=len(rows))
            for category in categories:
                found[category] = found[category] + hits
                total[category] += count
        recalls = np.array([found[category] / total[category] for category in total])
        spreads[rows] = recalls.max(axis=0) - recalls.min(axis=0)
    return spreads


def print_pooled(rate: RateResult) -> None:
    scores = rate.scores(rate.spotter)
    print(f"\npooled: MiE {scores.micro.tp} / {scores.micro.n_pred} / {scores.micro.n_gt} (TP / predicted / truth), "
          f"F1 {scores.micro.f1:.3f}, recall {scores.micro.recall:.3f}; MaE {scores.macro.tp} / {scores.macro.n_pred}"
          f" / {scores.macro.n_gt}, F1 {scores.macro.f1:.3f}, precision {scores.macro.precision:.3f}")
    print("category      MiE recall        all recall")
    for category, row in rate.category_recall(rate.spotter).items():
        (mie_hit, mie_total), (hit, total) = row["MICRO"], row["all"]
        mie = f"{mie_hit / mie_total:.3f} ({mie_hit}/{mie_total})" if mie_total else "-"
        print(f"{category:13s} {mie:17s} {hit / total:.3f} ({hit}/{total})")
    print(f"category spread (best minus worst, all recall): {category_spread(rate):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="a benchmark seed folder out/mie_benchmark/seed-<N> (repeatable: the counts add up)")
    parser.add_argument("--pred", type=Path, action="append", required=True,
                        help="predictions CSV of fea-ros bench mie, one per --data in the same order")
    parser.add_argument("--missed", action="store_true", help="also list each movement not found")
    parser.add_argument("--draws", type=int, default=2000,
                        help="seeds drawn from the pooled result to show the spread of one seed by chance (0: none)")
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
    for (kind, group, action), (found, total) in sorted(table.items()):
        print(f"{kind:6s} {group:12s} {action:17s} {found:3d} / {total:3d}")
    rate = pooled(args.data, args.pred)
    print_pooled(rate)
    if args.draws > 0:
        seeds = [load_truth(data / "truth.csv")[1] for data in args.data]
        rng = np.random.default_rng(0)
        everything = [[c for seed in seeds for c in seed]]
        print(f"category spread by chance ({args.draws} draws from the pool each):")
        for what, compositions, same in (("one seed", seeds, False), ("all the seeds pooled", everything, False),
                                         ("one seed, every category at the overall recall", seeds, True)):
            spreads = spread_by_chance(rate, compositions, args.draws, rng, same)
            print(f"  {what}: median {np.median(spreads):.3f}, 90th percentile {np.percentile(spreads, 90):.3f}; "
                  f"above {CATEGORY_SPREAD} in {100 * np.mean(spreads > CATEGORY_SPREAD + 1e-9):.0f} % of the draws")
    if args.missed:
        print("\nnot found:")
        print("\n".join(missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
