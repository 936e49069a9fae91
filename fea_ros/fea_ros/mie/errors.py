"""Errors of the micro-expression area. Each message says what was wrong and what to do."""
from fea_ros.core.errors import FeaRosError, InputError


class SpottingFormatError(FeaRosError):
    """A prediction or ground-truth interval file cannot be read."""


class DatasetLayoutError(InputError):
    """A dataset folder or label sheet does not have the expected CAS(ME)^2 / SAMM-LV layout."""
