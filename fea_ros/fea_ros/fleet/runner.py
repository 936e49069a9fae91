"""`fea-ros replay-many` from bag paths to the corpus report: plan (hash, find earlier results), run, report.

OUT holds results/<content hash>-<config hash>/ per recording (frames.jsonl, summary.*, timelines, the result
bag, job.json) and the corpus report. A result folder whose job.json says done is never replayed again with
the same settings; a bag that failed for a reason of its own (corrupt, no image topic) is not retried either
unless --retry-failed, while a failure that may pass (lost worker, disk full) is retried by the next run.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fea_ros.bag.job import ReplayOptions
from fea_ros.core.config import PipelineConfig
from fea_ros.fleet.corpus import estimated_frames
from fea_ros.fleet.errors import CorpusInputError
from fea_ros.fleet.executor import OBJECT_STORE_MB, RayRun, default_workers, run_tasks, start_ray
from fea_ros.fleet.keys import ContentHasher, config_hash, result_key
from fea_ros.fleet.report import RESULTS, BagEntry, build_report, write_report
from fea_ros.fleet.worker import DONE, BagTask, read_job

log = logging.getLogger(__name__)

HASH_CACHE = ".content_hashes.json"


@dataclass(frozen=True)
class CorpusSettings:
    out: Path
    config: PipelineConfig
    options: ReplayOptions
    write_bag: bool = True
    retry_failed: bool = False
    workers: int | None = None
    ray_address: str | None = None
    object_store_mb: int = OBJECT_STORE_MB
    progress: bool = True

    def options_record(self) -> dict[str, Any]:
        """The replay options that change results (they go into the config hash and the report)."""
        record = {name: getattr(self.options, name) for name in
                  ("topic", "start", "end", "storage", "distro", "with_images", "landmarks", "timings")}
        record["write_bag"] = self.write_bag
        return record


@dataclass
class CorpusPlan:
    entries: list[BagEntry]
    tasks: list[BagTask]
    estimated: dict[str, int]  # key -> image frames announced by metadata.yaml
    config_hash: str


def plan_corpus(bags: list[Path], settings: CorpusSettings) -> CorpusPlan:
    """Hash every bag, reuse finished results, and make one task per recording still to replay."""
    results = settings.out / RESULTS
    try:
        results.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusInputError(f"cannot create the output folder '{settings.out}': {exc}; choose another --out") \
            from exc
    hasher = ContentHasher(settings.out / HASH_CACHE)
    cfg_hash = config_hash(settings.config, settings.options_record())
    entries: list[BagEntry] = []
    tasks: dict[str, BagTask] = {}
    estimated: dict[str, int] = {}
    first_path: dict[str, str] = {}
    for bag in tqdm(bags, desc="hashing bags", unit="bag", disable=not settings.progress, leave=False):
        if not bag.exists():
            entries.append(BagEntry(bag, None, None, problem=f"no bag at '{bag}'; check the path (it must be "
                                    "visible at the same path on every Ray node)"))
            continue
        try:
            content = hasher.content_hash(bag)
        except OSError as exc:
            entries.append(BagEntry(bag, None, None, problem=f"cannot read '{bag}': {exc}"))
            continue
        key = result_key(content, cfg_hash)
        entry = BagEntry(bag, key, None, same_content_as=first_path.get(key))
        first_path.setdefault(key, str(bag))
        entries.append(entry)
        if key in tasks or entry.same_content_as is not None:
            continue
        job = read_job(results / key)
        if job is not None and (job["status"] == DONE or not settings.retry_failed):
            entry.job, entry.resumed = job, True
            continue
        estimated[key] = estimated_frames(bag, settings.options.topic)
        tasks[key] = BagTask(bag=str(bag), key=key, content_hash=content, config_hash=cfg_hash,
                             result_dir=str(results / key), config=settings.config, options=settings.options,
                             write_bag=settings.write_bag)
    hasher.save()
    log.info("%d bag path(s): %d to replay, %d hashed in this run", len(bags), len(tasks), hasher.hashed)
    return CorpusPlan(entries, list(tasks.values()), estimated, cfg_hash)


def _frames_of(job: dict[str, Any] | None) -> int:
    return int(((job or {}).get("summary") or {}).get("frames", {}).get("read", 0))


def run_corpus(bags: list[Path], settings: CorpusSettings) -> dict[str, Any]:
    """Replay the corpus (only what is not done yet) and write the corpus report; returns the report."""
    plan = plan_corpus(bags, settings)
    cpus_per_worker = settings.config.inference.threads
    started = time.perf_counter()
    run = RayRun(address=settings.ray_address or "local", workers=0, ray_version="")
    jobs: dict[str, dict[str, Any]] = {}
    if plan.tasks:
        local_workers = settings.workers or max(1, (os.cpu_count() or 1) // cpus_per_worker)
        connecting = time.perf_counter()
        ray, started_here = start_ray(local_workers, cpus_per_worker, settings.ray_address, settings.object_store_mb)
        run.startup_s = round(time.perf_counter() - connecting, 3)
        try:
            workers = settings.workers or default_workers(ray, cpus_per_worker)
            run.workers, run.ray_version = min(workers, len(plan.tasks)), ray.__version__
            resumed = [e for e in plan.entries if e.resumed]
            for job in run_tasks(ray, plan.tasks, workers, cpus_per_worker, plan.estimated, settings.progress,
                                 frames_before=sum(_frames_of(e.job) for e in resumed), bags_before=len(resumed)):
                jobs[job["key"]] = job
        finally:
            if started_here:
                ray.shutdown()
    run.wall_s = round(time.perf_counter() - started, 3)
    resumed_keys = {e.key for e in plan.entries if e.resumed}
    jobs.update({e.key: e.job for e in plan.entries if e.resumed and e.key and e.job})
    for entry in plan.entries:
        if entry.key is not None and entry.job is None:
            entry.job = jobs.get(entry.key)
            entry.resumed = entry.key in resumed_keys
            if entry.job is None:
                entry.problem = "not replayed (the run was interrupted)"
    run.hosts = sorted({e.job["worker"]["host"] for e in plan.entries if e.job and "worker" in e.job})
    report = build_report(plan.entries, asdict(run), asdict(settings.config), settings.options_record(),
                          plan.config_hash)
    write_report(report, settings.out)
    return report

