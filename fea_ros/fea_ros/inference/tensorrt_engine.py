"""TensorRT backend: an engine built from the model's ONNX file, cached on disk, run with pycuda buffers.

Written against the TensorRT 10 Python API (named I/O tensors: ``num_io_tensors``, ``get_tensor_name``,
``get_tensor_mode``, ``get_tensor_dtype``, ``get_tensor_shape``, ``get_tensor_profile_shape``;
``IExecutionContext.set_input_shape``, ``set_tensor_address``, ``execute_async_v3``) and pycuda
(``mem_alloc``, ``pagelocked_empty``, ``Stream``, ``memcpy_htod_async``/``memcpy_dtoh_async``).

CUDA context: the device's *primary* context is retained and pushed around every call. That is the context
TensorRT's CUDA runtime uses, and, unlike ``pycuda.autoinit`` (a new context current only on the importing
thread), it can be made current on the pipeline's worker thread.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fea_ros.inference.engine_cache import EngineCache, EngineCacheError, EngineKey
from fea_ros.inference.errors import BackendError

if TYPE_CHECKING:  # the annotations are checked against tensorrt-stubs; at run time TensorRT may be absent
    import tensorrt as trt

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE_MB = 1024
DEFAULT_MAX_BATCH = 8
JETSON_HINT = ("On a Jetson: flash JetPack 6.1 or newer (TensorRT 10.3), install the TensorRT Python bindings "
               "with 'sudo apt install python3-libnvinfer' and pycuda with 'pip install pycuda' (CUDA's nvcc on "
               "PATH, e.g. export PATH=/usr/local/cuda/bin:$PATH) or 'sudo apt install python3-pycuda'; a venv "
               "needs --system-site-packages to see the apt packages. Or use backend 'onnxruntime'.")


def unavailable_reason() -> str | None:
    """None when TensorRT >= 10 and pycuda import and a CUDA GPU answers; else what is missing and how to fix it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        return f"the TensorRT Python bindings are not installed (import tensorrt: {exc}). {JETSON_HINT}"
    version = getattr(trt, "__version__", "0")
    if int(version.split(".")[0]) < 10:
        return f"TensorRT {version} is too old; fea_ros needs TensorRT 10 or newer. {JETSON_HINT}"
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        return f"pycuda is not installed (import pycuda.driver: {exc}). {JETSON_HINT}"
    try:
        cuda.init()
        count = cuda.Device.count()
    except Exception as exc:  # pycuda raises its own error types when the driver is missing or broken
        return f"no usable CUDA driver ({exc}); check 'nvidia-smi' (or 'tegrastats' on a Jetson). {JETSON_HINT}"
    if count == 0:
        return "no CUDA GPU was found by the CUDA driver"
    return None


class CudaDevice:
    """The retained primary context of one GPU, made current on the calling thread with ``with device:``."""

    def __init__(self, index: int = 0) -> None:
        import pycuda.driver as cuda

        cuda.init()
        self.cuda = cuda
        self.device = cuda.Device(index)
        self.name = str(self.device.name())
        major, minor = self.device.compute_capability()
        self.compute_capability = f"{major}.{minor}"
        self._context = self.device.retain_primary_context()

    def __enter__(self) -> "CudaDevice":
        self._context.push()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cuda.Context.pop()


