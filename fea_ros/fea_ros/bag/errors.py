"""Errors of bag reading, writing and replay. Each message says what was wrong and what to do."""
from __future__ import annotations

from fea_ros.core.errors import FeaRosError, InputError


class BagError(InputError):
    """A bag cannot be opened or read."""


class TopicSelectionError(BagError):
    """No image topic, several image topics without --topic, or a --topic that is not an image topic."""


class NothingToReplayError(BagError):
    """The replay could not process a single frame (empty bag, empty time range, every message bad)."""


class BagWriteError(FeaRosError):
    """The output bag cannot be written."""
