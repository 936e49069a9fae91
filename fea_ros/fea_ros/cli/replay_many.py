"""`fea-ros replay-many BAGS... | --list FILE`: replay a corpus of bags on Ray and write one corpus report.

Each bag goes through the code path of `fea-ros replay` (image topic found per bag), one Ray task per bag, on
a local Ray (default: one worker per CPU core) or an existing cluster (--ray-address HEAD:6379). OUT gets
results/<bag hash>-<config hash>/ per recording and corpus_report.{json,md,png}; a rerun replays only what is
not done. --compare OTHER diffs this report against another one (label agreement, events, speed); with no
bags it compares the report already in OUT. Exit status: 0 all bags done, 1 some failed, 2 nothing ran.
See docs/fleet.md.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fea_ros.cli.common import add_config_arguments, build_config
from fea_ros.core.errors import ConfigError

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay-many", help="replay a corpus of bags on Ray, one corpus report",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bags", type=Path, nargs="*", metavar="BAG",
                        help="bag folders, or folders holding bag folders (searched recursively)")
    parser.add_argument("--list", dest="list_file", type=Path, metavar="FILE",
                        help="text file with one bag path per line (# comments; relative to the file)")
    parser.add_argument("--out", type=Path, default=Path("fea_corpus"), metavar="DIR",
                        help="output folder, on storage every Ray node sees (default: fea_corpus)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="local Ray with N worker processes (default: one per CPU core)")
    where.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="use the running Ray cluster at ADDR (e.g. 10.0.0.5:6379, or 'auto' on a node of it)")
    parser.add_argument("--compare", type=Path, default=None, metavar="OTHER_REPORT",
                        help="diff against another corpus report (its corpus_report.json or its --out folder)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="replay again the bags an earlier run reported as failed")
    parser.add_argument("--topic", default=None, help="image topic (default: each bag's only image topic)")
    parser.add_argument("--start", default=None, metavar="T", help="as `fea-ros replay --start`, for every bag")
    parser.add_argument("--end", default=None, metavar="T", help="as `fea-ros replay --end`, for every bag")
    parser.add_argument("--no-bag", action="store_true", help="write no result bag per bag (reports only)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="storage of the result bags")
    parser.add_argument("--for", dest="distro", choices=("humble", "jazzy"), default="jazzy",
                        help="ROS distro that will play the result bags (jazzy)")
    parser.add_argument("--landmarks", action="store_true", help="put mesh landmarks and blendshapes in frames.jsonl")
    parser.add_argument("--no-timings", action="store_true",
                        help="leave the wall-time stage timings out of frames.jsonl (reruns give identical bytes)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_arguments(parser)
    parser.set_defaults(func=replay_many_command)


def _compare(out: Path, other: Path) -> None:
    from fea_ros.fleet.compare import COMPARE_MD, compare_reports, load_report, write_comparison

    reference, reference_folder = load_report(other)
    current, current_folder = load_report(out)
    diff = compare_reports(reference, reference_folder, current, current_folder)
    write_comparison(diff, out)
    overall = diff["overall"]
    agreement = "-" if overall["agreement"] is None else f"{overall['agreement']:.1%}"
    print(f"compared with {other}: label agreement {agreement} over {overall['faces_paired']} face-frames, "
          f"MICRO {overall['events']['MICRO'][0]} -> {overall['events']['MICRO'][1]}, "
          f"MACRO {overall['events']['MACRO'][0]} -> {overall['events']['MACRO'][1]}, "
          f"speed B/A {overall['speed_ratio']}; see {out / COMPARE_MD}")


def replay_many_command(args: argparse.Namespace) -> int:
    from fea_ros.bag.job import ReplayOptions
    from fea_ros.fleet.corpus import collect
    from fea_ros.fleet.report import REPORT_MD
    from fea_ros.fleet.runner import CorpusSettings, run_corpus

    if not args.bags and args.list_file is None and args.compare is not None:
        _compare(args.out, args.compare)  # no corpus given: compare the report already in --out
        return 0
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    config = build_config(args.config, args.fast, args.threads)
    # a fleet fills every core with a bag of its own, so a second thread per bag only adds hand-overs
    config.inference.frame_pipeline = bool(getattr(args, "frame_pipeline", None))
    options = ReplayOptions(topic=args.topic, start=args.start, end=args.end, storage=args.storage,
                            distro=args.distro, landmarks=args.landmarks, timings=not args.no_timings)
    settings = CorpusSettings(out=args.out, config=config, options=options, write_bag=not args.no_bag,
                              retry_failed=args.retry_failed, workers=args.workers, ray_address=args.ray_address,
                              progress=not args.no_progress)
    report = run_corpus(collect(args.bags, args.list_file), settings)
    overall = report["overall"]
    bags, processing = overall["bags"], overall["processing"]
    print(f"{bags['done']} of {bags['given']} bag(s) done ({bags['resumed']} from an earlier run), "
          f"{bags['failed']} failed; {overall['frames']['processed']} frames, {overall['faces']} face track(s), "
          f"{overall['events']['MICRO']} MICRO and {overall['events']['MACRO']} MACRO event(s)")
    if processing["bags_replayed"]:
        print(f"replayed {processing['bags_replayed']} bag(s) ({processing['frames_replayed']} frames) in "
              f"{processing['run_wall_s']} s on {processing['workers']} worker(s)")
    for failure in overall["failed"]:
        print(f"failed: {failure['bag']}: {failure['type']}: {failure['message']}")
    print(f"wrote report {args.out / REPORT_MD}")
    if args.compare is not None:
        _compare(args.out, args.compare)
    sys.stdout.flush()
    if bags["done"] == 0:
        return 2
    return 1 if bags["failed"] else 0
