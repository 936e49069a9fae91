"""Inference layer: models loaded by name through the manifest, the ONNX Runtime engine and its errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fea_ros.core.config import InferenceConfig
from fea_ros.inference.engine import Engine
from fea_ros.inference.errors import BackendError, ModelError
from fea_ros.inference.factory import create_engine
from fea_ros.inference.models import Manifest, sha256_of

MODELS = Path(__file__).resolve().parents[1] / "models"


def concrete(shape: list) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else 2 for d in shape)


@pytest.mark.parametrize("entry", json.loads((MODELS / "manifest.json").read_text())["models"],
                         ids=lambda e: e["name"])
def test_every_model_loads_by_name_with_the_manifests_io_contract(entry):
    engine = create_engine(entry["name"], InferenceConfig())
    assert isinstance(engine, Engine) and engine.backend == "onnxruntime"
    # a named (dynamic) axis such as the expression nets' batch N is reported as -1
    assert engine.input_shapes == {i["name"]: tuple(d if isinstance(d, int) else -1 for d in i["shape"])
                                   for i in entry["inputs"]}
    assert list(engine.output_shapes) == [o["name"] for o in entry["outputs"]]
    # random values: all-equal landmark points would be a degenerate input for the blendshape net
    rng = np.random.default_rng(0)
    inputs = {i["name"]: rng.uniform(0, 100, concrete(i["shape"])).astype(np.float32) for i in entry["inputs"]}
    outputs = engine.run(inputs)
    for spec in entry["outputs"]:
        assert outputs[spec["name"]].shape == concrete(spec["shape"]), spec["name"]
        assert np.isfinite(outputs[spec["name"]]).all()


def test_threads_setting_reaches_the_session():
    engine = create_engine("fer_minixception_64", InferenceConfig(threads=2))
    assert engine._session.get_session_options().intra_op_num_threads == 2
    assert "CPUExecutionProvider" in engine.providers


def test_a_missing_input_is_named():
    engine = create_engine("fer_minixception_64", InferenceConfig())
    with pytest.raises(BackendError, match="missing inputs \\['image'\\]"):
        engine.run({"input": np.zeros((1, 1, 64, 64), np.float32)})


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ModelError, match="known: .*blazeface_full_192"):
        create_engine("yunet", InferenceConfig())


def copy_models(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    manifest = json.loads((MODELS / "manifest.json").read_text())
    manifest["models"] = [m for m in manifest["models"] if m["name"] in names]
    for entry in manifest["models"]:
        shutil.copy(MODELS / entry["file"], folder / entry["file"])
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_changed_model_file_is_refused_with_how_to_rebuild_it(tmp_path):
    folder = copy_models(tmp_path, ["fer_minixception_64"])
    model = folder / "fer_minixception_64.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt or was changed.*build_models.py --only fer_minixception_64"):
        create_engine("fer_minixception_64", InferenceConfig(models_dir=str(folder)))


def test_a_missing_model_file_says_how_to_rebuild_it(tmp_path):
    folder = copy_models(tmp_path, ["fer_minixception_64"])
    (folder / "fer_minixception_64.onnx").unlink()
    with pytest.raises(ModelError, match="missing.*build_models.py"):
        Manifest(folder).path("fer_minixception_64")


def test_a_file_onnxruntime_cannot_read_is_a_backend_error(tmp_path):
    folder = copy_models(tmp_path, ["fer_minixception_64"])
    model = folder / "fer_minixception_64.onnx"
    model.write_bytes(b"not an onnx model")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["models"][0]["sha256"] = sha256_of(model)  # the manifest agrees, the file is still unusable
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackendError, match="onnxruntime could not load.*models verify"):
        create_engine("fer_minixception_64", InferenceConfig(models_dir=str(folder)))
