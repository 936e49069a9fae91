"""Errors of the corpus replay. Each message says what was wrong and what to do."""
from __future__ import annotations

from fea_ros.core.errors import FeaRosError


class FleetError(FeaRosError):
    """The corpus run cannot start or go on (as opposed to one bag failing, which is reported and skipped)."""


class RayUnavailableError(FleetError):
    """Ray is not installed, or the cluster at --ray-address cannot be reached."""


class CorpusInputError(FleetError):
    """No bag was given, or a --list file cannot be read."""


class CorpusReportError(FleetError):
    """A file given as a corpus report (e.g. to --compare) is missing or is not one."""
