"""Errors of the framework-free core. Each message says what was wrong and what to do."""


class FeaRosError(Exception):
    """Base of every fea_ros error."""


class ConfigError(FeaRosError):
    """A setting is unknown or has a value of the wrong kind or range."""


class InputError(FeaRosError):
    """An input image, video, folder or camera cannot be used."""
