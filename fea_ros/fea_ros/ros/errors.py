"""Errors of the ROS layer. Each message says what was wrong and what to do."""
from fea_ros.core.errors import ConfigError, FeaRosError


class MessageDefinitionError(FeaRosError):
    """The fea_ros_msgs .msg files are missing or do not parse."""


class ParameterError(ConfigError):
    """A node parameter has a value outside its allowed choices or range."""
