"""Read the camera images of a rosbag2 bag (sqlite3 or MCAP, metadata versions up to 9) with rosbags."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader
from rosbags.interfaces import Connection
from rosbags.typesys import Stores, get_typestore

from fea_ros.bag.errors import BagError, TopicSelectionError
from fea_ros.bag.topics import (IMAGE_TYPES, TopicSummary, bag_directory, describe, no_image_topic_error,
                                summarize)

#: --start/--end values at or above this are absolute stamps in ns; below, seconds from the bag start
ABSOLUTE_NS_THRESHOLD = 10**12


@dataclass
class BagMessage:
    """One message of the replayed topic, in bag order."""

    index: int  # 0-based position among the topic's messages inside --start/--end
    log_ns: int  # the bag's receive timestamp
    msgtype: str
    rawdata: bytes | memoryview  # CDR bytes as stored (copied as-is by --with-images)
    message: Any | None  # the deserialised message; None when deserialisation failed
    error: str = ""  # why deserialisation failed

    @property
    def stamp_ns(self) -> int:
        """The header stamp, or the receive time when the publisher left the stamp at zero."""
        if self.message is None:
            return self.log_ns
        stamp = self.message.header.stamp
        ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
        return ns if ns > 0 else self.log_ns

    @property
    def frame_id(self) -> str:
        return "" if self.message is None else str(self.message.header.frame_id)


def parse_time(value: str | float | int | None, bag_start_ns: int, name: str = "time") -> int | None:
    """``--start``/``--end``: seconds relative to the bag start, or an absolute stamp in ns (>= 1e12)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BagError(f"--{name} '{value}' is not a number; give seconds from the bag start (e.g. 2.5) "
                       "or an absolute stamp in nanoseconds (e.g. 1700000000000000000)") from None
    if number >= ABSOLUTE_NS_THRESHOLD:
        return int(value) if isinstance(value, int) or str(value).strip().isdigit() else int(number)
    if number < 0:
        raise BagError(f"--{name} {value} is negative; give seconds from the bag start (>= 0)")
    return bag_start_ns + round(number * 1e9)


class BagImageReader:
    """The image messages of one topic of a bag, in bag order, optionally limited to [start, end).

    Use as a context manager. ``topic=None`` picks the bag's only image topic.
    """

    def __init__(self, path: str | Path, topic: str | None = None,
                 start: str | float | int | None = None, end: str | float | int | None = None) -> None:
        self.path = bag_directory(Path(path))
        self._requested_topic = topic
        self._start_arg, self._end_arg = start, end
        self._reader: AnyReader | None = None
        self._connections: list[Connection] = []
        self.topic = ""
        self.msgtype = ""
        self.start_ns: int | None = None
        self.end_ns: int | None = None

    def __enter__(self) -> "BagImageReader":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if not self.path.exists():
            raise BagError(f"no bag at '{self.path}'; give the rosbag2 folder (the one holding metadata.yaml)")
        try:
            reader = AnyReader([self.path], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
            reader.open()
        except Exception as exc:  # rosbags raises several types for unreadable bags; all mean the same here
            raise BagError(f"cannot open bag '{self.path}': {exc}; check it is a rosbag2 folder "
                           "(metadata.yaml + .db3/.mcap), e.g. with `ros2 bag info`") from exc
        self._reader = reader
        try:
            self._select_topic()
            self._ensure_image_types()
            self.start_ns = parse_time(self._start_arg, reader.start_time, "start")
            self.end_ns = parse_time(self._end_arg, reader.start_time, "end")
        except Exception:
            self.close()
            raise
        if self.start_ns is not None and self.end_ns is not None and self.end_ns <= self.start_ns:
            self.close()
            raise BagError(f"--end ({self._end_arg}) is not after --start ({self._start_arg}); widen the range")

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def reader(self) -> AnyReader:
        if self._reader is None:
            raise BagError("the bag is not open; use BagImageReader as a context manager")
        return self._reader

    @property
    def topics(self) -> list[TopicSummary]:
        """Every topic of the bag (one entry per topic and type)."""
        return summarize(self.reader.connections)

    @property
    def image_topics(self) -> list[TopicSummary]:
        return [t for t in self.topics if t.is_image]

    @property
    def message_count(self) -> int:
        """Messages of the chosen topic in the whole bag (the time range may select fewer)."""
        return sum(c.msgcount for c in self._connections)

    @property
    def bag_start_ns(self) -> int:
        return self.reader.start_time

    def _select_topic(self) -> None:
        candidates = self.image_topics
        listing = describe(candidates)
        if self._requested_topic:
            matches = [t for t in self.topics if t.topic == self._requested_topic]
            if not matches:
                raise TopicSelectionError(
                    f"topic '{self._requested_topic}' is not in bag '{self.path}'; image topics: "
                    f"{listing or 'none'}")
            images = [t for t in matches if t.msgtype in IMAGE_TYPES]
            if not images:
                raise TopicSelectionError(
                    f"topic '{self._requested_topic}' has type {matches[0].msgtype}, not Image or "
                    f"CompressedImage; image topics: {listing or 'none'}")
            chosen = images[0]
        elif len(candidates) == 1:
            chosen = candidates[0]
        elif not candidates:
            raise no_image_topic_error(self.path, self.topics)
        else:
            raise TopicSelectionError(
                f"bag '{self.path}' has {len(candidates)} image topics; choose one with --topic: {listing}")
        self.topic, self.msgtype = chosen.topic, chosen.msgtype
        self._connections = [c for c in self.reader.connections
                             if c.topic == chosen.topic and c.msgtype == chosen.msgtype]

    def _ensure_image_types(self) -> None:
        """Bags with definitions for only some topics leave the image types out of the reader's typestore."""
        typestore = self.reader.typestore
        if self.msgtype not in typestore.fielddefs:
            humble = get_typestore(Stores.ROS2_HUMBLE)
            needed = {name: humble.fielddefs[name] for name in humble.fielddefs
                      if name not in typestore.fielddefs}
            typestore.register(needed)

    def __iter__(self) -> Iterator[BagMessage]:
        reader = self.reader
        stream = reader.messages(connections=self._connections, start=self.start_ns, stop=self.end_ns)
        for index, (connection, log_ns, rawdata) in enumerate(stream):
            try:
                message = reader.deserialize(rawdata, connection.msgtype)
            except Exception as exc:  # a truncated or garbled CDR record is one bad message, not a bad bag
                yield BagMessage(index, log_ns, connection.msgtype, rawdata, None,
                                 f"CDR deserialisation failed ({type(exc).__name__}: {exc}); the record is "
                                 "damaged, re-record or drop it")
                continue
            yield BagMessage(index, log_ns, connection.msgtype, rawdata, message)
