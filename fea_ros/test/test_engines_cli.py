"""`fea-ros engines list|build`: the listing works from the cache folder alone; build says what is missing."""
from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import pytest

from fea_ros.cli import engines
from fea_ros.core.errors import ConfigError
from fea_ros.inference.engine_cache import EngineCache, EngineKey
from fea_ros.inference.errors import BackendError
from fea_ros.inference.tensorrt_engine import unavailable_reason

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fea-ros")
    engines.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["engines", *argv])
    return args.func(args)


def test_list_of_an_empty_cache_says_how_to_fill_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(["list", "--cache-dir", str(tmp_path)]) == 0
    assert "fea-ros engines build" in capsys.readouterr().out


def test_list_shows_model_precision_version_gpu_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cache = EngineCache(tmp_path)
    payload = zlib.compress((MODELS_DIR / "blazeface_short_128.onnx").read_bytes())
    cache.store(EngineKey("blazeface_short_128", "ab" * 32, "10.3.0", "Orin", "8.7", "fp16"), payload)
    cache.store(EngineKey("fer_minixception_64", "cd" * 32, "10.3.0", "Orin", "8.7", "int8", dla_core=1,
                          max_batch=8), payload[:1000])
    (tmp_path / "copied_by_hand.engine").write_bytes(b"x" * 2_000_000)
    assert run(["list", "--cache-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["model", "precision", "device", "TensorRT", "GPU"]
    blaze = next(line for line in lines if line.startswith("blazeface_short_128"))
    assert blaze.split()[1:5] == ["fp16", "GPU", "10.3.0", "Orin"] and "(sm 8.7)" in blaze
    assert f"{len(payload) / 1e6:.1f}" in blaze.split()
    fer = next(line for line in lines if line.startswith("fer_minixception_64"))
    assert fer.split()[1:3] == ["int8", "DLA1"]
    orphan = next(line for line in lines if "copied_by_hand.engine" in line)
    assert orphan.startswith("?") and "2.0" in orphan.split()
    assert lines[-1].startswith("3 engines")


@pytest.mark.skipif(unavailable_reason() is None, reason="TensorRT is usable here; build would really build")
def test_build_without_tensorrt_fails_with_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="cannot build TensorRT engines: .*python3-libnvinfer"):
        run(["build", "--cache-dir", str(tmp_path), "--models-dir", str(MODELS_DIR)])
    assert not any(tmp_path.iterdir())


def test_build_rejects_a_zero_batch(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--max-batch must be at least 1"):
        run(["build", "--cache-dir", str(tmp_path), "--max-batch", "0"])


def test_build_rejects_an_unknown_precision(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        run(["build", "--precision", "fp8"])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
