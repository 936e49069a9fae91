#!/usr/bin/env python3
"""Build the int8 networks (static QDQ quantisation with ONNX Runtime's tools) and check them against fp32.

    python fea_ros/scripts/quantize_models.py                   # quantise, write models/*_int8.onnx + manifest
    python fea_ros/scripts/quantize_models.py --check-only      # only measure the int8 files against fp32
    python fea_ros/scripts/quantize_models.py --check-only --expression-dev ../shared/data/expression-dev

Calibration data are the networks' real inputs on the bundled sample clips (samples/face1.mp4, faces3.mp4):
the fp32 pipeline runs over them (full and fast configuration) and every tensor it hands to a network is
recorded, so the mesh sees its rotated face crops, the blendshape net its landmark subsets and the
expression nets their face crops. The int8 files are QDQ graphs (QuantizeLinear/DequantizeLinear around
int8 weights): ONNX Runtime runs them on the CPU, and TensorRT takes the same file for explicit int8
(docs/jetson.md).

The check compares int8 with fp32 on the same inputs against the bounds in fea_ros.inference.precision
(landmarks in crop pixels, blendshapes, expression labels) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

SCRIPTS_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = SCRIPTS_DIR.parent
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

from fea_ros.inference.precision import BOUNDS, INT8_MODELS, int8_name  # noqa: E402

MODELS_DIR = PACKAGE_DIR / "models"
SAMPLES_DIR = PACKAGE_DIR / "samples"
CLIPS = ("face1.mp4", "faces3.mp4")
#: networks quantised only in these op types (the rest stays fp32): the blendshape net's in-graph
#: normalisation of pixel coordinates (ReduceMean/Sqrt/Div) and residual Adds lose too much in int8
OP_TYPES: dict[str, tuple[str, ...]] = {"face_blendshapes_52": ("MatMul",)}
#: every this many frames of a clip is used (calibration and check); the clips are 120 and 180 frames
FRAME_STEP = 2


def record_inputs(samples_dir: Path = SAMPLES_DIR, step: int = FRAME_STEP,
                  progress: bool = True) -> dict[str, list[dict[str, np.ndarray]]]:
    """Model name -> the single-sample inputs the fp32 pipeline gave it on the sample clips."""
    from tqdm import tqdm

    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.inputs import VideoFileSource
    from fea_ros.core.pipeline import Pipeline

    recorded: dict[str, list[dict[str, np.ndarray]]] = {}
    configs = (PipelineConfig(), PipelineConfig.fast())
    for config in configs:
        config.mie.enabled = False
        config.inference.precision = "fp32"
        pipeline = Pipeline(config)
        engines = [pipeline.mesh.engine, *pipeline.expression.engines.values()]
        if pipeline.blendshapes is not None:
            engines.append(pipeline.blendshapes.engine)
        for engine in engines:
            _record(engine, recorded.setdefault(engine.name, []))
        for clip in CLIPS:
            pipeline.reset()
            with VideoFileSource(samples_dir / clip) as source:
                frames = tqdm(source, total=source.frame_count, desc=f"record {clip} {config.landmarks.model}",
                              unit="frame", disable=not progress, leave=False)
                for frame in frames:
                    if frame.index % step == 0:
                        pipeline.process(frame)
    return recorded


def _record(engine: Any, into: list[dict[str, np.ndarray]]) -> None:
    inner = engine.run

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = len(next(iter(inputs.values())))
        into.extend({k: np.array(v[i:i + 1]) for k, v in inputs.items()} for i in range(batch))
        return inner(inputs)

    engine.run = run


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over recorded inputs."""

    def __init__(self, samples: list[dict[str, np.ndarray]]) -> None:
        self._samples: Iterator[dict[str, np.ndarray]] = iter(samples)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._samples, None)

    def rewind(self) -> None:  # not needed by MinMax calibration, part of the reader interface
        raise NotImplementedError


