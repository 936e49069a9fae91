"""ONNX Runtime backend: CPU everywhere, the CUDA execution provider when the installed build has it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fea_ros.inference.errors import BackendError


def _shape(dims: list) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else -1 for d in dims)


class OnnxRuntimeEngine:
    """One ONNX model in one onnxruntime InferenceSession."""

    backend = "onnxruntime"

    def __init__(self, path: Path, name: str | None = None, threads: int = 1, use_cuda: bool = True) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        # Spinning worker threads burn the cores the other stages and the ROS executor need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if use_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise BackendError(
                f"onnxruntime could not load {path}: {exc}. Run 'fea-ros models verify' to check the file."
            ) from exc
        self.name = name or Path(path).stem
        self.path = Path(path)
        self.providers = self._session.get_providers()
        self.input_shapes = {i.name: _shape(i.shape) for i in self._session.get_inputs()}
        self.output_shapes = {o.name: _shape(o.shape) for o in self._session.get_outputs()}
        self._output_names = list(self.output_shapes)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = set(self.input_shapes) - set(inputs)
        if missing:
            raise BackendError(f"{self.name}: missing inputs {sorted(missing)}")
        outputs = self._session.run(self._output_names, {k: inputs[k] for k in self.input_shapes})
        return dict(zip(self._output_names, outputs))
