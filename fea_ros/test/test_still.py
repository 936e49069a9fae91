"""Still images: Pipeline.process_image reports every face at once, from one image, with no state kept."""
from __future__ import annotations

import numpy as np
import pytest

from core_scenes import Placement, astronaut_bgr, render
from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import InputError
from fea_ros.core.pipeline import STAGES, Pipeline
from fea_ros.core.types import Frame


@pytest.fixture(scope="module")
def full() -> Pipeline:
    return Pipeline(PipelineConfig())


def test_astronaut_photo_gives_one_happy_face_at_once(full):
    result = full.process_image(astronaut_bgr(), frame_id="astronaut.png", index=3)
    assert (result.width, result.height, result.frame_id, result.index) == (512, 512, "astronaut.png", 3)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.face_id == "f1" and face.track_age == 0
    assert face.expression == "happy" and face.expression_confidence > 0.9
    np.testing.assert_array_equal(face.expression_scores, face.raw_scores)
    assert face.valence > 0.5
    assert face.landmarks is not None and face.landmarks.points.shape == (478, 3)
    assert face.action_units is not None
    assert result.events == [] and set(result.timings_ms) == set(STAGES)
    # the same box the video pipeline reports for this face (taken from the mesh)
    full.reset()
    video = [full.process(Frame(astronaut_bgr(), i * 33_000_000)) for i in range(2)][1]
    np.testing.assert_allclose(face.box, video.faces[0].box, atol=1.0)
    np.testing.assert_allclose(face.raw_scores, video.faces[0].raw_scores, atol=1e-4)


def test_calls_are_independent_and_leave_the_video_state_alone(full):
    full.reset()
    first = full.process(Frame(astronaut_bgr(), 0))
    assert first.faces == []  # video: one sighting is not enough
    two = render([Placement(180, 240, 0.8), Placement(460, 240, 0.8)])
    still = full.process_image(two)
    assert [f.face_id for f in still.faces] == ["f1", "f2"]
    assert full.process_image(render([])).faces == []
    again = full.process_image(two)
    assert [f.face_id for f in again.faces] == ["f1", "f2"]
    for a, b in zip(still.faces, again.faces):
        np.testing.assert_allclose(a.raw_scores, b.raw_scores)
    second = full.process(Frame(astronaut_bgr(), 33_000_000))
    assert [f.face_id for f in second.faces] == ["f1"]  # the video track went on as if nothing happened


def test_given_boxes_skip_the_detector(full):
    image = astronaut_bgr()
    crop = np.ascontiguousarray(image[70:190, 165:285])  # a tight crop of the face
    result = full.process_image(crop, boxes=[(0, 0, crop.shape[1], crop.shape[0])])
    assert len(result.faces) == 1 and result.faces[0].expression == "happy"
    assert result.faces[0].detection_confidence == 1.0
    with pytest.raises(InputError, match="x1 > x0"):
        full.process_image(crop, boxes=[(10, 10, 5, 20)])


def test_bad_image_is_an_input_error(full):
    with pytest.raises(InputError, match="uint8"):
        full.process_image(np.zeros((64, 64, 3), np.float32))
