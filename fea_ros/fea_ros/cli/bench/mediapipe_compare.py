"""`fea-ros bench --mediapipe`: MediaPipe's detection + mesh on the same clips, beside fea_ros's rows."""
from __future__ import annotations

from pathlib import Path

from fea_ros.cli.bench.clips import CLIPS
from fea_ros.cli.bench.report import Row, format_table
from fea_ros.core.errors import InputError


def mediapipe_report(rows: list[Row], samples: Path, markdown: bool) -> str:
    """MediaPipe's detection + mesh on the same clips (own venv), and fea_ros's fps as a share of it."""
    script = Path(__file__).resolve().parents[3] / "scripts" / "mediapipe_bench.py"
    if not script.is_file():
        raise InputError(f"{script} is missing: --mediapipe needs a source checkout of fea_ros")
    import importlib.util

    spec = importlib.util.spec_from_file_location("fea_ros_mediapipe_bench", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    clips = sorted({row.clip for row in rows}, key=list(CLIPS).index)
    measured = module.measure(clips, [1, 2], samples_dir=samples)
    lines = [module.table(measured), ""]
    header = ["clip", "fea_ros config", "fea_ros fps", "MediaPipe fps (2 cores)", "fea_ros / MediaPipe fps",
              "fea_ros CPU ms/frame", "MediaPipe CPU ms/frame", "MediaPipe / fea_ros CPU time"]
    body = []
    for row in rows:
        reference = next((m for m in measured if m["clip"] == row.clip and m["cores"] == 2), None)
        if reference is not None:
            cpu = sum(row.data["cpu_ms"]) / max(1, row.data["frames"])
            body.append([row.clip, row.config, f"{row.fps:.1f}", f"{reference['fps']:.1f}",
                         f"{row.fps / reference['fps']:.2f}", f"{cpu:.2f}", f"{reference['cpu_ms']:.2f}",
                         f"{reference['cpu_ms'] / cpu:.2f}"])
    lines.append(format_table(header, body, markdown))
    return "\n".join(lines)
