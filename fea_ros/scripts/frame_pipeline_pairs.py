#!/usr/bin/env python3
"""Sequential and pipelined (inference.frame_pipeline) `fea-ros bench` runs in back-to-back pairs, with how
idle the machine was just before each pair.

    python fea_ros/scripts/frame_pipeline_pairs.py --clip face1 --config full --pairs 10 [--wait-idle 0.6]
    python fea_ros/scripts/frame_pipeline_pairs.py --replay [--config fast] --pairs 6   # fea-ros replay, 3-face bag

On a shared machine a second thread only helps when a core is free, and the load average (a 1-minute mean)
does not say whether one is free now. So each pair is preceded by a one-second sample of /proc/stat: the
share of the machine's CPU time that was idle. ``--wait-idle F`` waits (up to ``--max-wait`` s) for a
second with at least that idle share before a pair, so pairs can be collected in the machine's quiet
moments. Each run is `fea-ros bench`'s own measurement (fea_ros.cli.bench.measuring.measure) in a fresh
process, or with ``--replay`` the frames/s `fea-ros replay` prints for the bundled 3-face bag (decode and the
first, slower frames included; CPU ms there is the whole command's, model loading included); the order within
a pair alternates. Prints one markdown row per pair and the median ratio.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

BAG = Path(__file__).resolve().parents[1] / "samples" / "bags" / "faces3_mcap"


def idle_share(seconds: float = 1.0) -> float:
    """Share of all cores' time spent idle (idle + iowait) over the next ``seconds``."""
    def sample() -> tuple[int, int]:
        values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
        return values[3] + values[4], sum(values)
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def run(clip: str, config: str, pipelined: bool) -> dict[str, Any]:
    from fea_ros.cli.bench.clips import CLIPS, SAMPLES_DIR
    from fea_ros.cli.bench.measuring import measure
    from fea_ros.cli.bench.report import Row

    data = measure(str(SAMPLES_DIR / CLIPS[clip]), config, 1, 10, None, frame_pipeline=pipelined)
    row = Row(clip, config, data)
    return {"fps": row.fps, "cpu": sum(data["cpu_ms"]) / data["frames"], "busiest": row.busiest_thread_cpu_ms}


def run_replay(config: str, pipelined: bool) -> dict[str, Any]:
    import re
    import resource
    import subprocess
    import sys

    command = [sys.executable, "-m", "fea_ros.cli", "replay", str(BAG), "--no-progress",
               "--frame-pipeline" if pipelined else "--no-frame-pipeline"] + (["--fast"] if config == "fast" else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"\((?P<fps>[\d.]+) frames/s", output)
    if found is None:
        raise RuntimeError(f"no frames/s in the output of {' '.join(command)}: {output}")
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"fps": float(found["fps"]), "cpu": cpu_s * 1e3 / 90, "busiest": float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="face1", choices=("face1", "faces3"))
    parser.add_argument("--config", default="full", choices=("full", "fast"))
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="F", help="idle share to wait for (0..1)")
    parser.add_argument("--max-wait", type=float, default=120.0, metavar="S")
    parser.add_argument("--replay", action="store_true", help="time `fea-ros replay` of the 3-face sample bag")
    args = parser.parse_args()
    what = f"fea-ros replay {BAG.name} {args.config}" if args.replay else f"{args.clip} {args.config}"
    print(f"| pair | UTC | load (1 min) | idle before | sequential fps (CPU ms) | pipelined fps (CPU ms, busiest "
          f"thread ms) | pipelined / sequential |  ({what})")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    spawn = get_context("spawn")
    for pair in range(1, args.pairs + 1):
        deadline = time.monotonic() + args.max_wait
        idle = idle_share()
        while idle < args.wait_idle and time.monotonic() < deadline:
            idle = idle_share()
        stamp, load = time.strftime("%H:%M:%S", time.gmtime()), open("/proc/loadavg").read().split()[0]
        results = {}
        for pipelined in ((False, True) if pair % 2 else (True, False)):
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                results[pipelined] = (pool.submit(run_replay, args.config, pipelined) if args.replay
                                      else pool.submit(run, args.clip, args.config, pipelined)).result()
        seq, pip = results[False], results[True]
        ratios.append(pip["fps"] / seq["fps"])
        busiest = "-" if math.isnan(pip["busiest"]) else f"{pip['busiest']:.2f}"
        print(f"| {pair} | {stamp} | {load} | {idle:.0%} | {seq['fps']:.1f} ({seq['cpu']:.2f}) | {pip['fps']:.1f} "
              f"({pip['cpu']:.2f}, {busiest}) | {ratios[-1]:.2f} |", flush=True)
    print(f"\nmedian pipelined / sequential: {statistics.median(ratios):.2f} over {len(ratios)} pairs")


if __name__ == "__main__":
    main()
