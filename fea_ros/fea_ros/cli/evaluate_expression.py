"""`fea-ros evaluate expression LABELS.csv`: the pipeline's expression accuracy on labelled faces."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fea_ros.cli.common import add_config_arguments, build_config
from fea_ros.expression_eval.runner import CROP_MODES, DEFAULT_PAD, evaluate_expression

DESCRIPTION = """\
Run the real pipeline (face mesh, blendshapes if the configuration has them - the expression fusion reads
them -, expression stage, and the detector with --crop detect) over a CSV of path,label rows (images or short videos; labels: neutral, happy, sad, angry, fearful, disgusted, surprised;
other labels are counted and skipped) and print accuracy, balanced accuracy, macro-F1, expected calibration
error and per-class precision/recall, for the ensemble and for each network alone.

--crop whole: each image is one tight face crop (the whole image is the face box; no detector).
--crop detect: a black border (--pad x the longer side) is added and the detector finds the face; images
               where it finds none are reported as not found and left out of the scores.

With --out DIR: report.json, report.txt, predictions.csv, confusion.png and examples.png (the most confused,
slowest and not-found faces: a picture of your images, written only there)."""


def add_expression_parser(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("expression", help="expression accuracy on labelled faces (CSV of path,label)",
                                description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", type=Path, metavar="LABELS.csv", help="CSV with a header row: path,label")
    parser.add_argument("--root", type=Path, default=None,
                        help="folder the CSV's paths are relative to (default: the CSV's folder)")
    parser.add_argument("--out", type=Path, default=None, help="write the report, tables and pictures here")
    parser.add_argument("--crop", choices=CROP_MODES, default="whole",
                        help="whole: the image is the face crop; detect: pad and detect (default whole)")
    parser.add_argument("--pad", type=float, default=DEFAULT_PAD,
                        help=f"--crop detect: border on each side, fraction of the longer side (default {DEFAULT_PAD})")
    parser.add_argument("--examples", type=int, default=12, help="faces per contact-sheet section (default 12)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    add_config_arguments(parser)
    parser.set_defaults(func=expression_command)


def expression_command(args: argparse.Namespace) -> int:
    from fea_ros.expression_eval.report import format_text

    config = build_config(args.config, args.fast, args.threads)
    report = evaluate_expression(args.labels, root=args.root, out=args.out, crop=args.crop, config=config,
                                 pad=args.pad, examples=args.examples)
    print(json.dumps(report.as_dict(), indent=1) if args.json else format_text(report))
    if args.out is not None:
        print(f"\nwritten to {args.out}: report.json report.txt predictions.csv confusion.png examples.png")
    return 0
