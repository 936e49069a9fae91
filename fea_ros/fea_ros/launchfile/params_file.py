"""The pipeline_node parameters of a ROS 2 params file, for the node in any namespace, as rcl reads them.

A params file maps node names to ``ros__parameters``. Every section whose name matches the node applies:

- wildcard names: ``/**`` (every node), ``/**/pipeline_node``, ``/*/pipeline_node``, ``/cam_left/*``; ``*`` is
  one namespace token, ``**`` any number of them (ROS's rule, design article 160);
- ``pipeline_node`` without a leading slash: the node in *any* namespace. This is the launch file's own reading,
  so one file (the shipped config/pipeline.yaml) serves every camera; ``ros2 run --params-file`` reads the same
  key as ``/pipeline_node``, the root namespace only;
- the node's fully qualified name, ``/cam_left/pipeline_node``, also written nested
  (``cam_left: {pipeline_node: {ros__parameters: ...}}``).

Sections merge from the least to the most specific: wildcards (fewer literal tokens first), then
``pipeline_node``, then the exact name; in file order within a level. Humble's rclpy applies ``/**`` and then
the exact name; Jazzy's (rclpy#987) applies every matching section in file order: both give this result for the
usual layout, wildcards first.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fea_ros.launchfile.errors import LaunchConfigError
from fea_ros.launchfile.names import NODE_NAME
from fea_ros.ros.params import (ParameterSpec, UnknownParameter, closest_name, flatten, known_parameter_names,
                                parameter_specs, unknown_parameters)

PARAMS_KEY = "ros__parameters"


@dataclass(frozen=True)
class Section:
    key: str  # as written (nested keys joined with '/')
    parameters: dict[str, Any]  # dotted names


@dataclass(frozen=True)
class NodeParameters:
    values: dict[str, Any]  # dotted name -> value, merged
    sections: tuple[str, ...]  # the keys applied, in the order applied


def sections(data: Mapping[str, Any]) -> list[Section]:
    """Every ``<node name>: ros__parameters:`` section, nested namespaces joined, in file order."""
    return [Section(key, flatten(parameters)) for key, parameters in _walk(data, "")]


def _walk(tree: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in tree.items():
        if not isinstance(value, dict) or key == PARAMS_KEY:
            continue
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value.get(PARAMS_KEY), dict):
            yield name, value[PARAMS_KEY]
        yield from _walk(value, name)


def _name_pattern(name: str) -> re.Pattern[str]:
    tokens = name.split("/")[1:]
    parts = ["(?:/[^/]+)*" if token == "**" else "/[^/]+" if token == "*" else "/" + re.escape(token)
             for token in tokens]
    return re.compile("".join(parts))


def _rank(key: str, fqn: str) -> tuple[int, int] | None:
    """Merge order of a section for node ``fqn`` (lower first), or None when it does not apply."""
    if key == NODE_NAME:
        return (1, 0)
    name = key if key.startswith("/") else "/" + key  # rcl anchors relative names at the root
    if not _name_pattern(name).fullmatch(fqn):
        return None
    if "*" in name:
        return (0, sum(1 for token in name.split("/")[1:] if token not in ("*", "**")))
    return (2, 0)


def node_parameters(data: Mapping[str, Any], fqn: str, source: str = "params file") -> NodeParameters:
    """Merge every section of a parsed params file that applies to node ``fqn``."""
    found = sections(data)
    ranked = [(rank, section) for section in found if (rank := _rank(section.key, fqn)) is not None]
    if not ranked:
        keys = ", ".join(section.key for section in found) or "none"
        raise LaunchConfigError(
            f"{source} has no parameters for node {fqn} (its sections: {keys}); key them by "
            f"'{NODE_NAME}:' (any namespace), '{fqn}:' or '/**:', each with 'ros__parameters:' under it")
    values: dict[str, Any] = {}
    applied = []
    for _, section in sorted(ranked, key=lambda item: item[0]):  # stable: file order within a level
        values.update(section.parameters)
        applied.append(section.key)
    return NodeParameters(values, tuple(applied))


def load_node_parameters(path: str | Path, fqn: str) -> NodeParameters:
    file = Path(path)
    if not file.is_file():
        raise LaunchConfigError(f"params_file {file} does not exist; give a parameters YAML such as the "
                                "installed config/pipeline.yaml, or leave params_file empty to use it")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LaunchConfigError(f"params_file {file} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise LaunchConfigError(f"params_file {file} must map node names to 'ros__parameters:' sections")
    return node_parameters(data, fqn, f"params_file {file}")


def with_declared_types(values: Mapping[str, Any],
                        specs: Iterable[ParameterSpec] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Integers given for double parameters become floats (ROS rejects `20` for a double); the names changed."""
    floats = {spec.name for spec in (parameter_specs() if specs is None else specs)
              if isinstance(spec.default, float)}
    changed = [name for name, value in values.items() if name in floats and type(value) is int]
    return {name: float(value) if name in changed else value for name, value in values.items()}, changed


__all__ = ["NodeParameters", "Section", "UnknownParameter", "closest_name", "known_parameter_names",
           "load_node_parameters", "node_parameters", "sections", "unknown_parameters", "with_declared_types"]
