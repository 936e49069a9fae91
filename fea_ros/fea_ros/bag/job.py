"""One bag replay with its outputs: what `fea-ros replay` does, as a function `fea-ros replay-many` reuses.

Opens the reader, the optional result bag and report folder, runs fea_ros.bag.replay.replay and closes them in
order. The caller may hand in a Pipeline it keeps between bags (models loaded once); it is reset first, so
every bag starts from the state a new Pipeline has.
"""
from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fea_ros.bag.errors import NothingToReplayError
from fea_ros.bag.reader import BagImageReader
from fea_ros.bag.replay import ReplaySink, ReplayStats, load_camera_info, replay
from fea_ros.bag.report import ReplayReport
from fea_ros.bag.writer import ResultBagWriter
from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.pipeline import Pipeline
from fea_ros.ros.camera_info import camera_info_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayOptions:
    """Everything about one replay but the bag and the pipeline settings (the `fea-ros replay` flags)."""

    topic: str | None = None
    start: str | None = None
    end: str | None = None
    out_bag: Path | None = None
    storage: str = "mcap"
    distro: str = "jazzy"
    with_images: bool = False
    overwrite: bool = False
    report: Path | None = None
    landmarks: bool = False
    timings: bool = True  # wall-time stage timings in frames.jsonl (off: runs give byte-identical lines)
    prefetch: bool = False  # decode frames ahead on a second thread (core/prefetch.py)


@dataclass
class ReplayOutcome:
    stats: ReplayStats
    summary: dict[str, Any] | None  # the report's summary.json, when a report was written
    bag_counts: dict[str, int] = field(default_factory=dict)  # messages per topic in the result bag
    bag_version: int = 0  # metadata version of the result bag


def _nothing_processed(stats: ReplayStats, reader: BagImageReader) -> str:
    if stats.messages_read == 0:
        window = "" if reader.start_ns is None and reader.end_ns is None else " inside --start/--end"
        return (f"no message on {reader.topic}{window} (the topic has {reader.message_count} in the whole bag); "
                "check --topic, --start and --end against `ros2 bag info`")
    return (f"none of the {stats.messages_read} messages on {reader.topic} could be used ({stats.skip_line()}); "
            "see the log above for each reason")


def replay_bag(bag: Path, config: PipelineConfig, options: ReplayOptions, pipeline: Pipeline | None = None,
               extra_sinks: Sequence[ReplaySink] = (), progress: bool = True) -> ReplayOutcome:
    """Replay ``bag`` into the outputs ``options`` names; NothingToReplayError when no frame could be processed."""
    if options.with_images and options.out_bag is None:
        raise ConfigError("--with-images copies the images into the output bag; give --out OUT_BAG too")
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(BagImageReader(bag, options.topic, options.start, options.end))
        log.info("replaying %s (%s, %d messages) from %s", reader.topic, reader.msgtype, reader.message_count,
                 reader.path)
        sinks: list[ReplaySink] = []
        writer = None
        if options.out_bag is not None:
            writer = stack.enter_context(ResultBagWriter(
                options.out_bag, options.storage, options.distro,
                image_topic=reader.topic if options.with_images else None,
                image_msgtype=reader.msgtype if options.with_images else None,
                custom_data={"fea_ros.source_bag": str(reader.path.name), "fea_ros.source_topic": reader.topic,
                             "fea_ros.config": json.dumps(asdict(config), sort_keys=True)},
                overwrite=options.overwrite))
            sinks.append(writer)
        report = None
        if options.report is not None:
            report = stack.enter_context(ReplayReport(options.report, options.landmarks, options.timings))
            sinks.append(report)
        sinks.extend(extra_sinks)
        if pipeline is None:
            pipeline = Pipeline(config)
        else:
            pipeline.reset()  # a kept pipeline starts each bag as a new one would
        camera_info = load_camera_info(reader)
        if len(camera_info):
            log.info("head pose uses the %d CameraInfo message(s) on %s", len(camera_info),
                     camera_info_topic(reader.topic))
        else:
            log.info("no CameraInfo on %s: head pose assumes camera.fov_deg = %g", camera_info_topic(reader.topic),
                     config.camera.fov_deg)
        stats = replay(reader, pipeline, sinks, progress=progress, camera_info=camera_info,
                       prefetch_depth=2 if options.prefetch else 0)
        if writer is not None:
            writer.close()
        outputs = {"bag": str(options.out_bag)} if options.out_bag is not None else {}
        summary = report.finish(stats, outputs) if report is not None else None
        if stats.processed == 0:
            raise NothingToReplayError(_nothing_processed(stats, reader))
    return ReplayOutcome(stats, summary, dict(writer.counts) if writer is not None else {},
                         writer.version if writer is not None else 0)
