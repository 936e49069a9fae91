"""Offline replay without ROS: bag images -> BGR -> Pipeline (core/frame_pipeline.py) -> result sinks (bag, report).

Frames are processed in bag order, as fast as the machine allows. A header stamp earlier than the last
processed one (a looped or concatenated recording) resets the pipeline's tracks, as the node does. A message
that cannot be used (damaged CDR record, bad Image fields, corrupt JPEG) is skipped, logged and counted by
reason; the replay goes on with the next one.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from tqdm import tqdm

from fea_ros.bag.reader import BagImageReader, BagMessage
from fea_ros.core.errors import InputError
from fea_ros.core.image_msg import ImageMessageError, message_to_bgr
from fea_ros.core.frame_pipeline import FrameJob, process_frames
from fea_ros.core.prefetch import prefetch
from fea_ros.core.types import Frame, FrameResult
from fea_ros.ros.camera_info import CameraInfoMatcher, camera_info_topic

if TYPE_CHECKING:
    from fea_ros.core.pipeline import Pipeline

log = logging.getLogger(__name__)

#: skip reason of a message whose CDR bytes could not be deserialised
DESERIALIZE_FAILED = "deserialize_failed"
#: skip reason of an image the pipeline refused (InputError from Pipeline.process)
PIPELINE_REFUSED = "pipeline_refused"
#: skip reasons logged one by one before the log goes quiet for that reason (all are still counted)
LOGGED_PER_REASON = 5


#: a decoded message as the replay loop gets it: the message, its image (or why it has none), decode ms
_Decoded = tuple[BagMessage, "np.ndarray | ImageMessageError | InputError", float]


class ReplaySink(Protocol):
    """Receives every processed frame, in order."""

    def write(self, result: FrameResult, message: BagMessage) -> None: ...


@dataclass
class SkippedMessage:
    index: int  # position of the message in the replayed topic (inside --start/--end)
    log_ns: int
    stamp_ns: int
    reason: str  # e.g. truncated_data, bad_step, unknown_encoding, corrupt_compressed, zero_size
    detail: str  # the full error text


@dataclass
class TrackReset:
    index: int
    stamp_ns: int
    previous_stamp_ns: int


@dataclass
class ReplayStats:
    bag: str
    topic: str
    msgtype: str
    messages_read: int = 0
    processed: int = 0
    skipped: list[SkippedMessage] = field(default_factory=list)
    resets: list[TrackReset] = field(default_factory=list)
    face_ids: list[str] = field(default_factory=list)  # in order of first appearance
    events: int = 0
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None
    convert_ms: list[float] = field(default_factory=list)  # message -> BGR, per processed frame
    stage_ms: dict[str, list[float]] = field(default_factory=dict)  # pipeline stage -> per-frame ms
    wall_s: float = 0.0

    @property
    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))

    @property
    def fps(self) -> float:
        return self.processed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def bag_duration_s(self) -> float:
        if self.first_stamp_ns is None or self.last_stamp_ns is None:
            return 0.0
        return max(self.last_stamp_ns - self.first_stamp_ns, 0) / 1e9

    def skip_line(self) -> str:
        """One line for the console: how many were skipped, and why."""
        if not self.skipped:
            return "skipped 0 messages"
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skip_counts.items()))
        return f"skipped {len(self.skipped)} message(s): {reasons}"


def _skip(stats: ReplayStats, logged: Counter[str], message: BagMessage, reason: str, detail: str) -> None:
    skip = SkippedMessage(message.index, message.log_ns, message.stamp_ns, reason, detail)
    stats.skipped.append(skip)
    logged[reason] += 1
    if logged[reason] <= LOGGED_PER_REASON:
        log.warning("skipping message %d (stamp %d): %s", skip.index, skip.stamp_ns, skip.detail)
        if logged[reason] == LOGGED_PER_REASON:
            log.warning("further '%s' skips are counted, not logged", reason)


def _record(stats: ReplayStats, result: FrameResult, convert_ms: float) -> None:
    stats.processed += 1
    stats.convert_ms.append(convert_ms)
    for stage, ms in result.timings_ms.items():
        stats.stage_ms.setdefault(stage, []).append(float(ms))
    for face in result.faces:
        if face.face_id not in stats.face_ids:
            stats.face_ids.append(face.face_id)
    stats.events += len(result.events)


def load_camera_info(reader: BagImageReader) -> CameraInfoMatcher:
    """Every CameraInfo on the image topic's sibling camera_info topic (empty matcher if there is none)."""
    matcher = CameraInfoMatcher(keep=1 << 30)  # a bag is finite: keep them all
    for message in reader.camera_infos(camera_info_topic(reader.topic)):
        matcher.add(message)
    return matcher


