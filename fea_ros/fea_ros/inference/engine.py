"""The only thing stages know about a network."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Engine(Protocol):
    """A loaded network: named float32 inputs in, named outputs out.

    ``input_shapes``/``output_shapes`` give each tensor's shape with -1 for a dynamic axis.
    """

    name: str
    backend: str
    input_shapes: dict[str, tuple[int, ...]]
    output_shapes: dict[str, tuple[int, ...]]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the network once. Every input named in ``input_shapes`` must be given."""
        ...