def quantize(name: str, samples: list[dict[str, np.ndarray]], models_dir: Path = MODELS_DIR) -> bytes:
    """The QDQ int8 model of ``name`` (fp32 file in models_dir) calibrated on ``samples``, as bytes."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load(str(models_dir / f"{name}.onnx"))
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:  # per-channel QDQ needs DequantizeLinear's axis attribute (opset 13)
        model = version_converter.convert_version(model, 13)
    with tempfile.TemporaryDirectory(prefix="fea_ros_quantize_") as work:
        source, prepared, target = (Path(work) / n for n in ("model.onnx", "prepared.onnx", "int8.onnx"))
        onnx.save(model, str(source))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        # int8 activations and weights, both symmetric (zero point 0), weights per output channel: the form
        # TensorRT's explicit quantisation accepts, so the same file serves ONNX Runtime and TensorRT
        quantize_static(str(prepared), str(target), _Reader(samples), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                        calibrate_method=CalibrationMethod.MinMax,
                        op_types_to_quantize=list(OP_TYPES.get(name, ())) or None,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
        quantized = onnx.load(str(target))
    drop_unused_domains(quantized)
    quantized.producer_name = "fea_ros quantize_models"
    quantized.doc_string = (f"fea_ros {int8_name(name)}: static QDQ int8 of {name}, calibrated on the inputs the "
                            f"fp32 pipeline gives it on the bundled sample clips ({len(samples)} samples)")
    return quantized.SerializeToString()


def drop_unused_domains(model: Any) -> None:
    """Remove opset imports no node uses (the quantiser adds ai.onnx.ml and com.microsoft; TensorRT's parser
    would take them for custom operators needing a plugin)."""
    used = {node.domain for node in model.graph.node} | {""}
    kept = [o for o in model.opset_import if o.domain in used or o.domain == "ai.onnx"]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def manifest_entry(name: str, data: bytes, samples: int, base: dict[str, Any]) -> dict[str, Any]:
    import onnxruntime

    source = dict(base["source"])
    source.update({"quantised_from": name, "quantised_from_sha256": base["sha256"],
                   "quantiser": f"onnxruntime {onnxruntime.__version__} quantize_static (QDQ, symmetric s8 "
                                "per-channel weights and s8 activations, MinMax"
                                + (f", only {'/'.join(OP_TYPES[name])}" if name in OP_TYPES else "") + ")",
                   "calibration": f"{samples} inputs of the fp32 pipeline on samples/{', samples/'.join(CLIPS)}"})
    return {"name": int8_name(name), "file": f"{int8_name(name)}.onnx", "sha256": hashlib.sha256(data).hexdigest(),
            "source": source, "licence": base["licence"], "inputs": base["inputs"], "outputs": base["outputs"],
            "normalisation": base["normalisation"], "precision": "int8"}


def write(names: list[str], recorded: dict[str, list[dict[str, np.ndarray]]], models_dir: Path = MODELS_DIR,
          progress: bool = True) -> None:
    from tqdm import tqdm

    path = models_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    entries = {m["name"]: m for m in manifest["models"]}
    for name in tqdm(names, desc="quantise", unit="model", disable=not progress):
        data = quantize(name, recorded[name], models_dir)
        (models_dir / f"{int8_name(name)}.onnx").write_bytes(data)
        entries[int8_name(name)] = manifest_entry(name, data, len(recorded[name]), entries[name])
    fp32 = [m for m in manifest["models"] if m.get("precision", "fp32") != "int8"]
    int8 = [entries[int8_name(m["name"])] for m in fp32 if int8_name(m["name"]) in entries]
    text = json.dumps({"format": manifest["format"], "models": fp32 + int8}, indent=2, ensure_ascii=True) + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated models (default: " + ", ".join(INT8_MODELS) + ")")
    parser.add_argument("--check-only", action="store_true", help="do not quantise; measure the committed int8 files")
    parser.add_argument("--expression-dev", type=Path, default=None, metavar="DIR",
                        help="also compare expression labels on a labelled folder (labels.csv: path,label)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--speed", action="store_true", help="also time fp32 against int8 per network (CPU time)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(INT8_MODELS)
    unknown = sorted(set(names) - set(INT8_MODELS))
    if unknown:
        print(f"quantize_models: no int8 recipe for {', '.join(unknown)}; choose from {', '.join(INT8_MODELS)}",
              file=sys.stderr)
        return 2
    from model_build.int8_check import check_all, markdown, speed_markdown

    recorded = record_inputs(progress=not args.quiet)
    if not args.check_only:
        write(names, recorded, progress=not args.quiet)
    results = check_all(recorded, expression_dev=args.expression_dev, progress=not args.quiet)
    print(markdown(results))
    print("\nbounds: " + "; ".join(f"{k} {v}" for k, v in BOUNDS.items()))
    if args.speed:
        print()
        print(speed_markdown(recorded))
    return 0


if __name__ == "__main__":
    sys.exit(main())
