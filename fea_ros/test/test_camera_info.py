"""CameraInfo -> intrinsics, matched by stamp; the bag replay reads the bag's camera_info topic."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from replay_bags import BagSpec, face_frames, write_bag

from fea_ros.bag.report import JSONL_NAME
from fea_ros.cli import main
from fea_ros.core.camera import CameraIntrinsics
from fea_ros.ros.camera_info import CameraInfoMatcher, camera_info_topic, intrinsics_from_camera_info

FRAMES = face_frames(8, every=3)
TELE_K = [1000.0, 0.0, 319.5, 0.0, 1000.0, 239.5, 0.0, 0.0, 1.0]


def info(stamp_ns: int, fx: float = 500.0, width: int = 640, height: int = 480) -> SimpleNamespace:
    return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=stamp_ns // 10**9,
                                                                        nanosec=stamp_ns % 10**9)),
                           k=[fx, 0.0, 319.5, 0.0, fx, 239.5, 0.0, 0.0, 1.0], width=width, height=height)


@pytest.mark.parametrize("image,expected", [("/camera/image_raw", "/camera/camera_info"),
                                            ("/camera/image_raw/compressed", "/camera/camera_info"),
                                            ("/robot/head/rgb/image_rect", "/robot/head/rgb/camera_info"),
                                            ("image", "/camera_info")])
def test_the_sibling_camera_info_topic(image: str, expected: str) -> None:
    assert camera_info_topic(image) == expected


def test_intrinsics_use_k_and_shift_to_pixel_edges() -> None:
    camera = intrinsics_from_camera_info(info(0, fx=800.0))
    assert (camera.fx, camera.fy, camera.cx, camera.cy, camera.source) == (800.0, 800.0, 320.0, 240.0, "camera_info")
    assert camera.scaled_to(320, 240).fx == 400.0


def test_matching_by_stamp_exact_then_latest_before() -> None:
    matcher = CameraInfoMatcher(keep=3)
    assert matcher.match(5) is None
    for stamp, fx in ((100, 500.0), (200, 600.0), (300, 700.0)):
        assert matcher.add(info(stamp, fx))
    assert matcher.match(200).fx == 600.0  # the same stamp
    assert matcher.match(250).fx == 600.0  # the latest before
    assert matcher.match(50).fx == 500.0  # nothing before: the earliest
    matcher.add(info(400, 800.0))  # keeps 3: the oldest goes
    assert len(matcher) == 3 and matcher.match(100).fx == 600.0


def test_an_uncalibrated_camera_info_is_ignored_with_one_warning(caplog) -> None:
    matcher = CameraInfoMatcher()
    zeros = info(100)
    zeros.k = [0.0] * 9
    assert not matcher.add(zeros) and not matcher.add(zeros)
    assert matcher.match(100) is None
    assert sum("camera.fov_deg" in r.message for r in caplog.records) == 1


def replay_jsonl(tmp_path, name: str, spec: BagSpec) -> list[dict]:
    bag = write_bag(tmp_path / name, spec)
    assert main(["replay", str(bag), "--report", str(tmp_path / f"{name}_report"), "--no-progress"]) == 0
    lines = (tmp_path / f"{name}_report" / JSONL_NAME).read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_replay_reads_camera_info_from_the_bag(tmp_path, capsys) -> None:
    """The same frames with and without a CameraInfo (a 2x longer focal length than the 63-degree default)."""
    with_info = replay_jsonl(tmp_path, "with", BagSpec(FRAMES, camera_k=TELE_K, unrelated=False))
    without = replay_jsonl(tmp_path, "without", BagSpec(FRAMES, unrelated=False))
    faces_with = [f for r in with_info for f in r["faces"] if f["attention"]]
    faces_without = [f for r in without for f in r["faces"] if f["attention"]]
    assert faces_with and len(faces_with) == len(faces_without)
    assert {f["attention"]["head"]["intrinsics"] for f in faces_with} == {"camera_info"}
    assert {f["attention"]["head"]["intrinsics"] for f in faces_without} == {"fov"}
    default_fy = CameraIntrinsics.from_fov(640, 480).fy
    for a, b in zip(faces_with, faces_without):
        ratio = a["attention"]["head"]["position_m"][2] / b["attention"]["head"]["position_m"][2]
        assert ratio == pytest.approx(1000.0 / default_fy, rel=0.05)
    summary = json.loads((tmp_path / "with_report" / "summary.json").read_text())
    assert all(face["looking_at_camera_s"] is not None for face in summary["faces"])
    assert "looking at the robot (s)" in (tmp_path / "with_report" / "summary.md").read_text()
