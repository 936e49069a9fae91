"""The bundled sample clips `fea-ros bench` runs, and the configurations it runs them in."""
from __future__ import annotations

from pathlib import Path

#: samples/ beside the fea_ros package folder, in a source checkout
SAMPLES_DIR = Path(__file__).resolve().parents[3] / "samples"
CLIPS = {"face1": "face1.mp4", "faces3": "faces3.mp4"}
CONFIGS = ("full", "fast")
