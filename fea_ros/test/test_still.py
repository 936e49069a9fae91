"""Still images: Pipeline.process_image reports every face at once, from one image, with no state kept."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core_scenes import ASTRONAUT_SHORT_RANGE_BOX, Placement, astronaut_bgr, render
from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import ConfigError, InputError
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


def close_up(fraction: float) -> np.ndarray:
    """A square crop of the astronaut photo in which the face (brow to chin) is ``fraction`` of the height."""
    box = ASTRONAUT_SHORT_RANGE_BOX
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = (box[3] - box[1]) / fraction / 2
    return np.ascontiguousarray(astronaut_bgr()[int(cy - half):int(cy + half), int(cx - half):int(cx + half)])


def padded_small_face(face_px: int, border_px: int) -> np.ndarray:
    """The face cut tightly from the photo, shrunk to ``face_px`` square, with a grey border around it."""
    x0, y0, x1, y1 = ASTRONAUT_SHORT_RANGE_BOX.astype(int)
    face = cv2.resize(astronaut_bgr()[y0:y1, x0:x1], (face_px, face_px), interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(face, *[border_px] * 4, cv2.BORDER_CONSTANT, value=(128, 128, 128))


@pytest.mark.parametrize("image,face_px", [(close_up(0.9), 93), (close_up(1.0), 93), (padded_small_face(48, 24), 48),
                                           (padded_small_face(48, 8), 48)],
                         ids=["face 90% of a close-up", "face 100%", "48-px face padded 50%", "48-px face padded 17%"])
def test_the_default_configuration_finds_close_up_and_small_cropped_faces(full, image, face_px):
    result = full.process_image(image)
    assert len(result.faces) == 1, f"{image.shape}: {len(result.faces)} faces"
    face = result.faces[0]
    assert face.expression == "happy"
    height, width = image.shape[:2]
    centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
    assert abs(centre[0] - width / 2) < 0.15 * width and abs(centre[1] - height / 2) < 0.15 * height
    assert 0.7 * face_px < face.box[3] - face.box[1] < 1.5 * face_px, face.box


def test_the_full_range_model_alone_misses_a_close_up_that_its_fallback_finds(full):
    image = close_up(0.9)
    assert full.detector.detect(image) == []  # the full-range model's own limit (BENCHMARKS.md curve)
    assert full.detector.fallback is not None and len(full.detector.fallback.detect(image)) == 1
    config = PipelineConfig()
    config.detection.fallback_detector = "none"
    assert Pipeline(config).process_image(image).faces == []


def test_fast_configuration_has_no_second_detector():
    fast = Pipeline(PipelineConfig.fast())
    assert fast.detector.spec.model == "blazeface_short_128" and fast.detector.fallback is None
    config = PipelineConfig()
    config.detection.fallback_detector = "tiny"
    with pytest.raises(ConfigError, match="fallback_detector"):
        Pipeline(config)


def test_small_faces_the_detector_misses_are_found_in_tiles(full):
    # two faces a tenth of the frame height on a plain background: full-range (and short-range, the fallback)
    # find neither on the whole frame
    placements = [Placement(120, 300, 0.5), Placement(500, 150, 0.5)]
    image = render(placements)
    assert full.detector(image) == []
    result = full.process_image(image)
    assert len(result.faces) == 2
    centres = sorted(((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in result.faces)
    for (cx, cy), placement in zip(centres, sorted(placements, key=lambda p: p.cx)):
        assert abs(cx - placement.cx) < 15 and abs(cy - placement.cy) < 25
    assert all(f.expression == "happy" and f.landmarks is not None for f in result.faces)
    assert [f.face_id for f in result.faces] == ["f1", "f2"]


def test_tiles_cover_every_face_size_down_to_a_tenth():
    from fea_ros.core.tiles import MIN_FACE_SHARE, SMALLEST_FACE_SHARE, tile_windows

    width, height = 640, 480
    windows = tile_windows(width, height, min_face_px=20)
    assert 10 <= len(windows) <= 30
    for face in np.linspace(SMALLEST_FACE_SHARE * height, MIN_FACE_SHARE * width, 12):
        for x in np.linspace(0, width - face, 9):
            for y in np.linspace(0, height - face, 7):
                # some tile holds the whole face at a size short-range finds
                assert any(x0 <= x and x + face <= x1 and y0 <= y and y + face <= y1
                           and face >= MIN_FACE_SHARE * max(x1 - x0, y1 - y0) * 0.999
                           for x0, y0, x1, y1 in windows), (face, x, y)


def test_a_weak_face_from_full_range_does_not_hide_a_close_up(full):
    from skimage import data

    # skimage's cameraman with his face (short-range box 180, 123, 263, 206) 80 % of a 640 x 480 frame:
    # full-range only scores something beside the face (0.56); the fallback runs as that is below 0.65
    photo = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)
    face = np.array([180.0, 123.0, 263.0, 206.0])
    scale = 480 / ((face[3] - face[1]) / 0.8)
    centre = (face[:2] + face[2:]) / 2
    matrix = np.array([[scale, 0, 320 - scale * centre[0]], [0, scale, 240 - scale * centre[1]]])
    image = cv2.warpAffine(photo, matrix, (640, 480), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    on_its_own = full.detector.detect(image)
    assert on_its_own and all(d.score < 0.65 for d in on_its_own)
    assert all(d.box[3] - d.box[1] < 200 for d in on_its_own)  # nothing of the face's size
    best = full.process_image(image).faces[0]
    assert best.box[3] - best.box[1] > 0.6 * 480
    assert abs((best.box[0] + best.box[2]) / 2 - 320) < 60 and abs((best.box[1] + best.box[3]) / 2 - 240) < 60
