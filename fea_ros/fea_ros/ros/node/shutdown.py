"""SIGINT/SIGTERM for pipeline_node: a flag its spin loop checks, the same on Humble and Jazzy."""
from __future__ import annotations

import signal
from typing import Any


class ShutdownRequest:
    """SIGINT/SIGTERM -> a flag the spin loop checks; later signals (launch repeats Ctrl-C) are ignored.

    rclpy's own handlers differ between Humble and Jazzy (which signals, whether the context is shut down
    before the node can finish its transition, ExternalShutdownException), and a second SIGINT during
    cleanup would end the process with -2; one handler of our own behaves the same on both.
    """

    def __init__(self) -> None:
        self.signal_name = ""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.signal_name:
            self.signal_name = signal.Signals(signum).name

    def __bool__(self) -> bool:
        return bool(self.signal_name)
