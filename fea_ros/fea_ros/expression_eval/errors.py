"""Errors of the expression evaluation. Each message says what was wrong and what to do."""
from fea_ros.core.errors import InputError


class LabelsFileError(InputError):
    """A labels CSV cannot be read or has none of the expected columns."""
