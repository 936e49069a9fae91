"""Pick a backend and load a model by name through the manifest."""
from __future__ import annotations

import logging
import time

from fea_ros.core.config import InferenceConfig
from fea_ros.inference.engine import Engine
from fea_ros.inference.errors import BackendError
from fea_ros.inference.models import Manifest, ModelEntry
from fea_ros.inference.onnxruntime_engine import OnnxRuntimeEngine
from fea_ros.inference.precision import model_for

log = logging.getLogger(__name__)
BACKENDS = ("onnxruntime", "tensorrt", "auto")


def resolve_backend(requested: str) -> tuple[str, str]:
    """The backend to use for ``requested`` and why, as a sentence for the log."""
    if requested not in BACKENDS:
        raise BackendError(f"unknown backend '{requested}'; use one of {', '.join(BACKENDS)}")
    if requested == "onnxruntime":
        return "onnxruntime", "requested"
    from fea_ros.inference import tensorrt_engine

    problem = tensorrt_engine.unavailable_reason()
    if requested == "tensorrt":
        if problem:
            raise BackendError(f"backend 'tensorrt' is not usable: {problem}")
        return "tensorrt", "requested"
    if problem:
        return "onnxruntime", f"auto: TensorRT not usable ({problem})"
    return "tensorrt", "auto: TensorRT and a CUDA GPU are present"


def create_engine(name: str, config: InferenceConfig, manifest: Manifest | None = None,
                  backend: str | None = None) -> Engine:
    """Load model ``name`` on ``backend`` (already resolved; default: resolve config.backend)."""
    manifest = manifest or Manifest(config.models_dir or None)
    if backend is None:
        backend, why = resolve_backend(config.backend)
        log.info("model %s: backend %s (%s)", name, backend, why)
    try:
        chosen = model_for(name, config.precision, backend, frozenset(manifest.entries))
    except ValueError as exc:
        raise BackendError(str(exc)) from exc
    path = manifest.path(chosen)
    if backend == "tensorrt":
        from fea_ros.inference.tensorrt_engine import TensorRTEngine

        entry = manifest.entry(name)
        precision = "fp16" if config.precision == "auto" else config.precision
        if precision == "int8" and not _takes_an_image(entry):
            log.warning("%s: INT8 calibration needs an image input, this model takes %s; building it FP16",
                        name, [i["name"] for i in entry.inputs])
            precision = "fp16"
        return TensorRTEngine(path, name=name, sha256=entry.sha256, precision=precision,
                              cache_dir=config.engine_cache_dir or None,
                              dla_core=config.dla_core if config.dla_core >= 0 else None,
                              calibration_dir=config.int8_calibration_dir or None,
                              workspace_mb=config.workspace_mb, max_batch=config.max_batch,
                              normalisation=entry.normalisation)
    if chosen != name:
        log.info("model %s: int8 file %s (inference.precision %s)", name, path.name, config.precision)
    # the engine keeps the network's name: stages and benchmarks know it by that, whatever its precision
    started = time.perf_counter()
    engine = OnnxRuntimeEngine(path, name=name, threads=config.threads)
    log.debug("model %s: %s (sha256 verified) loaded on onnxruntime, %d thread(s), in %.0f ms", name, path,
              config.threads, 1e3 * (time.perf_counter() - started))
    return engine


def _takes_an_image(entry: ModelEntry) -> bool:
    return len(entry.inputs) == 1 and len(entry.inputs[0]["shape"]) == 4
