"""The fea_ros Python loggers (model loading, engine builds, pipeline warnings) on the node's ROS logger.

Framework-free: ``node_logger`` is anything with rclpy's logger methods. The level follows the node's own
(``--ros-args --log-level debug``, the launch file's log_level) so debug output of the package shows up when
the node is asked for it, and costs nothing otherwise.
"""
from __future__ import annotations

import logging
from typing import Any

PACKAGE_LOGGER = "fea_ros"
#: rcutils severities (rclpy.logging.LoggingSeverity) -> Python logging levels; both use 10/20/30/40/50
_PYTHON_LEVEL = {0: logging.NOTSET, 10: logging.DEBUG, 20: logging.INFO, 30: logging.WARNING, 40: logging.ERROR,
                 50: logging.CRITICAL}


class RosLogHandler(logging.Handler):
    """Forwards records of the ``fea_ros`` loggers to ``node_logger`` at the matching severity."""

    def __init__(self, node_logger: Any) -> None:
        super().__init__(logging.DEBUG)
        self._logger = node_logger

    def emit(self, record: logging.LogRecord) -> None:
        text = f"[{record.name}] {record.getMessage()}"
        if record.levelno >= logging.ERROR:
            self._logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(text)
        elif record.levelno >= logging.INFO:
            self._logger.info(text)
        else:
            self._logger.debug(text)


def attach(node_logger: Any) -> RosLogHandler:
    """Route the package's logging to ``node_logger`` at the node logger's effective level."""
    handler = RosLogHandler(node_logger)
    severity = int(node_logger.get_effective_level())
    level = _PYTHON_LEVEL.get(severity, logging.INFO)
    package = logging.getLogger(PACKAGE_LOGGER)
    package.addHandler(handler)
    package.setLevel(level)
    return handler


def detach(handler: RosLogHandler) -> None:
    logging.getLogger(PACKAGE_LOGGER).removeHandler(handler)
