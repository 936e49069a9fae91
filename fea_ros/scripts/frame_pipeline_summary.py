#!/usr/bin/env python3
"""Summarise the rows of bench_frame_pipeline.sh: fps and CPU ms/frame per variant, round by round.

    python fea_ros/scripts/frame_pipeline_summary.py out/frame_pipeline
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROW = re.compile(r"^== (?P<name>\S+): .*\(load average (?P<load>[\d. ]+), (?P<time>[\d:]+) UTC\)")
REPLAY = re.compile(r"\((?P<fps>[\d.]+) frames/s")


def bench_cells(text: str) -> dict[str, str]:
    """clip config -> 'fps / CPU ms / busiest thread CPU ms' from a `fea-ros bench --markdown` summary table."""
    cells: dict[str, str] = {}
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None if not line.strip() else header
            continue
        parts = [p.strip() for p in line.strip("|").split("|")]
        if parts[:2] == ["clip", "config"]:
            header = parts
        elif header is not None and not set(parts[0]) <= {"-"} and "fps" in header:
            data = dict(zip(header, parts))
            cells[f"{data['clip']} {data['config']}"] = f"{data['fps']} / {data['CPU ms/frame']} / {data.get('busiest thread CPU ms/frame', '-')}"
    return cells


def main(folder: Path) -> None:
    bench_rows, replay_rows = [], []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text()
        head = ROW.match(text.splitlines()[0]) if text else None
        if head is None:
            continue
        load = head["load"].split()[0]
        if head["name"].startswith("bench_"):
            bench_rows.append((head["name"], head["time"], load, bench_cells(text)))
        else:
            found = REPLAY.search(text)
            replay_rows.append((head["name"], head["time"], load, found["fps"] if found else "failed"))
    columns = sorted({c for *_, cells in bench_rows for c in cells}, key=lambda c: (c.split()[0], c.split()[1] != "full"))
    print("| row | UTC | load (1 min) | " + " | ".join(f"{c}: fps / CPU ms / busiest thread CPU ms" for c in columns) + " |")
    print("|---" * (3 + len(columns)) + "|")
    for name, time, load, cells in bench_rows:
        print(f"| {name} | {time} | {load} | " + " | ".join(cells.get(c, "-") for c in columns) + " |")
    print()
    print("| row | UTC | load (1 min) | frames/s |")
    print("|---|---|---|---|")
    for name, time, load, fps in replay_rows:
        print(f"| {name} | {time} | {load} | {fps} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/frame_pipeline"))
