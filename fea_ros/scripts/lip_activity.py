#!/usr/bin/env python3
"""How often a face's lips move while it is at rest: the statistic behind the spotter's speech check.

For each face the spotter follows, the share of frames at rest (no event open) in which a lip channel (upper
lip, lower lip, both) rose above ``speech.SPEECH_LEVEL`` noise units, over the whole clip. Talking faces
should read far above ``mie.speech_share``, still faces far below it.

    python fea_ros/scripts/lip_activity.py --videos out/real_clips            # real video, the full pipeline
    python fea_ros/scripts/lip_activity.py --benchmark out/mie_benchmark/seed-1   # synthetic neutral clips
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fea_ros.mie.spotter import _LIP_MASK, MieSpotter
from fea_ros.mie.speech import SPEECH_LEVEL


def lip_levels(spotter: MieSpotter, stamp_ns: int, out: dict[str, list[float]]) -> None:
    """Append, per face measured in this frame and at rest, its lips' largest start statistic.

    Reads the statistic the spotter stored on the frame (what its speech check counts); a frame in which an
    event started is left out, as are the frames of the event.
    """
    for face_id, track in spotter._tracks.items():
        sample = track.samples[-1] if track.samples else None
        if sample is not None and sample.stamp_ns == stamp_ns and sample.effective is not None \
                and track.frozen is None:
            out.setdefault(face_id, []).append(float(sample.effective[_LIP_MASK].max()))


def videos(folder: Path) -> dict[str, list[float]]:
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.inputs import VideoFileSource
    from fea_ros.core.pipeline import Pipeline
    from fea_ros.mie.video_spotting import list_videos

    levels: dict[str, list[float]] = {}
    for path in list_videos(folder):
        pipeline, source, faces = Pipeline(PipelineConfig()), VideoFileSource(path), {}
        assert pipeline.mie is not None
        for frame in source:
            pipeline.process(frame)
            lip_levels(pipeline.mie, frame.stamp_ns, faces)
        levels.update({f"{path.name} {face}": values for face, values in faces.items()})
    return levels


def benchmark(data: Path) -> dict[str, list[float]]:
    from fea_ros.mie.benchmark import SUBJECT, _landmarks, _read_frame, stored_faces

    levels: dict[str, list[float]] = {}
    for clip in json.loads((data / "clips.json").read_text())["clips"]:
        if not clip["neutral"]:
            continue
        folder, spotter, faces = data / "clips" / clip["name"], MieSpotter(), {}
        stored = stored_faces(folder)
        for index in range(clip["frames"]):
            stamp_ns = int(round(index * 1e9 / clip["fps"]))
            spotter.update(SUBJECT, stamp_ns, _read_frame(folder, index, clip.get("frame_ext", "jpg")),
                           _landmarks(stored(index)[SUBJECT]))
            lip_levels(spotter, stamp_ns, faces)
        levels[clip["name"]] = faces.get(SUBJECT, [])
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--videos", type=Path, help="folder of videos (fea_ros's own detector and mesh)")
    source.add_argument("--benchmark", type=Path, help="a make_mie_benchmark.py seed folder (its neutral clips)")
    args = parser.parse_args(argv)
    levels = videos(args.videos) if args.videos else benchmark(args.benchmark)
    print(f"face                                      frames at rest  lips above {SPEECH_LEVEL:g} noise units")
    for name, values in levels.items():
        share = float(np.mean(np.asarray(values) >= SPEECH_LEVEL)) if values else float("nan")
        print(f"{name:42s}  {len(values):14d}  {100 * share:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
