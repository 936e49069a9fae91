"""float32 MediaPipe tflite -> ONNX through tflite2onnx, then renamed to the fea_ros I/O contract."""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx

from model_build.onnx_tools import rename_io, reshape_output


def convert_tflite2onnx(tflite: bytes, inputs: Mapping[str, str], outputs: Mapping[str, str],
                        reshape: Mapping[str, Sequence[int]] | None = None) -> onnx.ModelProto:
    """Convert with tflite2onnx (which already makes the input NCHW), rename I/O, reshape outputs.

    `reshape` is keyed by the NEW output name.
    """
    import tflite2onnx

    # tflite2onnx warns once per float16 tensor it meets even when the graph is float32; that is noise here
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="fea_ros_tflite2onnx_") as work:
        source = Path(work) / "model.tflite"
        target = Path(work) / "model.onnx"
        source.write_bytes(tflite)
        tflite2onnx.convert(str(source), str(target))
        model = onnx.load(str(target))
    rename_io(model, inputs, outputs)
    for name, shape in (reshape or {}).items():
        reshape_output(model, name, shape)
    return model