def _decode(message: BagMessage) -> tuple[BagMessage, np.ndarray | ImageMessageError, float]:
    """The message's BGR image (or why it has none) and the ms it took; runs on the prefetch thread."""
    tick = time.perf_counter()
    try:
        if message.message is None:
            raise ImageMessageError(DESERIALIZE_FAILED, message.error)
        image: np.ndarray | ImageMessageError = message_to_bgr(message.message)
    except ImageMessageError as exc:
        image = exc
    return message, image, (time.perf_counter() - tick) * 1e3


def replay(reader: BagImageReader, pipeline: Pipeline, sinks: Sequence[ReplaySink] = (),
           progress: bool = True, camera_info: CameraInfoMatcher | None = None,
           prefetch_depth: int = 0) -> ReplayStats:
    """Run ``pipeline`` over every image message of an open ``reader`` and hand results to ``sinks``.

    ``camera_info``: intrinsics matched to each image by stamp (load_camera_info reads the bag's); None or
    empty = the pipeline assumes camera.fov_deg.

    With ``prefetch_depth`` > 0 messages are read and decoded that many frames ahead on a second thread, so
    decoding overlaps inference on a two-core machine (convert_ms is then the decode time on that thread). Off
    by default: the decode thread's Python (CDR deserialisation) competes for the GIL with the pipeline, and
    on the loaded test machine it was not faster.
    """
    stats = ReplayStats(bag=str(reader.path), topic=reader.topic, msgtype=reader.msgtype)
    logged: Counter[str] = Counter()
    ranged = reader.start_ns is not None or reader.end_ns is not None
    bar = tqdm(total=None if ranged else reader.message_count, unit="frame", desc=f"replay {reader.topic}",
               disable=not progress, leave=False)
    started = time.perf_counter()
    decoded = prefetch(reader, _decode, depth=prefetch_depth)

    def jobs() -> Iterator[FrameJob[_Decoded]]:
        previous_stamp: int | None = None
        for message, image, convert_ms in decoded:
            stats.messages_read += 1
            bar.update(1)
            if isinstance(image, ImageMessageError):
                yield FrameJob((message, image, convert_ms), None)
                continue
            stamp = message.stamp_ns
            reset = False
            if previous_stamp is not None and stamp < previous_stamp:
                reset = True
                log.info("stamp went back from %d to %d at message %d: tracks reset",
                         previous_stamp, stamp, message.index)
                stats.resets.append(TrackReset(message.index, stamp, previous_stamp))
            previous_stamp = stamp
            try:
                camera = camera_info.match(stamp) if camera_info is not None else None
            except InputError as exc:
                yield FrameJob((message, exc, convert_ms), None)
                continue
            yield FrameJob((message, image, convert_ms),
                           Frame(image=image, stamp_ns=stamp, frame_id=message.frame_id, index=message.index,
                                 camera=camera), reset=reset)

    # inference.frame_pipeline: the next frame's detection and mesh overlap this frame's later stages
    results = process_frames(pipeline, jobs())
    try:
        for (message, image, convert_ms), result in results:
            if isinstance(image, ImageMessageError):
                _skip(stats, logged, message, image.reason, str(image))
                continue
            if isinstance(image, InputError) or isinstance(result, InputError):
                # the pipeline refuses an image it cannot use (e.g. too small)
                _skip(stats, logged, message, PIPELINE_REFUSED, str(image if isinstance(image, InputError)
                                                                     else result))
                continue
            assert result is not None  # a job with a frame has a result or an InputError
            if stats.first_stamp_ns is None:
                stats.first_stamp_ns = message.stamp_ns
            stats.last_stamp_ns = message.stamp_ns
            _record(stats, result, convert_ms)
            for sink in sinks:
                sink.write(result, message)
            bar.set_postfix(faces=len(result.faces), skipped=len(stats.skipped), refresh=False)
    finally:
        results.close()  # waits for the frame in flight
        decoded.close()  # stops the decode thread before the reader closes
        bar.close()
        stats.wall_s = time.perf_counter() - started
    return stats
