"""Annotated frames, the mp4 writer and the timeline plot, checked by reading the outputs back."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fea_ros.core.types import FaceResult, FrameResult, Landmarks, MicroExpressionEvent
from fea_ros.core.visualize import OutputError, Timeline, VideoSink, annotate, id_colour, plot_timeline


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def face(face_id: str, box: tuple[float, float, float, float], happy: float) -> FaceResult:
    scores = np.full(7, (1.0 - happy) / 6)
    scores[1] = happy
    x0, y0, x1, y1 = box
    grid = np.stack(np.meshgrid(np.linspace(x0, x1, 22), np.linspace(y0, y1, 22)), -1).reshape(-1, 2)[:478]
    mesh = Landmarks(points=np.column_stack([grid, np.zeros(len(grid))]), presence=1.0, ibug68=grid[:68])
    return FaceResult(face_id=face_id, track_age=3, box=np.array(box, dtype=float), detection_confidence=0.9,
                      landmarks=mesh, expression="happy" if happy > 0.5 else "neutral",
                      expression_confidence=max(happy, scores[0]), expression_scores=scores, raw_scores=scores,
                      valence=0.5, arousal=0.2, action_units=None)


def frame_result(stamp_ns: int, faces: list[FaceResult], events=()) -> FrameResult:
    return FrameResult(stamp_ns=stamp_ns, frame_id="camera", width=512, height=512, faces=faces,
                       events=list(events), timings_ms={})


def test_annotate_draws_box_in_the_id_colour_on_a_copy(astronaut_bgr):
    result = frame_result(0, [face("a", (179, 82, 271, 175), 0.9)])
    original = astronaut_bgr.copy()
    drawn = annotate(astronaut_bgr, result)
    assert np.array_equal(astronaut_bgr, original)
    assert drawn.shape == astronaut_bgr.shape
    # the middle of the box's bottom edge is painted in the face's colour
    assert tuple(int(v) for v in drawn[175, 225]) == id_colour("a")
    # the probability bars sit right of the box and change pixels there
    assert np.abs(drawn[82:150, 275:360].astype(int) - original[82:150, 275:360]).sum() > 0
    with_mesh = annotate(astronaut_bgr, result, landmarks=True)
    inside = (slice(95, 165), slice(190, 260))
    assert np.count_nonzero(with_mesh[inside] != drawn[inside]) > 100


def test_ids_get_stable_distinct_colours():
    assert id_colour("f1") == id_colour("f1")
    assert len({id_colour(str(i)) for i in range(8)}) >= 4


def test_video_sink_writes_a_readable_mp4(tmp_path, astronaut_bgr):
    path = tmp_path / "out.mp4"
    frame = cv2.resize(astronaut_bgr, (320, 240))
    with VideoSink(path, fps=20) as sink:
        for shift in range(10):
            sink.write(np.roll(frame, shift, axis=1))
        sink.write(astronaut_bgr)  # a frame of another size is scaled to the video's size
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(20.0)
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    assert len(frames) == sink.frames_written == 11
    assert frames[0].shape == (240, 320, 3)
    assert np.abs(frames[0].astype(int) - frame).mean() < 8  # mp4v is lossy, but it is the same picture


def test_video_sink_in_missing_folder_says_so(tmp_path, astronaut_bgr):
    with pytest.raises(OutputError, match="does not exist"):
        VideoSink(tmp_path / "no" / "out.mp4", fps=30).write(astronaut_bgr)


def test_timeline_plot_has_one_panel_per_face(tmp_path):
    timeline = Timeline()
    for i in range(60):
        faces = [face("a", (10, 10, 50, 50), i / 60)]
        if i < 20 or i > 40:  # "b" leaves and comes back: drawn with a gap
            faces.append(face("b", (100, 10, 150, 60), 0.2))
        event = MicroExpressionEvent(face_id="a", onset_ns=int(0.5e9), apex_ns=int(0.6e9), offset_ns=int(0.8e9),
                                     type="MICRO", regions=("mouth",), action_units=(12,), intensity=0.2,
                                     confidence=0.8, emitted_ns=int(1e9))
        timeline.add(frame_result(int(i * 1e9 / 30), faces, [event] if i == 30 else []))
    assert sorted(timeline.faces) == ["a", "b"]
    assert len(timeline.faces["b"].stamps_ns) == 39
    one = plot_timeline(timeline, tmp_path / "two.png")
    image = cv2.imread(str(one))
    assert image is not None and image.shape[1] == 1000
    single = Timeline()
    single.add(frame_result(0, [face("a", (10, 10, 50, 50), 0.9)]))
    single.add(frame_result(33_333_333, [face("a", (10, 10, 50, 50), 0.9)]))
    smaller = cv2.imread(str(plot_timeline(single, tmp_path / "one.png")))
    assert smaller.shape[0] < image.shape[0]  # fewer faces, fewer panels
    # the MiE span is shaded: the same plot without the event has far fewer light-red pixels
    timeline.events.clear()
    plain = cv2.imread(str(plot_timeline(timeline, tmp_path / "plain.png")))
    assert light_red_pixels(image) > light_red_pixels(plain) + 1000


def light_red_pixels(image: np.ndarray) -> int:
    b, g, r = (image[..., c].astype(int) for c in range(3))
    return int(np.count_nonzero((r > 230) & (g > 150) & (g < 215) & (np.abs(g - b) < 15)))


def test_timeline_without_faces_still_writes_a_plot(tmp_path):
    timeline = Timeline()
    timeline.add(frame_result(0, []))
    assert cv2.imread(str(plot_timeline(timeline, tmp_path / "empty.png"))) is not None
    with pytest.raises(OutputError, match="does not exist"):
        plot_timeline(timeline, tmp_path / "missing" / "x.png")


def test_bars_move_left_of_a_box_at_the_right_edge(astronaut_bgr):
    result = frame_result(0, [face("a", (400, 100, 505, 200), 0.9)])
    drawn = annotate(astronaut_bgr, result)
    changed = np.any(drawn != astronaut_bgr, axis=2)
    assert changed[100:160, 300:396].sum() > 200  # the bar panel sits left of the box


def test_attention_is_drawn_and_tracked_under_the_expression_panel(tmp_path, astronaut_bgr):
    """A real attention estimate (astronaut, MediaPipe's landmarks from the fixture): axes, gaze and a track."""
    from test_ros_messages import real_attention

    plain = face("a", (179, 82, 271, 175), 0.9)
    looked = face("a", (179, 82, 271, 175), 0.9)
    looked.attention = real_attention()
    without = annotate(astronaut_bgr, frame_result(0, [plain]))
    drawn = annotate(astronaut_bgr, frame_result(0, [looked]))
    eyes = (slice(100, 150), slice(190, 270))  # the head axes start between the eyes
    assert np.count_nonzero(drawn[eyes] != without[eyes]) > 50
    below = (slice(176, 215), slice(175, 400))  # "looking ... engaged" under the box
    assert np.count_nonzero(drawn[below] != without[below]) > 50

    timeline, bare = Timeline(), Timeline()
    for i in range(30):
        timeline.add(frame_result(int(i * 1e9 / 30), [looked]))
        bare.add(frame_result(int(i * 1e9 / 30), [plain]))
    with_track = cv2.imread(str(plot_timeline(timeline, tmp_path / "attention.png")))
    without_track = cv2.imread(str(plot_timeline(bare, tmp_path / "bare.png")))
    assert with_track.shape[0] > without_track.shape[0]  # the attention track adds a row
    b, g, r = (with_track[..., c].astype(int) for c in range(3))
    greenish = np.count_nonzero((g > r + 20) & (g > b + 20))  # "looking" shading
    assert greenish > 5000
