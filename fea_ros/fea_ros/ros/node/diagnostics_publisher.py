"""pipeline_node's /diagnostics: one DiagnosticStatus a second from ros/diagnostics.py's report, while configured."""
from __future__ import annotations

from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from fea_ros.ros import diagnostics
from fea_ros.ros.runner import RunnerStats

DIAGNOSTIC_NAME = "fea_ros: pipeline"
_LEVELS = {diagnostics.OK: DiagnosticStatus.OK, diagnostics.WARN: DiagnosticStatus.WARN,
           diagnostics.ERROR: DiagnosticStatus.ERROR}

#: what the status is made of: the runner's counters (None: not active) and what the node knows besides
HealthSource = Callable[[], tuple[RunnerStats | None, diagnostics.NodeHealth]]


class DiagnosticsPublisher:
    """Publishes the node's status on /diagnostics at 1 Hz of the steady clock (also under sim time)."""

    def __init__(self, node: Node, health: HealthSource, thresholds: diagnostics.DiagnosticThresholds) -> None:
        self._node, self._health, self._thresholds = node, health, thresholds
        self._publisher = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(1.0, self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def close(self) -> None:
        self._node.destroy_timer(self._timer)
        self._node.destroy_publisher(self._publisher)

    def _tick(self) -> None:
        try:
            self._publish()
        except Exception as error:  # keep the node alive; the next tick tries again
            self._node.get_logger().error(f"/diagnostics failed: {type(error).__name__}: {error}",
                                          throttle_duration_sec=30.0)

    def _publish(self) -> None:
        stats, health = self._health()
        report = diagnostics.pipeline_status(stats, health, self._thresholds)
        status = DiagnosticStatus(level=_LEVELS[report.level],
                                  name=f"{self._node.get_fully_qualified_name()}: {DIAGNOSTIC_NAME}",
                                  message=report.message, hardware_id=health.backend,
                                  values=[KeyValue(key=key, value=value) for key, value in report.values])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
