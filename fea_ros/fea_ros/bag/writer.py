"""Write pipeline results as a rosbag2 bag that `ros2 bag play` on Humble (v8) or Jazzy (v9) accepts.

Topics are the node's: FaceExpressionArray on /fea/faces (one per processed frame, log time = the source
image's log time) and MicroExpressionEvent on /fea/micro_expressions (log time = the frame that emitted the
event). The fea_ros_msgs definitions are embedded (rosbags generates them from the registered .msg types), so
tools that read schemas from the bag (Foxglove, mcap, rosbags) decode them without fea_ros_msgs installed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer

from fea_ros.bag.errors import BagWriteError
from fea_ros.bag.reader import BagMessage
from fea_ros.core.types import FrameResult
from fea_ros.ros.messages import event_message, face_array_message, rosbags_message_types
from fea_ros.ros.msg_types import FACE_EXPRESSION_ARRAY, MICRO_EXPRESSION_EVENT, fea_ros_typestore

FACES_TOPIC = "/fea/faces"
EVENTS_TOPIC = "/fea/micro_expressions"

#: rosbag2 metadata version each distro's player accepts: Humble's reads offered_qos_profiles as a string
#: (v8 keeps it one), Jazzy writes and reads v9
DISTRO_VERSIONS: dict[str, Literal[8, 9]] = {"humble": 8, "jazzy": 9}
STORAGE_PLUGINS: dict[str, StoragePlugin] = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


class ResultBagWriter:
    """Context manager writing FrameResults (and optionally the source images) to a new rosbag2 folder."""

    def __init__(self, path: str | Path, storage: str = "mcap", distro: str = "jazzy",
                 image_topic: str | None = None, image_msgtype: str | None = None,
                 custom_data: dict[str, str] | None = None, overwrite: bool = False) -> None:
        if storage not in STORAGE_PLUGINS:
            raise BagWriteError(f"unknown storage '{storage}'; use one of {', '.join(STORAGE_PLUGINS)}")
        if distro not in DISTRO_VERSIONS:
            raise BagWriteError(f"unknown target distro '{distro}'; use one of {', '.join(DISTRO_VERSIONS)}")
        self.path = Path(path)
        self.storage, self.distro = storage, distro
        self.version = DISTRO_VERSIONS[distro]
        self.typestore = fea_ros_typestore(distro)
        self.types = rosbags_message_types(self.typestore)
        self._image_topic, self._image_msgtype = image_topic, image_msgtype
        self._custom_data = custom_data or {}
        self._overwrite = overwrite
        self._writer: Writer | None = None
        self._faces: Connection | None = None
        self._events: Connection | None = None
        self._images: Connection | None = None
        self.counts = {FACES_TOPIC: 0, EVENTS_TOPIC: 0}

    def __enter__(self) -> "ResultBagWriter":
        self.open()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self.path.exists() and self._overwrite:
            self._remove_old_bag()
        if self.path.exists():
            raise BagWriteError(f"output bag '{self.path}' exists; remove it, choose another --out, or pass "
                                "--overwrite to replace it")
        if not self.path.parent.is_dir():
            raise BagWriteError(f"folder '{self.path.parent}' for the output bag does not exist; create it")
        writer = Writer(self.path, version=self.version, storage_plugin=STORAGE_PLUGINS[self.storage])
        for key, value in self._custom_data.items():
            writer.set_custom_data(key, value)
        writer.open()
        self._writer = writer
        self._faces = writer.add_connection(FACES_TOPIC, FACE_EXPRESSION_ARRAY, typestore=self.typestore)
        self._events = writer.add_connection(EVENTS_TOPIC, MICRO_EXPRESSION_EVENT, typestore=self.typestore)
        if self._image_topic and self._image_msgtype:
            self._images = writer.add_connection(self._image_topic, self._image_msgtype, typestore=self.typestore)
            self.counts[self._image_topic] = 0

    def _remove_old_bag(self) -> None:
        """Delete an earlier output bag: only a folder that holds nothing but rosbag2 files."""
        entries = list(self.path.iterdir()) if self.path.is_dir() else []
        is_bag = (self.path / "metadata.yaml").is_file() and all(
            entry.is_file() and entry.suffix in (".yaml", ".mcap", ".db3", ".db3-shm", ".db3-wal", ".zstd")
            for entry in entries)
        if not is_bag:
            raise BagWriteError(f"'{self.path}' exists and is not a rosbag2 folder; --overwrite only replaces "
                                "bags, choose another --out")
        for entry in entries:
            entry.unlink()
        self.path.rmdir()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _write(self, connection: Connection | None, log_ns: int, rawdata: Any) -> None:
        if self._writer is None or connection is None:
            raise BagWriteError("the output bag is not open; use ResultBagWriter as a context manager")
        self._writer.write(connection, log_ns, rawdata)
        self.counts[connection.topic] += 1

    def write_result(self, result: FrameResult, log_ns: int) -> None:
        """The frame's FaceExpressionArray and the events emitted at this frame, at ``log_ns``."""
        faces = face_array_message(result, self.types)
        self._write(self._faces, log_ns, self.typestore.serialize_cdr(faces, FACE_EXPRESSION_ARRAY))
        for event in result.events:
            message = event_message(event, result.frame_id, self.types)
            self._write(self._events, log_ns, self.typestore.serialize_cdr(message, MICRO_EXPRESSION_EVENT))

    def write(self, result: FrameResult, message: BagMessage) -> None:
        """ReplaySink: the results at the source message's log time, plus the image when copying images."""
        self.write_result(result, message.log_ns)
        if self._images is not None:
            self.write_image(message.rawdata, message.log_ns)

    def write_image(self, rawdata: bytes | memoryview, log_ns: int) -> None:
        """Copy a source image message (its CDR bytes, unchanged) to the image topic."""
        if self._images is None:
            raise BagWriteError("this writer was made without an image topic; pass image_topic/image_msgtype")
        self._write(self._images, log_ns, rawdata)
