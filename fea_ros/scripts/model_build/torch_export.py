"""torch module -> onnx.ModelProto with the TorchScript exporter (no onnxscript needed), in memory."""
from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

from model_build.onnx_tools import fold_constants, fold_pads

import onnx
import torch

OPSET = 17


def export(module: torch.nn.Module, example: torch.Tensor, input_name: str, output_names: Sequence[str],
           batch_dynamic: bool = True) -> onnx.ModelProto:
    module = module.eval()
    buffer = io.BytesIO()
    dynamic_axes = {name: {0: "N"} for name in [input_name, *output_names]} if batch_dynamic else None
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of dynamo, which needs onnxscript; it still works
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[input_name], output_names=list(output_names), dynamic_axes=dynamic_axes,
                          do_constant_folding=True, export_params=True)
    model = onnx.load_from_string(buffer.getvalue())
    fold_constants(model)
    fold_pads(model)
    return model
