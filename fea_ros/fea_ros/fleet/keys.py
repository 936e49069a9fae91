"""Result keys: a bag's content hash + the run's config hash name its result folder, so nothing runs twice.

The content hash is SHA-256 over the bag folder's files (name, size, bytes), so a bag copied or moved keeps
its key and two copies of one recording are replayed once. Hashing reads every byte; a stat cache
(name, size, mtime per file) in the output folder spares a rerun from reading unchanged bags again.
"""
from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import PackageNotFoundError, version
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fea_ros.core.config import PipelineConfig

CHUNK = 1 << 20
KEY_CONTENT_CHARS = 16
KEY_CONFIG_CHARS = 12


def fea_ros_version() -> str:
    """The installed fea_ros version (results of another version are not reused)."""
    try:
        return version("fea_ros")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def _bag_files(bag: Path) -> list[Path]:
    if bag.is_file():
        return [bag]
    return sorted(p for p in bag.iterdir() if p.is_file())


def _signature(files: list[Path]) -> list[list[Any]]:
    signature: list[list[Any]] = []
    for path in files:
        stat = path.stat()
        signature.append([path.name, stat.st_size, stat.st_mtime_ns])
    return signature


def hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


class ContentHasher:
    """Content hashes of bags, remembered in a JSON stat cache between runs."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file
        self._cache: dict[str, dict[str, Any]] = {}
        self.hashed = 0  # bags whose bytes were read in this run
        if cache_file is not None and cache_file.is_file():
            try:
                self._cache = json.loads(cache_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._cache = {}  # a damaged cache only costs a re-hash

    def content_hash(self, bag: Path) -> str:
        files = _bag_files(bag)
        signature = _signature(files)
        entry = self._cache.get(str(bag))
        if entry is not None and entry.get("files") == signature:
            return str(entry["sha256"])
        digest = hash_files(files)
        self.hashed += 1
        self._cache[str(bag)] = {"files": signature, "sha256": digest}
        return digest

    def save(self) -> None:
        if self.cache_file is None:
            return
        temporary = self.cache_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._cache, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.cache_file)


def config_hash(config: PipelineConfig, options: dict[str, Any]) -> str:
    """Everything that changes a bag's results: the fea_ros version, the pipeline settings, the replay options."""
    payload = {"fea_ros": fea_ros_version(), "config": asdict(config), "options": options}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def result_key(content: str, config: str) -> str:
    return f"{content[:KEY_CONTENT_CHARS]}-{config[:KEY_CONFIG_CHARS]}"
