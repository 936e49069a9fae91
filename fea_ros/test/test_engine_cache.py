"""The TensorRT engine cache without TensorRT: keys, atomic files, corruption, listing, build progress logs.

The "engine" here is zlib-compressed model bytes: ``zlib.decompress`` plays the part of
``deserialize_cuda_engine``, a loader that fails on a damaged file.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import zlib
from pathlib import Path

import pytest

from fea_ros.inference.engine_cache import (BuildHeartbeat, BuildProgressLog, EngineCache, EngineCacheError,
                                            EngineKey, atomic_write_bytes, default_cache_dir)

PAYLOAD = Path(__file__).read_bytes()  # real bytes standing in for an ONNX model


def make_key(**changes: object) -> EngineKey:
    key = EngineKey(model="blazeface_full_192", model_sha256="ab" * 32, trt_version="10.3.0",
                    gpu_name="Orin", compute_capability="8.7", precision="fp16")
    return dataclasses.replace(key, **changes)


class Builder:
    """Counts builds; the engine is the compressed payload."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return zlib.compress(PAYLOAD)


def test_key_changes_with_everything_the_engine_depends_on() -> None:
    base = make_key()
    assert base.file_name() == make_key().file_name()
    variants = [make_key(precision="fp32"), make_key(precision="int8"), make_key(trt_version="10.7.0"),
                make_key(gpu_name="NVIDIA H100"), make_key(compute_capability="9.0"), make_key(dla_core=0),
                make_key(model_sha256="cd" * 32), make_key(max_batch=4), make_key(calibration_digest="ff")]
    names = {base.file_name(), *(v.file_name() for v in variants)}
    assert len(names) == len(variants) + 1
    assert base.file_name().startswith("blazeface_full_192_fp16_")
    assert "_dla0_" in make_key(dla_core=0).file_name()


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(EngineCacheError, match="unknown precision 'fp8'"):
        make_key(precision="fp8")


def test_build_then_hit_without_rebuilding(tmp_path: Path) -> None:
    build = Builder()
    first = EngineCache(tmp_path)
    assert first.load_or_build(make_key(), build, zlib.decompress) == PAYLOAD
    assert (build.calls, first.builds, first.hits) == (1, 1, 0)
    path = first.path_for(make_key())
    assert path.is_file() and path.with_suffix(".json").is_file()

    second = EngineCache(tmp_path)  # a new process: only the files carry over
    assert second.load_or_build(make_key(), build, zlib.decompress) == PAYLOAD
    assert (build.calls, second.builds, second.hits, second.rebuilds) == (1, 0, 1, 0)


def test_other_precision_is_another_entry(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    build = Builder()
    cache.load_or_build(make_key(precision="fp16"), build, zlib.decompress)
    cache.load_or_build(make_key(precision="fp32"), build, zlib.decompress)
    assert build.calls == 2
    assert len(list(tmp_path.glob("*.engine"))) == 2


def test_corrupt_file_is_rebuilt_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = EngineCache(tmp_path)
    build = Builder()
    cache.load_or_build(make_key(), build, zlib.decompress)
    path = cache.path_for(make_key())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a build cut short by a power loss, say

    caplog.set_level(logging.WARNING)
    again = EngineCache(tmp_path)
    assert again.load_or_build(make_key(), build, zlib.decompress) == PAYLOAD
    assert (build.calls, again.rebuilds, again.builds, again.hits) == (2, 1, 1, 0)
    assert any("did not load" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records)
    assert zlib.decompress(path.read_bytes()) == PAYLOAD


def test_loader_returning_none_counts_as_corrupt(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.store(make_key(), b"not an engine")
    def load(data: bytes) -> bytes | None:
        return zlib.decompress(data) if data[:1] == b"x" else None  # zlib streams start with 0x78

    result = cache.load_or_build(make_key(), Builder(), load)
    assert result == PAYLOAD
    assert cache.rebuilds == 1


def test_build_that_produces_nothing_is_an_error(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    with pytest.raises(EngineCacheError, match="produced no engine"):
        cache.load_or_build(make_key(), lambda: b"", zlib.decompress)
    assert not cache.path_for(make_key()).exists()


def test_fresh_engine_that_does_not_load_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EngineCacheError, match="could not be deserialised"):
        EngineCache(tmp_path).load_or_build(make_key(), Builder(), lambda data: None)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "engine.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, PAYLOAD)
    assert target.read_bytes() == PAYLOAD
    assert sorted(p.name for p in target.parent.iterdir()) == ["engine.bin"]


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "engine.bin"
    atomic_write_bytes(target, b"old engine")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        atomic_write_bytes(target, PAYLOAD)
    monkeypatch.undo()
    assert target.read_bytes() == b"old engine"
    assert [p.name for p in tmp_path.iterdir()] == ["engine.bin"]


def test_write_interrupted_midway_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "engine.bin"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "text is not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_entries_describe_the_cache(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.load_or_build(make_key(), Builder(), zlib.decompress)
    cache.load_or_build(make_key(precision="fp32"), Builder(), zlib.decompress)
    (tmp_path / "orphan_fp16_0000.engine").write_bytes(b"engine without sidecar")
    (tmp_path / ".blazeface.engine.123.tmp").write_bytes(b"a build in progress")
    entries = cache.entries()
    assert len(entries) == 3
    by_name = {e.path.name: e for e in entries}
    orphan = by_name.pop("orphan_fp16_0000.engine")
    assert orphan.key is None and orphan.size_bytes == len(b"engine without sidecar")
    assert {e.key.precision for e in by_name.values()} == {"fp16", "fp32"}
    for entry in by_name.values():
        meta = json.loads(entry.path.with_suffix(".json").read_text())
        assert meta["size_bytes"] == entry.size_bytes == entry.path.stat().st_size
        assert entry.key.gpu_name == "Orin" and entry.created


def test_entries_of_missing_folder_is_empty(tmp_path: Path) -> None:
    assert EngineCache(tmp_path / "never-made").entries() == []


def test_default_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "fea_ros" / "engines"
    assert EngineCache().directory == tmp_path / "fea_ros" / "engines"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "fea_ros" / "engines"


def test_progress_log_rate_limits_steps(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    progress = BuildProgressLog("fer_minixception_64", interval_s=5.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO)
    progress.phase_start("Building engine", None, 100)
    progress.phase_start("Tactic timing", "Building engine", 40)
    for step in range(40):
        now[0] += 0.5  # 20 s of steps: one line per 5 s, not one per step
        assert progress.step_complete("Tactic timing", step) is True
    progress.phase_finish("Tactic timing")
    step_lines = [r.getMessage() for r in caplog.records if "Tactic timing: step" in r.getMessage()]
    assert len(step_lines) == 4
    assert step_lines[0].endswith("step 10/40")
    assert progress.lines == 2 + len(step_lines)
    assert any("fer_minixception_64 build:   Tactic timing (40 steps)" in r.getMessage() for r in caplog.records)


def test_heartbeat_logs_while_a_build_runs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with BuildHeartbeat("facemesh_v2_478_256", interval_s=0.02) as heartbeat:
        time.sleep(0.2)
    beats = heartbeat.beats
    time.sleep(0.1)
    assert beats >= 1 and heartbeat.beats == beats  # stops with the build
    assert any("still building" in r.getMessage() for r in caplog.records)
