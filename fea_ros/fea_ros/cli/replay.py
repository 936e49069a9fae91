"""`fea-ros replay IN_BAG`: run the pipeline over the camera images of a rosbag2 bag, offline and without ROS.

Writes the results as a bag (/fea/faces, /fea/micro_expressions: the node's topics, stamps of the source
images) and/or a report folder (frames.jsonl, a timeline PNG per face, summary.json, summary.md).
Bad messages are skipped and counted; the exit status is 0 when at least one frame was processed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from fea_ros.cli.common import add_config_arguments, build_config
from fea_ros.core.errors import ConfigError

if TYPE_CHECKING:
    from fea_ros.bag.reader import BagImageReader
    from fea_ros.bag.replay import ReplayStats

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
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--prefetch", action="store_true",
                        help="decode the next images on a second thread while the pipeline works (off by default: "
                             "on the loaded 2-core test machine it was not faster, see BENCHMARKS.md)")
    add_config_arguments(parser)
    parser.set_defaults(func=replay_command)


def _nothing_processed(stats: ReplayStats, reader: BagImageReader) -> str:
    if stats.messages_read == 0:
        window = "" if reader.start_ns is None and reader.end_ns is None else " inside --start/--end"
        return (f"no message on {reader.topic}{window} (the topic has {reader.message_count} in the whole bag); "
                "check --topic, --start and --end against `ros2 bag info`")
    return (f"none of the {stats.messages_read} messages on {reader.topic} could be used ({stats.skip_line()}); "
            "see the log above for each reason")


def replay_command(args: argparse.Namespace) -> int:
    from fea_ros.bag.errors import NothingToReplayError
    from fea_ros.bag.reader import BagImageReader
    from fea_ros.bag.replay import replay
    from fea_ros.bag.report import SUMMARY_MD, ReplayReport
    from fea_ros.bag.writer import ResultBagWriter
    from fea_ros.core.pipeline import Pipeline

    if args.with_images and args.out is None:
        raise ConfigError("--with-images copies the images into the output bag; give --out OUT_BAG too")
    config = build_config(args.config, args.fast, args.threads, getattr(args, "stage_threads", None))
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(BagImageReader(args.bag, args.topic, args.start, args.end))
        log.info("replaying %s (%s, %d messages) from %s", reader.topic, reader.msgtype, reader.message_count,
                 reader.path)
        sinks = []
        writer = None
        if args.out is not None:
            writer = stack.enter_context(ResultBagWriter(
                args.out, args.storage, args.distro,
                image_topic=reader.topic if args.with_images else None,
                image_msgtype=reader.msgtype if args.with_images else None,
                custom_data={"fea_ros.source_bag": str(reader.path.name), "fea_ros.source_topic": reader.topic,
                             "fea_ros.config": json.dumps(asdict(config), sort_keys=True)},
                overwrite=args.overwrite))
            sinks.append(writer)
        report = stack.enter_context(ReplayReport(args.report, args.landmarks)) if args.report else None
        if report is not None:
            sinks.append(report)
        pipeline = Pipeline(config)
        stats = replay(reader, pipeline, sinks, progress=not args.no_progress,
                       prefetch_depth=2 if args.prefetch else 0)
        if writer is not None:
            writer.close()
        outputs = {"bag": str(args.out)} if args.out is not None else {}
        summary = report.finish(stats, outputs) if report is not None else None
        if stats.processed == 0:
            raise NothingToReplayError(_nothing_processed(stats, reader))
    print(f"processed {stats.processed} of {stats.messages_read} frames from {stats.topic} "
          f"({stats.fps:.1f} frames/s, {len(stats.face_ids)} face(s), {stats.events} event(s)); "
          f"{stats.skip_line()}")
    if stats.resets:
        print(f"stamps went back {len(stats.resets)} time(s): tracks were reset there")
    if writer is not None:
        counts = ", ".join(f"{n} on {topic}" for topic, n in writer.counts.items())
        print(f"wrote bag {args.out} ({args.storage}, metadata v{writer.version} for {args.distro}): {counts}")
    if summary is not None:
        print(f"wrote report {args.report} (see {args.report / SUMMARY_MD})")
    sys.stdout.flush()
    return 0
