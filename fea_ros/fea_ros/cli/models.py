"""`fea-ros models verify|list`: check the shipped ONNX files against manifest.json, or list them.

`verify` exits 1 if any model file is missing or its sha256 differs from the manifest, and says how to rebuild it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fea_ros.inference.errors import ModelError
from fea_ros.inference.models import Manifest


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="verify or list the ONNX models (manifest.json)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", default=None, metavar="DIR",
                        help="folder with manifest.json (default: $FEA_ROS_MODELS, the source tree, the install)")
    actions = parser.add_subparsers(dest="models_action", required=True)
    verify = actions.add_parser("verify", help="check every model's sha256 against the manifest (exit 1 if wrong)")
    verify.set_defaults(func=verify_command)
    listing = actions.add_parser("list", help="name, size, inputs/outputs and source of every model")
    listing.set_defaults(func=list_command)


def load_manifest(models_dir: str | None) -> Manifest:
    """The manifest of --models-dir (which must hold one: no silent fallback to another folder) or the default."""
    if models_dir is not None and not (Path(models_dir) / "manifest.json").is_file():
        raise ModelError(f"{models_dir} has no manifest.json; point --models-dir at a models folder "
                         "(fea_ros/models in a checkout) or rebuild it with fea_ros/scripts/build_models.py")
    return Manifest(models_dir)


def verify_command(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.models_dir)
    problems = []
    for name in manifest.entries:
        problem = manifest.check(name)
        if problem:
            problems.append(problem)
            print(f"FAIL {problem}")
        else:
            print(f"ok   {name} ({manifest.entry(name).sha256[:16]}...)")
    print(f"{len(manifest.entries) - len(problems)}/{len(manifest.entries)} models match {manifest.directory}"
          "/manifest.json")
    for name in manifest.data:  # data files (face_geometry.json): sha256 too
        try:
            manifest.data_path(name)
            print(f"ok   {name} ({manifest.data[name]['sha256'][:16]}...)")
        except ModelError as exc:
            problems.append(str(exc))
            print(f"FAIL {exc}")
    return 1 if problems else 0


def _shapes(tensors: list[dict]) -> str:
    return ", ".join(f"{t['name']}[{','.join(str(d) for d in t['shape'])}]" for t in tensors)


def list_command(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.models_dir)
    rows = [("model", "MB", "inputs", "outputs", "source")]
    for name, entry in manifest.entries.items():
        path = manifest.directory / entry.file
        size = f"{path.stat().st_size / 1e6:.2f}" if path.is_file() else "missing"
        source = f"{entry.source.get('package', '?')} {entry.source.get('version', '?')}"
        rows.append((name, size, _shapes(entry.inputs), _shapes(entry.outputs), source))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"({manifest.directory})")
    return 0
