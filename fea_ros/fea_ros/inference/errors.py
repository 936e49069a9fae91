"""Errors of the inference layer."""
from fea_ros.core.errors import FeaRosError


class ModelError(FeaRosError):
    """A model file is missing, corrupt, or does not match the manifest."""


class BackendError(FeaRosError):
    """An inference backend is unavailable or failed to load a model."""
