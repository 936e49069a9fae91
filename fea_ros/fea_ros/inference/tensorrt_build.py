"""Build a serialised TensorRT 10 engine from an ONNX file (imported only where TensorRT is installed).

Written against the TensorRT 10 Python API: ``Builder.create_network(0)`` (explicit batch is the only mode
since 10.0; the EXPLICIT_BATCH flag is ignored), ``OnnxParser.parse_from_file``, ``IBuilderConfig``
(``set_memory_pool_limit``, ``set_flag``, ``add_optimization_profile``, timing cache, ``progress_monitor``)
and ``build_serialized_network``.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorrt as trt

from fea_ros.inference import calibration
from fea_ros.inference.engine_cache import BuildHeartbeat, BuildProgressLog, EngineCacheError, atomic_write_bytes

log = logging.getLogger(__name__)


class _PythonLogger(trt.ILogger):
    """Sends TensorRT's messages to Python logging (its INFO chatter at DEBUG)."""

    def __init__(self) -> None:
        trt.ILogger.__init__(self)

    def log(self, severity: trt.ILogger.Severity, msg: str) -> None:
        if severity in (trt.ILogger.Severity.INTERNAL_ERROR, trt.ILogger.Severity.ERROR):
            log.error("TensorRT: %s", msg)
        elif severity == trt.ILogger.Severity.WARNING:
            log.warning("TensorRT: %s", msg)
        else:
            log.debug("TensorRT: %s", msg)


def dims_tuple(dims: trt.Dims) -> tuple[int, ...]:
    """A tensor shape as a tuple (trt.Dims is indexable but declares no __iter__)."""
    return tuple(int(dims[axis]) for axis in range(len(dims)))


@functools.lru_cache(maxsize=1)
def trt_logger() -> trt.ILogger:
    """The one logger of this process: TensorRT warns when builder and runtime get different loggers."""
    return _PythonLogger()


def _progress_monitor(progress: BuildProgressLog) -> trt.IProgressMonitor:
    class ProgressMonitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            progress.phase_start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return progress.step_complete(phase_name, step)

        def phase_finish(self, phase_name: str) -> None:
            progress.phase_finish(phase_name)

    return ProgressMonitor()


@dataclass
class BuildOptions:
    precision: str = "fp16"  # fp32 | fp16 | int8
    workspace_mb: int = 1024
    max_batch: int = 8  # upper bound of a dynamic batch axis (min 1, opt 1)
    dla_core: int | None = None
    calibration_images: list[Path] | None = None  # INT8 without Q/DQ nodes
    normalisation: str = ""  # the manifest's sentence, for calibration preprocessing
    calibration_cache: Path | None = None
    timing_cache: Path | None = None


