"""Which bags make up the corpus: command-line paths and --list files, folders of bags expanded.

A path is taken as one bag when it holds metadata.yaml or a storage file (.mcap/.db3), or when nothing
below it is a bag (an empty or broken folder is then reported as a failed bag, not silently dropped).
Any other folder is searched for bag folders, so `replay-many /data/bags` takes every bag under it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml

from fea_ros.bag.topics import IMAGE_TYPES
from fea_ros.fleet.errors import CorpusInputError

log = logging.getLogger(__name__)

METADATA = "metadata.yaml"
STORAGE_SUFFIXES = (".mcap", ".db3")


def is_bag_folder(path: Path) -> bool:
    try:
        return any(child.name == METADATA or child.suffix in STORAGE_SUFFIXES
                   for child in path.iterdir() if child.is_file())
    except OSError:
        return False


def expand(path: Path) -> list[Path]:
    """``path`` itself when it is (or stands for) one bag, else every bag folder below it, in name order."""
    if not path.is_dir() or is_bag_folder(path):
        return [path]
    found: list[Path] = []
    for root, dirs, _files in os.walk(path):
        dirs.sort()
        here = Path(root)
        if here != path and is_bag_folder(here):
            found.append(here)
            dirs.clear()  # a bag's own subfolders are not bags
    return found or [path]


def read_list(list_file: Path) -> list[Path]:
    """One bag path per line; blank lines and '#' comments skipped; relative paths are from the list's folder."""
    try:
        text = list_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CorpusInputError(f"cannot read the bag list '{list_file}': {exc}; give a text file with one "
                               "bag folder per line") from exc
    paths = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry).expanduser()
        paths.append(path if path.is_absolute() else list_file.parent / path)
    return paths


def collect(bags: list[Path], list_file: Path | None = None) -> list[Path]:
    """The corpus: every bag named or found, absolute, each once, in the order given."""
    given = list(bags) + (read_list(list_file) if list_file is not None else [])
    if not given:
        raise CorpusInputError("no bags given; name bag folders (or folders of bags) or give --list FILE")
    corpus: list[Path] = []
    seen: set[Path] = set()
    for path in given:
        for bag in expand(Path(os.path.abspath(path))):
            if bag not in seen:
                seen.add(bag)
                corpus.append(bag)
    return corpus


def estimated_frames(bag: Path, topic: str | None = None) -> int:
    """Image messages metadata.yaml announces (for the progress bar); 0 when it cannot tell."""
    folder = bag.parent if bag.is_file() else bag
    try:
        info = yaml.safe_load((folder / METADATA).read_text(encoding="utf-8"))["rosbag2_bagfile_information"]
        total = 0
        for entry in info.get("topics_with_message_count") or []:
            meta = entry["topic_metadata"]
            if (meta["name"] == topic) if topic else (meta["type"] in IMAGE_TYPES):
                total += int(entry["message_count"])
        return total
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return 0