class TensorRTEngine:
    """One network as a TensorRT engine; implements the Engine protocol (see inference/engine.py).

    ``cache_event`` is "hit" when the engine came from the cache, "built" or "rebuilt" otherwise.
    """

    backend = "tensorrt"

    def __init__(self, path: Path | str, name: str | None = None, sha256: str | None = None,
                 precision: str = "fp16", cache_dir: Path | str | None = None, dla_core: int | None = None,
                 calibration_dir: Path | str | None = None, workspace_mb: int = DEFAULT_WORKSPACE_MB,
                 max_batch: int = DEFAULT_MAX_BATCH, normalisation: str = "", cache: EngineCache | None = None,
                 device_index: int = 0) -> None:
        problem = unavailable_reason()
        if problem:
            raise BackendError(f"backend 'tensorrt' is not usable: {problem}")
        import tensorrt as trt

        from fea_ros.inference import calibration
        from fea_ros.inference.models import sha256_of
        from fea_ros.inference.tensorrt_build import BuildOptions, build_engine, trt_logger

        path = Path(path)
        self.name = name or path.stem
        self.precision = precision
        self.dla_core = dla_core if dla_core is not None and dla_core >= 0 else None
        self.cache = cache or EngineCache(cache_dir)
        self._device = CudaDevice(device_index)
        images = calibration.list_images(calibration_dir) if precision == "int8" and calibration_dir else None
        key = EngineKey(model=self.name, model_sha256=sha256 or sha256_of(path), trt_version=trt.__version__,
                        gpu_name=self._device.name, compute_capability=self._device.compute_capability,
                        precision=precision, dla_core=self.dla_core, max_batch=int(max_batch),
                        calibration_digest=calibration.dataset_digest(images) if images else "")
        self.engine_path = self.cache.path_for(key)
        options = BuildOptions(
            precision=precision, workspace_mb=workspace_mb, max_batch=int(max_batch), dla_core=self.dla_core,
            calibration_images=images, normalisation=normalisation,
            calibration_cache=self.cache.directory / f"{self.name}_{key.calibration_digest[:16]}.calib",
            timing_cache=self.cache.directory / f"timing_{trt.__version__}_{key.compute_capability}.cache")
        before = (self.cache.hits, self.cache.builds, self.cache.rebuilds)
        with self._device:
            self._runtime = trt.Runtime(trt_logger())
            if self.dla_core is not None:
                self._runtime.DLA_core = self.dla_core
            engine: trt.ICudaEngine = self.cache.load_or_build(
                key, lambda: build_engine(path, self.name, options), self._deserialize)
            context: trt.IExecutionContext | None = engine.create_execution_context()
            if context is None:
                raise BackendError(f"{self.name}: TensorRT could not create an execution context "
                                   "(out of GPU memory?)")
            self._engine: trt.ICudaEngine | None = engine
            self._context: trt.IExecutionContext | None = context
            self._allocate(engine, context)
        after = (self.cache.hits, self.cache.builds, self.cache.rebuilds)
        self.cache_event = ("rebuilt" if after[2] > before[2] else "hit" if after[0] > before[0] else "built")
        self._lock = threading.Lock()

    def _deserialize(self, data: bytes) -> trt.ICudaEngine:
        engine: trt.ICudaEngine | None = self._runtime.deserialize_cuda_engine(data)
        if engine is None:
            raise EngineCacheError("TensorRT could not deserialise it (corrupt, or built by another TensorRT)")
        return engine

    def _allocate(self, engine: trt.ICudaEngine, context: trt.IExecutionContext) -> None:
        """Pinned host + device buffers for every I/O tensor, sized for the largest allowed batch."""
        import tensorrt as trt

        from fea_ros.inference.tensorrt_build import dims_tuple

        cuda = self._device.cuda
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.input_shapes = {n: dims_tuple(engine.get_tensor_shape(n)) for n in inputs}
        self.output_shapes = {n: dims_tuple(engine.get_tensor_shape(n)) for n in names
                              if n not in self.input_shapes}
        self._max_input_shapes: dict[str, tuple[int, ...]] = {}
        for name, shape in self.input_shapes.items():
            largest = dims_tuple(engine.get_tensor_profile_shape(name, 0)[2]) if -1 in shape else shape
            self._max_input_shapes[name] = largest
            context.set_input_shape(name, largest)
        self._dtypes = {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}
        self._stream = cuda.Stream()
        self._host: dict[str, np.ndarray] = {}
        self._device_buffers: dict[str, Any] = {}
        for name in names:
            shape = self._max_input_shapes.get(name) or dims_tuple(context.get_tensor_shape(name))
            self._host[name] = cuda.pagelocked_empty(int(np.prod(shape)), self._dtypes[name])
            self._device_buffers[name] = cuda.mem_alloc(max(1, self._host[name].nbytes))
            context.set_tensor_address(name, int(self._device_buffers[name]))
        self.max_batch = min((s[0] for n, s in self._max_input_shapes.items() if self.input_shapes[n][0] == -1),
                             default=None)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = set(self.input_shapes) - set(inputs)
        if missing:
            raise BackendError(f"{self.name}: missing inputs {sorted(missing)}")
        arrays = {n: np.ascontiguousarray(inputs[n], dtype=self._dtypes[n]) for n in self.input_shapes}
        for name, array in arrays.items():
            self._check_shape(name, array.shape)
        batch = next(iter(arrays.values())).shape[0] if arrays else 0
        if self.max_batch is None or batch <= self.max_batch:
            return self._run_once(arrays)
        # More faces than the profile allows: run in slices of max_batch and join along the batch axis.
        parts = [self._run_once({n: a[start:start + self.max_batch] for n, a in arrays.items()})
                 for start in range(0, batch, self.max_batch)]
        return {n: np.concatenate([p[n] for p in parts]) for n in self.output_shapes}

    def _check_shape(self, name: str, shape: tuple[int, ...]) -> None:
        expected = self.input_shapes[name]
        if len(shape) != len(expected) or any(e not in (-1, s) for e, s in zip(expected, shape)) or 0 in shape:
            raise BackendError(f"{self.name}: input '{name}' has shape {shape}, expected {expected} "
                               "(-1 = any size)")

    def _run_once(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from fea_ros.inference.tensorrt_build import dims_tuple

        cuda = self._device.cuda
        context = self._context
        if context is None:
            raise BackendError(f"{self.name}: the engine was closed; create a new one")
        with self._lock, self._device:
            for name, array in arrays.items():
                if not context.set_input_shape(name, array.shape):
                    raise BackendError(f"{self.name}: TensorRT rejected input shape {array.shape} for '{name}'")
                host = self._host[name][:array.size]
                np.copyto(host, array.ravel())
                cuda.memcpy_htod_async(self._device_buffers[name], host, self._stream)
            if not context.execute_async_v3(stream_handle=self._stream.handle):
                raise BackendError(f"{self.name}: TensorRT execution failed; see the TensorRT log")
            shapes = {n: dims_tuple(context.get_tensor_shape(n)) for n in self.output_shapes}
            for name, shape in shapes.items():
                host = self._host[name][:int(np.prod(shape))]
                cuda.memcpy_dtoh_async(host, self._device_buffers[name], self._stream)
            self._stream.synchronize()
            # Copies: the pinned buffers are reused by the next call.
            return {n: self._host[n][:int(np.prod(s))].reshape(s).copy() for n, s in shapes.items()}

    def close(self) -> None:
        """Free the device buffers now (with the context current) instead of at garbage collection."""
        buffers = getattr(self, "_device_buffers", None)
        if not buffers:
            return
        with self._device:
            for allocation in buffers.values():
                allocation.free()
            buffers.clear()
            self._host.clear()
            self._context = None
            self._engine = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown may already have torn pycuda down
            pass
