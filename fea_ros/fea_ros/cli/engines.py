"""`fea-ros engines build|list`: prebuild the TensorRT engines so a launch never waits, and show the cache.

    fea-ros engines build                      # every shipped model, FP16, into ~/.cache/fea_ros/engines
    fea-ros engines build --precision int8 --calibration-dir faces/ --models fer_minixception_64
    fea-ros engines list                       # works without TensorRT: reads the cache folder

Building needs TensorRT and pycuda on a machine with an NVIDIA GPU (a Jetson); engines are specific to the
TensorRT version and GPU they were built with, so build them on the robot itself.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fea_ros.cli.common import add_config_arguments, build_config
from fea_ros.core.config import InferenceConfig
from fea_ros.core.errors import ConfigError
from fea_ros.inference.engine_cache import PRECISIONS, EngineCache
from fea_ros.inference.errors import BackendError
from fea_ros.inference.tensorrt_engine import TensorRTEngine

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("engines", help="prebuild or list the TensorRT engine cache",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="engines_command", required=True)
    build = actions.add_parser("build", help="build (or verify cached) engines for the shipped models")
    add_config_arguments(build)
    build.add_argument("--precision", choices=PRECISIONS, default=None,
                       help="engine precision (default: the config's inference.precision, fp16)")
    build.add_argument("--models", default="", metavar="NAME,...",
                       help="comma-separated model names (default: every model in the manifest)")
    build.add_argument("--dla-core", type=int, default=None, metavar="N", help="build for DLA core N (Jetson)")
    build.add_argument("--calibration-dir", type=Path, default=None, metavar="DIR",
                       help="INT8: folder of face images to calibrate with")
    build.add_argument("--max-batch", type=int, default=None, metavar="N",
                       help="largest batch (faces per call) of the batched networks (default 8)")
    _add_cache_argument(build)
    build.set_defaults(func=build_command)
    listing = actions.add_parser("list", help="show the cached engines (no TensorRT needed)")
    add_config_arguments(listing)
    _add_cache_argument(listing)
    listing.set_defaults(func=list_command)


def _add_cache_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="engine cache folder (default: inference.engine_cache_dir, "
                             "else ~/.cache/fea_ros/engines)")
    parser.add_argument("--models-dir", type=Path, default=None, metavar="DIR", help="ONNX models folder")


def _inference_config(args: argparse.Namespace) -> InferenceConfig:
    config = build_config(args.config, args.fast, args.threads).inference
    if args.cache_dir is not None:
        config.engine_cache_dir = str(args.cache_dir)
    if args.models_dir is not None:
        config.models_dir = str(args.models_dir)
    for option, setting in (("precision", "precision"), ("dla_core", "dla_core"),
                            ("calibration_dir", "int8_calibration_dir"), ("max_batch", "max_batch")):
        value = getattr(args, option, None)
        if value is not None:
            setattr(config, setting, str(value) if isinstance(value, Path) else value)
    if config.max_batch < 1:
        raise ConfigError(f"--max-batch must be at least 1, got {config.max_batch}")
    return config


def build_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fea_ros.inference.factory import create_engine
    from fea_ros.inference.models import Manifest
    from fea_ros.inference.tensorrt_engine import unavailable_reason

    config = _inference_config(args)
    problem = unavailable_reason()
    if problem:
        raise BackendError(f"cannot build TensorRT engines: {problem}")
    manifest = Manifest(config.models_dir or None)
    # the int8 QDQ files are ONNX Runtime's; TensorRT builds its engines from the fp32 files
    names = [n.strip() for n in args.models.split(",") if n.strip()] or \
        [n for n, e in manifest.entries.items() if e.precision != "int8"]
    for name in names:
        manifest.entry(name)  # an unknown name fails here, before any build
    failures: list[str] = []
    bar = tqdm(names, desc=f"engines ({config.precision})", unit="model")
    for name in bar:
        bar.set_postfix_str(name)
        try:
            engine = create_engine(name, config, manifest, backend="tensorrt")
        except BackendError as exc:
            message = str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
            failures.append(message)
            tqdm.write(f"FAILED {message}")
            continue
        assert isinstance(engine, TensorRTEngine)  # backend="tensorrt" was asked for
        size_mb = engine.engine_path.stat().st_size / 1e6
        tqdm.write(f"{name}: {engine.cache_event} {engine.engine_path} ({size_mb:.1f} MB)")
        engine.close()
    if failures:
        print(f"{len(failures)} of {len(names)} engines failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"{len(names)} engines ready in {EngineCache(config.engine_cache_dir or None).directory}")
    return 0


def list_command(args: argparse.Namespace) -> int:
    config = _inference_config(args)
    cache = EngineCache(config.engine_cache_dir or None)
    entries = cache.entries()
    if not entries:
        print(f"no engines cached in {cache.directory}; build them with 'fea-ros engines build'")
        return 0
    header = ("model", "precision", "device", "TensorRT", "GPU", "size MB", "built (UTC)", "file")
    rows = []
    for entry in entries:
        key = entry.key
        if key is None:
            rows.append(("?", "?", "?", "?", "?", f"{entry.size_bytes / 1e6:.1f}", entry.created, entry.path.name))
            continue
        device = f"DLA{key.dla_core}" if key.dla_core is not None else "GPU"
        gpu = f"{key.gpu_name} (sm {key.compute_capability})"
        rows.append((key.model, key.precision, device, key.trt_version, gpu, f"{entry.size_bytes / 1e6:.1f}",
                     entry.created.replace("+00:00", ""), entry.path.name))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"{len(entries)} engines, {sum(e.size_bytes for e in entries) / 1e6:.1f} MB in {cache.directory}")
    return 0
