"""Which topics a rosbag2 bag holds and which one is the camera: shared by `fea-ros replay` and the launch file.

``bag_topics`` reads only what rosbag2 lists in metadata.yaml (rosbags' rosbag2 Reader: metadata versions up to 9,
so Humble's 5 and Jazzy's 8/9; sqlite3 and MCAP), without deserialising a message.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader

from fea_ros.bag.errors import BagError, TopicSelectionError

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES: tuple[str, ...] = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)


@dataclass(frozen=True)
class TopicSummary:
    topic: str
    msgtype: str
    count: int

    @property
    def is_image(self) -> bool:
        return self.msgtype in IMAGE_TYPES

    @property
    def compressed(self) -> bool:
        return self.msgtype == COMPRESSED_IMAGE_TYPE


@dataclass(frozen=True)
class CameraTopic:
    """The bag topic the node should subscribe to, and why (``note`` is empty when there was no choice)."""

    topic: str
    msgtype: str
    count: int
    note: str = ""

    @property
    def compressed(self) -> bool:
        return self.msgtype == COMPRESSED_IMAGE_TYPE


def bag_directory(path: Path) -> Path:
    """Accept the bag folder, or one of its storage files (the folder is what rosbag2 opens)."""
    if path.is_file() and path.suffix in (".mcap", ".db3") and (path.parent / "metadata.yaml").is_file():
        return path.parent
    return path


def summarize(connections: Iterable[Connection]) -> list[TopicSummary]:
    """One entry per topic and type, with the message count, sorted by topic."""
    counts: dict[tuple[str, str], int] = {}
    for connection in connections:
        key = (connection.topic, connection.msgtype)
        counts[key] = counts.get(key, 0) + connection.msgcount
    return [TopicSummary(topic, msgtype, count) for (topic, msgtype), count in sorted(counts.items())]


def bag_topics(path: str | Path) -> list[TopicSummary]:
    """Every topic of a rosbag2 bag, from its metadata."""
    folder = bag_directory(Path(path))
    if not folder.exists():
        raise BagError(f"no bag at '{folder}'; give the rosbag2 folder (the one holding metadata.yaml)")
    try:
        with Reader(folder) as reader:
            return summarize(reader.connections)
    except Exception as exc:  # rosbags raises several types for unreadable bags; all mean the same here
        raise BagError(f"cannot open bag '{folder}': {exc}; check it is a rosbag2 folder "
                       "(metadata.yaml + .db3/.mcap), e.g. with `ros2 bag info`") from exc


def image_topics(topics: Iterable[TopicSummary]) -> list[TopicSummary]:
    return [t for t in topics if t.is_image]


def describe(topics: Iterable[TopicSummary]) -> str:
    return "; ".join(f"{t.topic} ({t.msgtype}, {t.count} msgs)" for t in topics)


def no_image_topic_error(bag: str | Path, topics: list[TopicSummary]) -> TopicSelectionError:
    others = ", ".join(f"{t.topic} ({t.msgtype})" for t in topics) or "no topics at all"
    return TopicSelectionError(
        f"bag '{bag}' has no sensor_msgs/msg/Image or CompressedImage topic ({others}); "
        "record the camera topic, e.g. `ros2 bag record /camera/image_raw`")


def _preference(topic: TopicSummary) -> tuple[int, bool, str]:
    """Most messages first, then raw Image (no decoding), then by name: a stable, explainable pick."""
    return (-topic.count, topic.compressed, topic.topic)


def choose_camera_topic(topics: list[TopicSummary], bag: str | Path, camera_topic: str = "",
                        compressed: bool | None = None) -> CameraTopic:
    """The image topic of a bag to subscribe to, honouring what the user set.

    ``camera_topic``: empty = pick from the bag; else this topic, or its ``/compressed`` sibling when only that
    is in the bag. ``compressed``: None = follow the topic's type; True/False = only CompressedImage/Image.
    Raises TopicSelectionError, naming the bag's topics, when nothing in the bag fits.
    """
    images = image_topics(topics)
    wanted = [t for t in images if compressed is None or t.compressed == compressed]
    kind = {None: "image", True: "CompressedImage", False: "Image"}[compressed]
    listing = describe(images) or "none"
    if camera_topic:
        names = [camera_topic, f"{camera_topic.rstrip('/')}/compressed"]
        for name in names:
            matches = [t for t in wanted if t.topic == name]
            if matches:
                found = matches[0]
                note = "" if name == camera_topic else f"camera_topic {camera_topic} is recorded as {name}"
                return CameraTopic(found.topic, found.msgtype, found.count, note)
        same_name = [t for t in topics if t.topic in names]
        if same_name:
            raise TopicSelectionError(
                f"camera_topic {camera_topic} in bag '{bag}' is {same_name[0].msgtype}, not a {kind} topic"
                + ("" if compressed is None else " (compressed:=" + ("true" if compressed else "false") + ")")
                + f"; the bag's image topics: {listing}")
        raise TopicSelectionError(
            f"camera_topic {camera_topic} is not in bag '{bag}', so the node would receive nothing from it; "
            f"the bag's image topics: {listing}; leave camera_topic empty to pick one automatically")
    if not images:
        raise no_image_topic_error(bag, topics)
    if not wanted:
        raise TopicSelectionError(
            f"bag '{bag}' has no {kind} topic (compressed:=" + ("true" if compressed else "false")
            + f"); its image topics: {listing}; drop compressed:= to take the bag's own transport")
    chosen = sorted(wanted, key=_preference)[0]
    note = ""
    if len(wanted) > 1:
        note = (f"bag '{bag}' has {len(wanted)} {kind} topics ({describe(wanted)}); picked {chosen.topic} "
                "(most messages, raw before compressed); choose another with camera_topic:=<topic>")
    if chosen.count == 0:
        note = (note + "; " if note else "") + f"{chosen.topic} holds no messages in bag '{bag}'"
    return CameraTopic(chosen.topic, chosen.msgtype, chosen.count, note)