def build_engine(onnx_path: Path, model: str, options: BuildOptions) -> bytes:
    """The serialised engine for ``onnx_path``; raises EngineCacheError with TensorRT's reasons on failure."""
    builder = trt.Builder(trt_logger())
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, trt_logger())
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineCacheError(f"{model}: TensorRT's ONNX parser rejected {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_mb) << 20)
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    profile = _shape_profile(builder, inputs, opt_batch=1, max_batch=options.max_batch)
    if profile is not None:
        config.add_optimization_profile(profile)
    keep_alive = _set_precision(builder, network, config, inputs, model, options)
    if options.dla_core is not None:
        _use_dla(builder, config, options, options.dla_core)
    timing_cache = _load_timing_cache(config, options.timing_cache)
    progress = BuildProgressLog(model)
    if hasattr(trt, "IProgressMonitor"):
        monitor = _progress_monitor(progress)
        config.progress_monitor = monitor
        serialized = builder.build_serialized_network(network, config)
    else:
        with BuildHeartbeat(model):
            serialized = builder.build_serialized_network(network, config)
    del keep_alive
    if serialized is None:
        raise EngineCacheError(f"{model}: TensorRT could not build an engine ({options.precision}); "
                               "the TensorRT errors are logged above")
    if timing_cache is not None and options.timing_cache is not None:
        atomic_write_bytes(options.timing_cache, bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)


def _shape_profile(builder: trt.Builder, inputs: list[trt.ITensor], opt_batch: int, max_batch: int,
                   fixed_batch: int | None = None) -> trt.IOptimizationProfile | None:
    """An optimisation profile when an input has a dynamic axis: batch 1..max_batch, other axes fixed."""
    if not any(-1 in dims_tuple(tensor.shape) for tensor in inputs):
        return None
    profile = builder.create_optimization_profile()
    for tensor in inputs:
        shape = dims_tuple(tensor.shape)
        if -1 in shape[1:]:
            raise EngineCacheError(f"input '{tensor.name}' {shape} has a dynamic axis other than the batch; "
                                   "fea_ros builds profiles for a dynamic batch only")
        rest = shape[1:]
        if fixed_batch is not None:
            sizes = [(fixed_batch, *rest)] * 3
        elif shape[0] == -1:
            sizes = [(1, *rest), (opt_batch, *rest), (max_batch, *rest)]
        else:
            sizes = [shape] * 3
        profile.set_shape(tensor.name, *(trt.Dims(list(size)) for size in sizes))
    return profile


def _has_qdq(network: trt.INetworkDefinition) -> bool:
    kinds = (trt.LayerType.QUANTIZE, trt.LayerType.DEQUANTIZE)
    return any(network.get_layer(i).type in kinds for i in range(network.num_layers))


def _set_precision(builder: trt.Builder, network: trt.INetworkDefinition, config: trt.IBuilderConfig,
                   inputs: list[trt.ITensor], model: str, options: BuildOptions) -> Any:
    """Set the precision flags; returns objects TensorRT only borrows (the calibrator) to keep alive."""
    if options.precision == "fp32":
        # TF32 (on by default) would put FP32 engines ~1e-3 off ONNX Runtime; FP32 is asked for exactness.
        config.clear_flag(trt.BuilderFlag.TF32)
        return None
    config.set_flag(trt.BuilderFlag.FP16)
    if options.precision == "fp16":
        return None
    config.set_flag(trt.BuilderFlag.INT8)  # FP16 stays on for layers without an INT8 kernel
    if _has_qdq(network):
        log.info("%s: QuantizeLinear/DequantizeLinear nodes found; using their scales (no calibration)", model)
        return None
    if not options.calibration_images:
        raise EngineCacheError(
            f"{model}: INT8 needs calibration: set inference.int8_calibration_dir to a folder of face images, "
            "or ship a quantised (Q/DQ) ONNX model, or use precision fp16")
    if len(inputs) != 1:
        raise EngineCacheError(f"{model}: INT8 calibration from images needs a single-input model")
    shape = dims_tuple(inputs[0].shape)
    if len(shape) != 4:
        raise EngineCacheError(f"{model}: INT8 calibration from images needs an NCHW image input; "
                               f"'{inputs[0].name}' has shape {shape}")
    batch = min(8, options.max_batch) if shape[0] == -1 else shape[0]
    prep = calibration.preprocessing_for(options.normalisation, channels=shape[1])
    batches = calibration.CalibrationBatches(options.calibration_images, (batch, shape[1], shape[2], shape[3]),
                                             prep)
    if options.calibration_cache is None:
        raise EngineCacheError(f"{model}: no calibration cache path given")
    calibrator = calibration.make_entropy_calibrator(batches, options.calibration_cache)
    config.int8_calibrator = calibrator
    calibration_profile = _shape_profile(builder, inputs, batch, batch, fixed_batch=batch)
    if calibration_profile is not None:  # the input has a dynamic batch axis
        config.set_calibration_profile(calibration_profile)
    log.info("%s: INT8 calibration over %d images in %d batches of %d", model,
             len(options.calibration_images), len(batches), batch)
    return calibrator


def _use_dla(builder: trt.Builder, config: trt.IBuilderConfig, options: BuildOptions, dla_core: int) -> None:
    cores = builder.num_DLA_cores
    if cores == 0:
        raise EngineCacheError("dla_core is set but this device has no DLA (Jetson AGX Orin and Orin NX have "
                               "two, Orin Nano none); set inference.dla_core to -1")
    if not 0 <= dla_core < cores:
        raise EngineCacheError(f"dla_core {dla_core} does not exist; this device has DLA cores "
                               f"0..{cores - 1}")
    if options.precision == "fp32":
        raise EngineCacheError("the DLA runs FP16 and INT8 only; use precision fp16 or int8 with dla_core")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = dla_core
    # Layers the DLA cannot run go to the GPU instead of failing the build.
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _load_timing_cache(config: trt.IBuilderConfig, path: Path | None) -> trt.ITimingCache | None:
    if path is None:
        return None
    data = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(data)
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        log.warning("timing cache %s does not match this TensorRT/GPU; starting a new one", path)
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, ignore_mismatch=False)
    return cache
