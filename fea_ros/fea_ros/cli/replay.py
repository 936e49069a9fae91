"""`fea-ros replay IN_BAG`: run the pipeline over the camera images of a rosbag2 bag, offline and without ROS.

Writes the results as a bag (/fea/faces, /fea/micro_expressions: the node's topics, stamps of the source
images) and/or a report folder (frames.jsonl, a timeline PNG per face, summary.json, summary.md).
Bad messages are skipped and counted; the exit status is 0 when at least one frame was processed.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fea_ros.cli.common import add_config_arguments, build_config

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay", help="replay a rosbag2 bag through the pipeline (no ROS needed)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, metavar="IN_BAG", help="rosbag2 folder (sqlite3 or MCAP, any version <= 9)")
    parser.add_argument("--topic", default=None,
                        help="image topic (default: the bag's only Image/CompressedImage topic)")
    parser.add_argument("--out", type=Path, default=None, metavar="OUT_BAG", help="write the results as a new bag")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="storage of OUT_BAG (mcap)")
    parser.add_argument("--for", dest="distro", choices=("humble", "jazzy"), default="jazzy",
                        help="ROS distro that will play OUT_BAG: humble writes metadata v8, jazzy v9 (jazzy)")
    parser.add_argument("--start", default=None, metavar="T",
                        help="first message to replay (bag receive time): seconds from the bag start, or "
                             "absolute nanoseconds (>= 1e12)")
    parser.add_argument("--end", default=None, metavar="T",
                        help="stop before this receive time (same units as --start)")
    parser.add_argument("--report", type=Path, default=None, metavar="DIR",
                        help="report folder: frames.jsonl, timeline_face_<id>.png, summary.json, summary.md")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_BAG if it is an existing bag")
    parser.add_argument("--with-images", action="store_true", help="also copy the image topic into OUT_BAG")
    parser.add_argument("--landmarks", action="store_true", help="put mesh landmarks and blendshapes in frames.jsonl")
    parser.add_argument("--no-timings", action="store_true",
                        help="leave the wall-time stage timings out of frames.jsonl (reruns give identical bytes)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--prefetch", action="store_true",
                        help="decode the next images on a second thread while the pipeline works (off by default: "
                             "on the loaded 2-core test machine it was not faster, see BENCHMARKS.md)")
    add_config_arguments(parser)
    parser.set_defaults(func=replay_command)


def replay_command(args: argparse.Namespace) -> int:
    from fea_ros.bag.job import ReplayOptions, replay_bag
    from fea_ros.bag.report import SUMMARY_MD

    config = build_config(args.config, args.fast, args.threads, getattr(args, "stage_threads", None),
                          getattr(args, "frame_pipeline", None))
    options = ReplayOptions(topic=args.topic, start=args.start, end=args.end, out_bag=args.out,
                            storage=args.storage, distro=args.distro, with_images=args.with_images,
                            overwrite=args.overwrite, report=args.report, landmarks=args.landmarks,
                            timings=not args.no_timings, prefetch=args.prefetch)
    outcome = replay_bag(args.bag, config, options, progress=not args.no_progress)
    stats = outcome.stats
    print(f"processed {stats.processed} of {stats.messages_read} frames from {stats.topic} "
          f"({stats.fps:.1f} frames/s, {len(stats.face_ids)} face(s), {stats.events} event(s)); "
          f"{stats.skip_line()}")
    if stats.resets:
        print(f"stamps went back {len(stats.resets)} time(s): tracks were reset there")
    if args.out is not None:
        counts = ", ".join(f"{n} on {topic}" for topic, n in outcome.bag_counts.items())
        print(f"wrote bag {args.out} ({args.storage}, metadata v{outcome.bag_version} for {args.distro}): {counts}")
    if outcome.summary is not None:
        print(f"wrote report {args.report} (see {args.report / SUMMARY_MD})")
    sys.stdout.flush()
    return 0
