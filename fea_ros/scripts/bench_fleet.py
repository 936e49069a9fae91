#!/usr/bin/env python3
"""Corpus throughput of `fea-ros replay-many` with 1, 2, ... workers on this machine (BENCHMARKS.md "Fleet replay").

Builds a corpus of N distinct bags from the bundled faces3_mcap (each re-recorded i hours later: the same 90
frames, another content hash, so none is deduplicated), then runs `fea-ros replay-many` on it once per worker
count, each in a fresh process with a fresh local Ray and an empty output folder, and prints one table row per
run from the corpus reports.

    python fea_ros/scripts/bench_fleet.py [--bags 8] [--workers 1 2] [--full] [--work out/fea_fleet_bench]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "bags" / "faces3_mcap"
HOUR_NS = 3600 * 10**9


def later_copy(source: Path, target: Path, shift_ns: int) -> None:
    """``source`` re-recorded ``shift_ns`` later (receive times and header stamps shifted)."""
    with AnyReader([source]) as reader, Writer(target, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        for connection in reader.connections:
            out = writer.add_connection(connection.topic, connection.msgtype, typestore=reader.typestore)
            for _, log_ns, raw in reader.messages(connections=[connection]):
                message: Any = reader.deserialize(raw, connection.msgtype)
                total = message.header.stamp.sec * 10**9 + message.header.stamp.nanosec + shift_ns
                message.header.stamp.sec, message.header.stamp.nanosec = total // 10**9, total % 10**9
                writer.write(out, log_ns + shift_ns, reader.typestore.serialize_cdr(message, connection.msgtype))


def build_corpus(folder: Path, bags: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(bags):
        path = folder / f"faces3_{index:03d}"
        if not (path / "metadata.yaml").is_file():
            shutil.rmtree(path, ignore_errors=True)
            later_copy(SAMPLE, path, index * HOUR_NS)
        paths.append(path)
    return paths


def run(corpus: Path, out: Path, workers: int, full: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "fea_ros.cli", "replay-many", str(corpus), "--out", str(out),
               "--workers", str(workers), "--no-progress", "--no-bag"] + ([] if full else ["--fast"])
    started = time.perf_counter()
    code = subprocess.run(command, stdout=subprocess.DEVNULL).returncode
    if code not in (0, 1):  # 1: some bag failed, shown in the table's bags column
        raise SystemExit(f"{' '.join(command)} exited with {code}")
    wall = time.perf_counter() - started
    report = json.loads((out / "corpus_report.json").read_text())
    report["process_wall_s"] = wall
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bags", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--full", action="store_true", help="the default (full) configuration instead of --fast")
    parser.add_argument("--work", type=Path, default=Path("out/fea_fleet_bench"))
    args = parser.parse_args()
    corpus = args.work / "corpus"
    build_corpus(corpus, args.bags)
    load = os.getloadavg()[0]
    rows = []
    for workers in args.workers:
        report = run(corpus, args.work / f"out_w{workers}", workers, args.full)
        rows.append((workers, report))
    print(f"{args.bags} bags x 90 frames (faces3_mcap, 640x480 JPEG), config {'full' if args.full else 'fast'}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average before: {load:.1f}\n")
    print("| workers | bags done | frames | process wall s | Ray start s | corpus frames/s | frames/s per worker "
          "| CPU ms per frame | cores busy | wall vs first row |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    first_wall = rows[0][1]["process_wall_s"]
    for workers, report in rows:
        overall, processing = report["overall"], report["overall"]["processing"]
        print(f"| {workers} | {overall['bags']['done']}/{overall['bags']['given']} | {processing['frames_replayed']} | "
              f"{report['process_wall_s']:.1f} | {report['run']['startup_s']:.1f} | {processing['corpus_fps']} | "
              f"{processing['fps_per_worker']} | {processing['cpu_ms_per_frame']} | {processing['cores_used']} | "
              f"{report['process_wall_s'] / first_wall:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
