"""inference.stage_threads 2 (expression nets on a second thread) and batched faces change nothing in the results."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.inputs import VideoFileSource
from fea_ros.core.pipeline import Pipeline

CLIP = Path(__file__).resolve().parents[1] / "samples" / "faces3.mp4"


def run(stage_threads: int, frames: int = 45) -> list:
    config = PipelineConfig()
    config.inference.stage_threads = stage_threads
    pipeline = Pipeline(config)
    results = []
    with VideoFileSource(CLIP) as source:
        for frame in source:
            if frame.index >= frames:
                break
            results.append(pipeline.process(frame))
    return results


def test_two_stage_threads_give_the_same_results_as_one() -> None:
    serial, parallel = run(1), run(2)
    assert sum(len(r.faces) for r in serial) > 60  # three faces in most frames
    for a, b in zip(serial, parallel):
        assert [f.face_id for f in a.faces] == [f.face_id for f in b.faces]
        for fa, fb in zip(a.faces, b.faces):
            assert fa.expression == fb.expression
            np.testing.assert_array_equal(fa.raw_scores, fb.raw_scores)
            np.testing.assert_array_equal(fa.landmarks.points, fb.landmarks.points)
            np.testing.assert_array_equal(fa.action_units.blendshapes, fb.action_units.blendshapes)
        assert [(e.face_id, e.onset_ns) for e in a.events] == [(e.face_id, e.onset_ns) for e in b.events]
        assert b.timings_ms["expression"] > 0.0 or not b.faces


def test_one_batched_call_equals_one_call_per_face() -> None:
    config = PipelineConfig()
    pipeline = Pipeline(config)
    with VideoFileSource(CLIP) as source:
        frames = [frame for frame in source if frame.index < 12]
    result = None
    for frame in frames:
        result = pipeline.process(frame)
    assert result is not None and len(result.faces) == 3
    from fea_ros.core.landmarks import roi_from_landmarks

    rois = [roi_from_landmarks(f.landmarks.points, config.landmarks.crop_scale) for f in result.faces]
    batched = pipeline.mesh.many(frames[-1].image, rois)
    single = [pipeline.mesh(frames[-1].image, roi) for roi in rois]
    assert not pipeline.mesh.batched  # ONNX Runtime CPU: one call per face pays there
    pipeline.mesh.batched = True  # as on a GPU: one call for all faces
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a.points, b.points, atol=1e-3)
        assert a.presence == pytest.approx(b.presence, abs=1e-5)
    units = pipeline.blendshapes.many([f.landmarks.points for f in result.faces])
    for face, unit in zip(result.faces, units):
        np.testing.assert_allclose(unit.blendshapes, pipeline.blendshapes(face.landmarks.points).blendshapes,
                                   atol=1e-4)  # batched MatMul sums in another order


def test_stage_threads_must_be_one_or_two() -> None:
    config = PipelineConfig()
    config.inference.stage_threads = 3
    with pytest.raises(ConfigError, match="stage_threads"):
        Pipeline(config)
