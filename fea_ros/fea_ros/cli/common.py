"""Pieces the `fea-ros` subcommands share: building a PipelineConfig from flags and a params file."""
from __future__ import annotations

import argparse
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from fea_ros.core.config import PipelineConfig, apply_overrides
from fea_ros.core.errors import ConfigError

log = logging.getLogger(__name__)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="PARAMS.yaml",
                        help="settings file: a plain mapping (detection: {threshold: 0.6}) or a ROS 2 params file "
                             "(node: {ros__parameters: ...}) such as fea_ros/config/pipeline.yaml")
    parser.add_argument("--fast", action="store_true",
                        help="low-power configuration: short-range detector, FaceMesh v1, no blendshapes")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="ONNX Runtime intra-op threads per network (default: the config's, 1)")
    parser.add_argument("--stage-threads", type=int, default=None, choices=(1, 2),
                        help="2: the expression networks run on a second thread beside blendshapes and the MiE "
                             "spotter (default: the config's inference.stage_threads, 1)")
    parser.add_argument("--frame-pipeline", action=argparse.BooleanOptionalAction, default=None,
                        help="detect and mesh the next frame on a second thread while this frame's later stages "
                             "run (default: the config's inference.frame_pipeline, on; replay-many: off)")


def read_settings_file(path: Path) -> dict[str, Any]:
    """The pipeline settings in a YAML file; for a ROS params file, its ros__parameters (node-only keys dropped)."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"settings file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, not {type(data).__name__}")
    ros_sections = [v["ros__parameters"] for v in data.values() if isinstance(v, dict) and "ros__parameters" in v]
    if not ros_sections:
        return data
    known = {f.name for f in fields(PipelineConfig)}
    merged: dict[str, Any] = {}
    for section in ros_sections:
        for key, value in (section or {}).items():
            if key.partition(".")[0] in known:
                merged[key] = value
            else:
                log.debug("%s: '%s' is a node parameter, not a pipeline setting; not used here", path, key)
    return merged


def build_config(config_path: Path | None, fast: bool, threads: int | None,
                 stage_threads: int | None = None, frame_pipeline: bool | None = None) -> PipelineConfig:
    """Defaults, then the settings file, then --fast (it wins over the file's models), then --threads."""
    config = PipelineConfig()
    if config_path is not None:
        apply_overrides(config, read_settings_file(config_path))
    if fast:
        preset = PipelineConfig.fast()
        config.detection.detector = preset.detection.detector
        config.landmarks.model = preset.landmarks.model
        config.blendshapes = preset.blendshapes
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {threads}")
        config.inference.threads = threads
    if stage_threads is not None:
        config.inference.stage_threads = stage_threads
    if frame_pipeline is not None:
        config.inference.frame_pipeline = frame_pipeline
    return config
