"""The labels file of `fea-ros evaluate expression`: a CSV with a header row holding `path` and `label`.

Paths are relative to --root (default: the CSV's folder) or absolute; each names an image or a short video.
Labels are fea_ros's seven (neutral, happy, sad, angry, fearful, disgusted, surprised); the usual noun forms
(anger, happiness, fear, ...) are accepted too. Rows with any other label (e.g. contempt) are counted by label
and skipped, as are rows whose file does not exist.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.expression_eval.errors import LabelsFileError

#: other spellings of the seven labels (FER2013, AffectNet, RAF-DB and the expression-dev legend use these)
ALIASES: dict[str, str] = {
    "anger": "angry", "disgust": "disgusted", "fear": "fearful", "happiness": "happy", "joy": "happy",
    "sadness": "sad", "surprise": "surprised", "neutrality": "neutral",
}


@dataclass(frozen=True)
class LabelledItem:
    path: Path
    label: int  # index into EXPRESSION_LABELS
    name: str  # the path as written in the CSV (reports use it, not the absolute path)


@dataclass
class LabelsFile:
    items: list[LabelledItem]
    other_labels: Counter = field(default_factory=Counter)  # label -> rows skipped for not being one of the seven
    missing_files: list[str] = field(default_factory=list)


def canonical_label(text: str) -> str | None:
    """The fea_ros label for a label as written, or None if it is not one of the seven."""
    word = text.strip().lower()
    word = ALIASES.get(word, word)
    return word if word in EXPRESSION_LABELS else None


def read_labels(csv_path: str | Path, root: str | Path | None = None) -> LabelsFile:
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise LabelsFileError(f"labels file {csv_path} does not exist; give a CSV with the columns path,label")
    root = Path(root) if root is not None else csv_path.parent
    if not root.is_dir():
        raise LabelsFileError(f"--root {root} is not a folder; give the folder the CSV's paths are relative to")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name for name in reader.fieldnames or []}
        if "path" not in columns or "label" not in columns:
            raise LabelsFileError(f"{csv_path} needs a header row with the columns path,label; it has "
                                  f"{reader.fieldnames or 'no header'}")
        result = LabelsFile(items=[])
        for row in reader:
            written = (row.get(columns["path"]) or "").strip()
            raw_label = (row.get(columns["label"]) or "").strip()
            if not written:
                continue
            label = canonical_label(raw_label)
            if label is None:
                result.other_labels[raw_label or "(empty)"] += 1
                continue
            path = Path(written) if Path(written).is_absolute() else root / written
            if not path.is_file():
                result.missing_files.append(written)
                continue
            result.items.append(LabelledItem(path, EXPRESSION_LABELS.index(label), written))
    if not result.items:
        raise LabelsFileError(f"{csv_path} has no usable row: {len(result.missing_files)} missing file(s), other "
                              f"labels {dict(result.other_labels)}; labels must be one of "
                              f"{', '.join(EXPRESSION_LABELS)}")
    return result
