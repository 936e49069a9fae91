"""Frame sources: the bundled clip, videos written here, image folders with bad files, bad sources."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fea_ros.core.errors import InputError
from fea_ros.core.inputs import CameraSource, ImageFolderSource, VideoFileSource, open_source

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def test_bundled_clip_frames_and_container_stamps():
    with open_source(str(SAMPLES / "face1.mp4")) as source:
        assert isinstance(source, VideoFileSource)
        frames = list(source)
    assert len(frames) == source.frame_count == 120
    assert all(f.image.shape == (480, 640, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(f.image.flags["C_CONTIGUOUS"] for f in frames)
    stamps = np.array([f.stamp_ns for f in frames], dtype=np.int64)
    assert stamps[0] == 0
    steps = np.diff(stamps)
    assert np.all(steps > 0)
    assert np.allclose(steps, 1e9 / 30, atol=1e5)  # 30 fps container, within 0.1 ms
    assert [f.index for f in frames] == list(range(120))


def test_video_at_15_fps_is_stamped_from_its_own_rate(tmp_path, astronaut_bgr):
    path = tmp_path / "slow.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (320, 240))
    small = cv2.resize(astronaut_bgr, (320, 240))
    for shift in range(12):
        writer.write(np.roll(small, shift * 4, axis=1))
    writer.release()
    frames = list(open_source(path))
    assert len(frames) == 12
    stamps = np.array([f.stamp_ns for f in frames])
    assert np.allclose(np.diff(stamps), 1e9 / 15, atol=1e5)


def test_folder_sorted_by_name_skips_unreadable_and_stamps_by_position(tmp_path, astronaut_bgr, caplog):
    small = cv2.resize(astronaut_bgr, (64, 64))
    cv2.imwrite(str(tmp_path / "frame10.png"), small)
    cv2.imwrite(str(tmp_path / "frame2.jpg"), small)
    cv2.imwrite(str(tmp_path / "frame1.png"), cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    (tmp_path / "frame3.png").write_bytes(b"this is not a png")
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(tmp_path, fps=10.0)
    assert isinstance(source, ImageFolderSource)
    assert [p.name for p in source.files] == ["frame1.png", "frame2.jpg", "frame3.png", "frame10.png"]
    with caplog.at_level("WARNING"):
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 3]
    # the unreadable file keeps its time slot, so the gap shows in the stamps
    assert [f.stamp_ns for f in frames] == [0, 100_000_000, 300_000_000]
    assert frames[0].image.shape == (64, 64, 3)  # the grayscale file comes out as BGR
    assert [s.path.name for s in source.skipped] == ["frame3.png"]
    assert "frame3.png" in caplog.text


def test_single_image_and_bgra_png(tmp_path, astronaut_bgr):
    bgra = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA)
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), bgra)
    frames = list(open_source(str(path)))
    assert len(frames) == 1
    assert frames[0].image.shape == (512, 512, 3)
    assert np.array_equal(frames[0].image, astronaut_bgr)


def test_missing_source_names_the_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_source(tmp_path / "nope.mp4")


def test_empty_folder_and_folder_of_broken_images(tmp_path):
    with pytest.raises(InputError, match="holds no images"):
        open_source(tmp_path)
    (tmp_path / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match="none of the 1 images"):
        list(open_source(tmp_path))


def test_file_that_is_not_a_video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"plain text, not a container" * 10)
    with pytest.raises(InputError, match="clip.mp4"):
        list(open_source(path))


def test_fps_is_rejected_where_it_cannot_apply():
    with pytest.raises(InputError, match="image folders only"):
        open_source(str(SAMPLES / "face1.mp4"), fps=15.0)
    with pytest.raises(InputError, match="positive"):
        ImageFolderSource(SAMPLES, fps=0.0)


def test_camera_that_does_not_exist():
    with pytest.raises(InputError, match="camera 97"):
        CameraSource(97)


def test_bundled_samples_are_small_640x480_clips():
    clips = [SAMPLES / "face1.mp4", SAMPLES / "faces3.mp4"]
    assert sum(p.stat().st_size for p in clips) <= 5 * 1024 * 1024
    for path, seconds in zip(clips, (4.0, 6.0)):
        with VideoFileSource(path) as source:
            assert source.fps == pytest.approx(30.0)
            assert source.frame_count == int(seconds * 30)
            first = next(iter(source))
        assert first.image.shape == (480, 640, 3)
