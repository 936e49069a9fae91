"""Run BagTasks on Ray: a local Ray on this machine, or an existing cluster (--ray-address).

N BagWorker actors (one process each, models loaded once) take one bag at a time; the driver hands the
next bag, largest first, to whichever worker is free, so a long bag does not end up last. A worker process
that dies costs its current bag (reported; a rerun retries it) and is replaced. The corpus progress bar
counts frames over every worker, polled from each actor's second thread while it replays.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from fea_ros.fleet.errors import RayUnavailableError
from fea_ros.fleet.worker import FAILED, BagTask, BagWorker

log = logging.getLogger(__name__)

#: the local Ray's shared-memory object store; bag results are small dicts, so the minimum is plenty
OBJECT_STORE_MB = 100
POLL_S = 0.5
#: tries of a bag whose worker process is lost (a bag that fails in the replay is not tried again)
ATTEMPTS = 2


@dataclass
class RayRun:
    """How the run went, for the report: where, with how many workers, how long."""

    address: str
    workers: int
    ray_version: str
    wall_s: float = 0.0  # the whole run: hashing, Ray start, replays, report
    startup_s: float = 0.0  # starting (or connecting to) Ray
    hosts: list[str] = field(default_factory=list)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailableError("replay-many runs on Ray, which is not installed; install it with "
                                  "`pip install 'fea_ros[fleet]'` (or `pip install ray`)") from None
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not minutes (ray.init retries), when nothing listens at a HOST:PORT address."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # 'auto', ray:// client addresses: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailableError(f"nothing answers at --ray-address {address} ({exc}); start the head with "
                                  "`ray start --head --port=6379` and give HEAD_IP:6379") from exc


def start_ray(workers: int, cpus_per_worker: int, address: str | None,
              object_store_mb: int = OBJECT_STORE_MB) -> tuple[Any, bool]:
    """Connect to ``address``, or start a local Ray on loopback only; returns (ray, whether we started it)."""
    if address is None:
        # Ray on Linux advertises the host's routable address; with this set it stays on 127.0.0.1 (read at
        # import time, so set before ray is imported). Usage statistics are never sent.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    if ray.is_initialized():  # a session the caller opened (e.g. tests sharing one Ray)
        return ray, False
    try:
        if address is None:
            # address="local": always a new Ray of our own, never one that `ray start` left on this machine
            ray.init(address="local", num_cpus=workers * cpus_per_worker, include_dashboard=False,
                     _node_ip_address="127.0.0.1",
                     object_store_memory=object_store_mb * 2**20, logging_level=logging.WARNING)
        else:
            check_reachable(address)
            ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if address is None:
            raise RayUnavailableError(f"cannot start a local Ray: {exc}") from exc
        raise RayUnavailableError(
            f"cannot join the Ray cluster at {address}: {exc}; check the address (`ray status` on the head) and, "
            "if the cluster uses token authentication, run with RAY_AUTH_MODE=token and the cluster's token "
            "(docs/fleet.md)") from exc
    return ray, True


def default_workers(ray: Any, cpus_per_worker: int) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus_per_worker)


class _Pool:
    """The BagWorker actors and the frames each has reported (for the progress bar)."""

    def __init__(self, ray: Any, count: int, cpus_per_worker: int) -> None:
        self.ray = ray
        self._actor_class = ray.remote(num_cpus=cpus_per_worker, max_concurrency=2, max_restarts=0)(BagWorker)
        self.idle = [self._actor_class.remote() for _ in range(count)]
        self.frames: dict[Any, int] = {actor: 0 for actor in self.idle}
        self.retired_frames = 0

    def replace(self, lost: Any) -> Any:
        self.retired_frames += self.frames.pop(lost, 0)
        try:
            self.ray.kill(lost, no_restart=True)  # it may still live after a task-level Ray error
        except Exception:  # already gone
            pass
        actor = self._actor_class.remote()
        self.frames[actor] = 0
        return actor

    def poll(self) -> int:
        """Frames read so far by every worker (dead ones included); a worker that does not answer keeps its count."""
        refs = {actor.frames_done.remote(): actor for actor in self.frames}
        ready, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=POLL_S)
        for ref in ready:
            try:
                self.frames[refs[ref]] = max(self.frames.get(refs[ref], 0), int(self.ray.get(ref)))
            except Exception:  # the actor died; its run() result reports that
                pass
        return self.retired_frames + sum(self.frames.values())


def _lost(task: BagTask, error_type: str, message: str) -> dict[str, Any]:
    """The job record of a bag whose task failed in Ray, not in the replay (not kept: a rerun retries it)."""
    return {"schema": 1, "key": task.key, "bag": task.bag, "content_hash": task.content_hash,
            "config_hash": task.config_hash, "status": FAILED,
            "error": {"type": error_type, "message": message, "bag_problem": False, "transient": True, "where": []}}


def run_tasks(ray: Any, tasks: Sequence[BagTask], workers: int, cpus_per_worker: int, estimated: dict[str, int],
              progress: bool = True, frames_before: int = 0, bags_before: int = 0) -> list[dict[str, Any]]:
    """Replay every task on ``workers`` actors; one job dict per task, in completion order."""
    queue = deque(sorted(tasks, key=lambda t: -estimated.get(t.key, 0)))  # largest first: shorter tail
    pool = _Pool(ray, min(workers, len(tasks)), cpus_per_worker) if tasks else None
    total_frames = frames_before + sum(estimated.get(t.key, 0) for t in tasks)
    bags_total = bags_before + len(tasks)
    bar = tqdm(total=total_frames, initial=frames_before, unit="frame", desc="corpus", disable=not progress,
               dynamic_ncols=True, mininterval=1.0)
    jobs: list[dict[str, Any]] = []
    inflight: dict[Any, tuple[Any, BagTask]] = {}
    failed = 0
    attempts: dict[str, int] = {}
    try:
        while pool is not None and (queue or inflight):
            while pool.idle and queue:
                actor, task = pool.idle.pop(), queue.popleft()
                inflight[actor.run.remote(task)] = (actor, task)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_S)
            for ref in ready:
                actor, task = inflight.pop(ref)
                try:
                    job = ray.get(ref)
                except Exception as exc:  # the worker died (crash, Ray's out-of-memory killer), not the bag's fault
                    actor = pool.replace(actor)
                    attempts[task.key] = attempts.get(task.key, 1) + 1
                    reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                    if attempts[task.key] <= ATTEMPTS:
                        log.warning("worker lost replaying %s (%s); trying the bag again on a new worker",
                                    task.bag, reason)
                        queue.appendleft(task)
                        pool.idle.append(actor)
                        continue
                    job = _lost(task, type(exc).__name__, f"the worker process replaying this bag was lost "
                                f"{ATTEMPTS} times ({reason}); a rerun retries it; if it happens again, replay the "
                                "bag alone with `fea-ros replay`")
                pool.idle.append(actor)
                jobs.append(job)
                failed += job["status"] == FAILED
                if job["status"] == FAILED:
                    log.info("bag %s failed: %s", task.bag, job["error"]["message"])
                bar.total = (bar.total or 0) + int(job.get("frames_counted", 0)) - estimated.get(task.key, 0)  # metadata: an estimate
            frames = frames_before + pool.poll()
            bar.set_postfix_str(f"bags {bags_before + len(jobs)}/{bags_total}, failed {failed}", refresh=False)
            bar.update(max(frames - bar.n, 0))  # tqdm redraws at most every mininterval
    finally:
        bar.close()
    return jobs
