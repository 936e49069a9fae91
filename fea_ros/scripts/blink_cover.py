#!/usr/bin/env python3
"""How much of each "eye+blink" movement a blink hides, and what the spotter found of each share.

A brow movement that starts within 0.1 s of a blink, or an upper-lid raise that starts within 0.1 s of a blink's
end (the benchmark's "eye+blink" category; synthetic_plan.py) can overlap the blink: while the lid is more than
half closed, an upper-lid raise cannot be seen at all (before round 2's fifth step the benchmark put the blink's
start near a raise's onset too, and hid much of each micro raise). The script re-plans each benchmark seed (the
same plan make_mie_benchmark.py draws, without drawing frames), checks it against the seed's truth.csv, and for
each eye+blink movement prints the share of its interval during which the blink's lid is more than half way down;
with ``--pred`` (``fea-ros bench mie --predictions``) it gives the MEGC recall per action and per share of the
interval hidden.

    python fea_ros/scripts/blink_cover.py --data out/mie_benchmark/seed-1 --pred out/pred-1.csv \
        --data out/mie_benchmark/seed-2 --pred out/pred-2.csv
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_mie_benchmark import load_animators, plan_benchmark  # noqa: E402

from fea_ros.mie.benchmark import load_truth  # noqa: E402
from fea_ros.mie.evaluation import found_truths, read_intervals  # noqa: E402
from fea_ros.mie.synthetic import Movement  # noqa: E402

HALF_CLOSED = 0.5
#: hidden shares are reported in these bins (upper bounds)
BINS = (0.25, 0.5, 0.75, 1.0)


def hidden_share(movement: Movement, blinks: list[Movement], step_s: float = 0.002) -> float:
    """Share of the movement's interval in which some blink holds the lid more than half way down."""
    times = np.arange(movement.onset_s, movement.offset_s, step_s)
    closed = np.zeros(len(times), bool)
    for blink in blinks:
        closed |= np.array([blink.weight(float(t)) > HALF_CLOSED for t in times])
    return float(closed.mean()) if len(times) else 0.0


def cover_table(data: Path, pred: Path | None, table: dict[tuple[str, str, float], list[int]]) -> str | None:
    """Add one seed's eye+blink movements to ``table`` ((type, action, bin) -> [found, total]); an error or None."""
    seed = int(data.name.rsplit("-", 1)[-1])
    truths, _ = load_truth(data / "truth.csv")
    found = [False] * len(truths)
    if pred is not None:
        found = found_truths(read_intervals(pred), truths)
    index = {(t.video, round(t.onset, 3)): i for i, t in enumerate(truths)}
    checked = 0
    for spec, _, _ in plan_benchmark(seed, load_animators()):
        blinks = [m for m in spec.movements if m.action == "blink"]
        for movement in spec.movements:
            key = (spec.name, round(float(f"{movement.onset_s:.4f}"), 3))
            if not movement.kind or key not in index:
                continue
            checked += 1
            if "eye+blink" not in movement.tags:
                continue
            share = hidden_share(movement, blinks)
            row = table[(movement.kind, movement.action, next(b for b in BINS if share <= b))]
            row[0] += int(found[index[key]])
            row[1] += 1
    if checked != len(truths):
        return (f"the plan of seed {seed} does not match {data / 'truth.csv'} ({checked} of {len(truths)} "
                f"movements): was it made by another version of make_mie_benchmark.py?")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="a benchmark seed folder out/mie_benchmark/seed-<N> (repeatable: the counts add up)")
    parser.add_argument("--pred", type=Path, action="append", default=[],
                        help="predictions CSV of fea-ros bench mie, one per --data in the same order")
    args = parser.parse_args()
    if args.pred and len(args.pred) != len(args.data):
        parser.error("give one --pred per --data, or none")
    table: dict[tuple[str, str, float], list[int]] = defaultdict(lambda: [0, 0])
    for i, data in enumerate(args.data):
        error = cover_table(data, args.pred[i] if args.pred else None, table)
        if error:
            print(error)
            return 1
    print(f"{', '.join(d.name for d in args.data)}: eye+blink movements by the share of their interval a blink "
          f"hides (lid more than half closed)")
    print("type   action            hidden share   found / total")
    for (kind, action, upper), (hit, total) in sorted(table.items()):
        lower = BINS[BINS.index(upper) - 1] if upper != BINS[0] else 0.0
        shown = f"{hit:2d} / {total:2d}" if args.pred else f"     {total:2d}"
        print(f"{kind:6s} {action:17s} {lower:.2f}-{upper:.2f}      {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
