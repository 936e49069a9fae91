"""The per-process side of the corpus replay: one BagWorker per Ray actor replays bags one after another.

A worker keeps one Pipeline per config hash, so the models are loaded once per worker process, not once
per bag (fea_ros.bag.job.replay_bag resets it before each bag). Each bag goes through replay_bag, the code
path of `fea-ros replay`, and its outcome is written next to its results as job.json, last and atomically:
a result folder with job.json is complete, one without it is redone by the next run.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fea_ros.bag.job import ReplayOptions, replay_bag
from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import FeaRosError, InputError
from fea_ros.core.pipeline import Pipeline
from fea_ros.fleet.tally import ExpressionTally

JOB_FILE = "job.json"
RESULT_BAG = "fea_bag"
JOB_SCHEMA = 1
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class BagTask:
    """One bag to replay: where it is, where its results go, and with what settings."""

    bag: str
    key: str
    content_hash: str
    config_hash: str
    result_dir: str
    config: PipelineConfig
    options: ReplayOptions  # report and out_bag are set per bag by the worker (inside result_dir)
    write_bag: bool = True


def write_job(result_dir: Path, job: dict[str, Any]) -> None:
    """job.json, written through a temporary file so a crash never leaves a half-written one."""
    result_dir.mkdir(parents=True, exist_ok=True)
    temporary = result_dir / (JOB_FILE + ".tmp")
    temporary.write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, result_dir / JOB_FILE)


def read_job(result_dir: Path) -> dict[str, Any] | None:
    try:
        job = json.loads((result_dir / JOB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return job if isinstance(job, dict) and job.get("schema") == JOB_SCHEMA else None


class BagWorker:
    """Replays the bags it is given, one at a time, keeping its pipelines (and their models) between bags."""

    def __init__(self) -> None:
        self._pipelines: dict[str, Pipeline] = {}
        self.pipeline_loads = 0
        self._frames = 0  # frames read by finished bags
        self._current: ExpressionTally | None = None
        self._lock = threading.Lock()

    def frames_done(self) -> int:
        """Frames read so far by this worker, the bag in progress included (polled from another thread)."""
        with self._lock:
            current = self._current.frames if self._current is not None else 0
            return self._frames + current

    def _pipeline(self, task: BagTask) -> Pipeline:
        pipeline = self._pipelines.get(task.config_hash)
        if pipeline is None:
            pipeline = Pipeline(task.config)
            self.pipeline_loads += 1
            self._pipelines[task.config_hash] = pipeline
        return pipeline

    def run(self, task: BagTask) -> dict[str, Any]:
        """Replay one bag into task.result_dir; returns (and writes as job.json) what happened."""
        result_dir = Path(task.result_dir)
        options = replace(task.options, report=result_dir, overwrite=True,
                          out_bag=result_dir / RESULT_BAG if task.write_bag else None)
        tally = ExpressionTally()
        with self._lock:
            self._current = tally
        job: dict[str, Any] = {
            "schema": JOB_SCHEMA, "key": task.key, "bag": task.bag, "content_hash": task.content_hash,
            "config_hash": task.config_hash,
            "worker": {"host": socket.gethostname(), "pid": os.getpid()},
        }
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            if result_dir.exists():  # what a lost worker left half-written (no job.json): start it afresh
                shutil.rmtree(result_dir)
            result_dir.mkdir(parents=True)
            pipeline = self._pipeline(task)
            outcome = replay_bag(Path(task.bag), task.config, options, pipeline, extra_sinks=[tally], progress=False)
        except Exception as exc:  # a failed bag is reported and the worker goes on with the next one
            # a bag that cannot be read fails the same way next time: that failure is kept. Anything else (disk
            # full, out of memory, an output folder problem, a bug) may pass, so a rerun retries the bag.
            transient = not (isinstance(exc, InputError) or type(exc).__module__.startswith("rosbags"))
            job.update(status=FAILED, error={"type": type(exc).__name__, "message": str(exc),
                                             "bag_problem": isinstance(exc, FeaRosError), "transient": transient,
                                             "where": traceback.format_exc(limit=-1).strip().splitlines()[-2:]})
            frames_read = tally.frames
        else:
            stats = outcome.stats
            job.update(status=DONE, summary=outcome.summary, tally=tally.as_dict(),
                       result_bag=RESULT_BAG if task.write_bag else None)
            frames_read = stats.messages_read
        job["run_wall_s"] = round(time.perf_counter() - started, 3)
        job["cpu_s"] = round(time.process_time() - cpu_started, 3)  # this process's CPU time (all its threads)
        job["frames_counted"] = frames_read  # what this bag added to the progress count
        job["worker"]["pipeline_loads"] = self.pipeline_loads
        with self._lock:
            self._frames += frames_read
            self._current = None
        if job["status"] == DONE or not job["error"]["transient"]:
            write_job(result_dir, job)
        return job
