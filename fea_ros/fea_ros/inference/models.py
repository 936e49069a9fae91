"""The model manifest: which ONNX files ship, where they came from, and their sha256.

models/manifest.json is written by scripts/build_models.py. Models are loaded by name through it and
verified by sha256 before a backend sees them.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fea_ros.inference.errors import ModelError

REBUILD_HINT = "rebuild it with 'python fea_ros/scripts/build_models.py --only {name}' from a source checkout"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str
    sha256: str
    source: dict[str, Any]
    licence: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    normalisation: str
    precision: str = "fp32"  # "int8" for the quantised siblings (scripts/quantize_models.py)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def models_dir(override: str | os.PathLike | None = None) -> Path:
    """Where the ONNX files and manifest.json live: override (or an error), $FEA_ROS_MODELS, source tree, share/."""
    if override:  # asked for by name: never silently replaced by another folder
        chosen = Path(override).expanduser()
        if not (chosen / "manifest.json").is_file():
            what = "does not exist" if not chosen.exists() else "has no manifest.json"
            raise ModelError(
                f"models folder {chosen} {what}; point it (inference.models_dir / --models-dir) at a folder "
                "holding the ONNX models and their manifest.json, or leave it empty for the installed models")
        return chosen
    candidates: list[Path] = []
    if os.environ.get("FEA_ROS_MODELS"):
        candidates.append(Path(os.environ["FEA_ROS_MODELS"]))
    candidates.append(Path(__file__).resolve().parents[2] / "models")
    candidates.append(Path(sys.prefix) / "share" / "fea_ros" / "models")
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("fea_ros")) / "models")
    except Exception:  # ament_index is only there on a ROS install
        pass
    for candidate in candidates:
        if (candidate / "manifest.json").is_file():
            return candidate
    raise ModelError(
        "no models/manifest.json found (looked in: " + ", ".join(str(c) for c in candidates) + "). "
        "Install fea_ros with 'pip install ./fea_ros' or set FEA_ROS_MODELS to the models folder."
    )


class Manifest:
    """The parsed manifest of one models folder."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = models_dir(directory)
        manifest_path = self.directory / "manifest.json"
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                data = json.load(handle)
            self.entries = {m["name"]: ModelEntry(**m) for m in data["models"]}
            #: files that are not networks (manifest "data": name -> entry with file, sha256, source, licence)
            self.data: dict[str, dict[str, Any]] = {d["name"]: d for d in data.get("data", [])}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{manifest_path} cannot be read as a model manifest ({type(exc).__name__}: {exc}); "
                "restore it from the source checkout (git checkout fea_ros/models/manifest.json) or "
                "rebuild all models with 'python fea_ros/scripts/build_models.py'") from exc

    def entry(self, name: str) -> ModelEntry:
        if name not in self.entries:
            raise ModelError(f"model '{name}' is not in {self.directory / 'manifest.json'}; "
                             f"known: {', '.join(sorted(self.entries))}")
        return self.entries[name]

    def path(self, name: str, verify: bool = True) -> Path:
        """The verified path of a model file."""
        entry = self.entry(name)
        path = self.directory / entry.file
        if not path.is_file():
            raise ModelError(f"model file {path} is missing; " + REBUILD_HINT.format(name=name))
        if verify:
            problem = self.check(name)
            if problem:
                raise ModelError(problem)
        return path

    def check(self, name: str) -> str | None:
        """None if the file matches the manifest, else what is wrong and how to fix it."""
        entry = self.entry(name)
        path = self.directory / entry.file
        if not path.is_file():
            return f"{name}: {path} is missing; " + REBUILD_HINT.format(name=name)
        actual = sha256_of(path)
        if actual != entry.sha256:
            return (f"{name}: {path} has sha256 {actual[:16]}..., the manifest expects {entry.sha256[:16]}...; "
                    "the file is corrupt or was changed; " + REBUILD_HINT.format(name=name))
        return None

    def data_path(self, name: str) -> Path:
        """The sha256-verified path of a data file (manifest "data", e.g. face_geometry)."""
        if name not in self.data:
            raise ModelError(f"data file '{name}' is not in {self.directory / 'manifest.json'}; "
                             "rebuild it with 'python fea_ros/scripts/build_models.py --only " + name + "'")
        path = self.directory / self.data[name]["file"]
        if not path.is_file():
            raise ModelError(f"{path} is missing; " + REBUILD_HINT.format(name=name))
        actual = sha256_of(path)
        if actual != self.data[name]["sha256"]:
            raise ModelError(f"{name}: {path} has sha256 {actual[:16]}..., the manifest expects "
                             f"{self.data[name]['sha256'][:16]}...; " + REBUILD_HINT.format(name=name))
        return path
