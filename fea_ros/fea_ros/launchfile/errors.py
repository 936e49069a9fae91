"""Errors of the launch helpers. Each message says what was wrong and what to do."""
from __future__ import annotations

from fea_ros.core.errors import ConfigError


class LaunchConfigError(ConfigError):
    """A launch argument or the params file cannot be used as given."""
