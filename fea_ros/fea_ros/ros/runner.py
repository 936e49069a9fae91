"""A one-slot mailbox and a worker thread: a slow pipeline drops old frames instead of queueing them.

Framework-free: the node hands every incoming frame to ``submit``; the worker always processes the newest
frame and calls ``on_result`` (or ``on_error``) from its own thread. ``stats()`` feeds /diagnostics.

With a second stage (``finish``: inference.frame_pipeline, Pipeline.front then Pipeline.back) a second
worker runs ``finish`` on the first stage's output while the first worker takes the next frame. Each stage
holds at most one frame: the first worker takes a frame from the mailbox only once the second has taken the
previous one, so no frame waits in a queue; a frame that passed the first stage always goes through the
second (its state must follow it), also when the runner stops.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

import numpy as np

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class RunnerStats:
    """Counters since start and rates/latencies over the last ``window_s`` seconds."""

    submitted: int  # frames handed to submit()
    processed: int  # frames the worker finished (with a result or an error)
    dropped: int  # frames replaced in the mailbox before the worker took them, plus frames lost on the way
    errors: int  # frames whose processing raised
    submitted_in_window: int  # frames handed to submit() or reported lost in the last window_s
    dropped_in_window: int  # of those, frames replaced or lost (same window: a ratio of like with like)
    lost: int  # frames that never reached submit() (the node's DDS reader discarded them), as reported
    errors_in_window: int  # frames whose processing raised, in the last window_s
    input_rate_hz: float
    processed_rate_hz: float
    latency_p50_ms: float  # submit -> result, NaN when nothing was processed in the window
    latency_p95_ms: float
    seconds_since_input: float  # inf when nothing was ever submitted
    window_s: float


class FrameRunner(Generic[Item, Result]):
    """Runs ``process`` on the newest submitted item in a worker thread."""

    def __init__(self, process: Callable[[Item], Any], on_result: Callable[[Item, Result], None],
                 on_error: Callable[[Item, Exception], None] | None = None, window_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, name: str = "fea_ros-runner",
                 finish: Callable[[Any], Result] | None = None) -> None:
        """``process`` gives the result, or with ``finish`` what ``finish`` (on a second thread) turns into it."""
        self._process = process
        self._finish_stage = finish
        #: the first stage's output waiting for the second: (item, submit time, output)
        self._handoff: tuple[Item, float, Any] | None = None
        self._stage1_running = False  # set and cleared by the first worker itself
        self._thread2: threading.Thread | None = None
        self._on_result = on_result
        self._on_error = on_error
        self._window_s = window_s
        self._clock = clock
        self._name = name
        self._condition = threading.Condition()
        self._slot: tuple[Item, float] | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self._submitted = self._processed = self._dropped = self._errors = 0
        self._submit_times: deque[float] = deque()
        self._drop_times: deque[float] = deque()
        self._lost_times: deque[tuple[float, int]] = deque()
        self._lost = 0
        self._error_times: deque[float] = deque()
        self._done: deque[tuple[float, float]] = deque()  # (done time, latency s)
        self._last_input: float | None = None
        self._started_at = clock()

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        with self._condition:
            if self._running:
                return
            self._running = True
            self._slot = None
            self._handoff = None  # a frame a stop() left between the stages belongs to the old run
            self._started_at = self._clock()
            self._stage1_running = True
        self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        self._thread.start()
        if self._finish_stage is not None:
            self._thread2 = threading.Thread(target=self._work_stage2, name=f"{self._name}-2", daemon=True)
            self._thread2.start()

    def submit(self, item: Item) -> bool:
        """Put ``item`` in the mailbox, replacing (and counting as dropped) an unprocessed one.

        Returns False, and keeps nothing, when the runner is not running.
        """
        now = self._clock()
        with self._condition:
            if not self._running:
                return False
            self._submitted += 1
            self._last_input = now
            self._submit_times.append(now)
            self._trim(now)
            if self._slot is not None:
                self._dropped += 1
                self._drop_times.append(now)
            self._slot = (item, now)
            self._condition.notify_all()  # with two stages both workers wait on this condition
        return True

    def count_lost(self, frames: int) -> None:
        """Count ``frames`` that were sent but never arrived (a gap in the publisher's sequence numbers)."""
        now = self._clock()
        with self._condition:
            self._lost += frames
            self._lost_times.append((now, frames))
            self._trim(now)

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop taking frames, let the frames in progress finish, join the workers. True if they exited."""
        with self._condition:
            self._running = False
            self._slot = None
            self._condition.notify_all()
        deadline = time.monotonic() + timeout_s
        stopped = True
        for attribute in ("_thread", "_thread2"):
            thread = getattr(self, attribute)
            setattr(self, attribute, None)
            if thread is None or thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            stopped = stopped and not thread.is_alive()
        return stopped

    def stats(self) -> RunnerStats:
        now = self._clock()
        with self._condition:
            self._trim(now)
            latencies = np.array([latency for _, latency in self._done], dtype=np.float64) * 1e3
            lost_in_window = sum(count for _, count in self._lost_times)
            # early on the window is not full yet: divide by the time actually covered
            span = max(min(self._window_s, now - self._started_at), 1e-3)
            return RunnerStats(
                submitted=self._submitted, processed=self._processed, dropped=self._dropped + self._lost,
                errors=self._errors,
                submitted_in_window=len(self._submit_times) + lost_in_window,
                dropped_in_window=len(self._drop_times) + lost_in_window, lost=self._lost,
                errors_in_window=len(self._error_times),
                input_rate_hz=len(self._submit_times) / span,
                processed_rate_hz=len(self._done) / span,
                latency_p50_ms=float(np.percentile(latencies, 50)) if latencies.size else float("nan"),
                latency_p95_ms=float(np.percentile(latencies, 95)) if latencies.size else float("nan"),
                seconds_since_input=(now - self._last_input) if self._last_input is not None else float("inf"),
                window_s=self._window_s,
            )

    def _trim(self, now: float) -> None:
        horizon = now - self._window_s
        while self._submit_times and self._submit_times[0] < horizon:
            self._submit_times.popleft()
        for times in (self._drop_times, self._error_times):
            while times and times[0] < horizon:
                times.popleft()
        while self._lost_times and self._lost_times[0][0] < horizon:
            self._lost_times.popleft()
        while self._done and self._done[0][0] < horizon:
            self._done.popleft()

    def _work(self) -> None:
        try:
            self._work_stage1()
        finally:
            with self._condition:
                self._stage1_running = False
                self._condition.notify_all()

    def _work_stage1(self) -> None:
        two_stages = self._finish_stage is not None
        while True:
            with self._condition:
                # with two stages, a frame is taken only when the second stage has taken the previous one
                while self._running and (self._slot is None or (two_stages and self._handoff is not None)):
                    self._condition.wait()
                if not self._running:
                    return
                assert self._slot is not None  # the wait above ends only with a slot or when stopping
                item, submitted_at = self._slot
                self._slot = None
            try:
                output = self._process(item)
            except Exception as error:  # the node must keep going on bad frames
                self._failed(item, submitted_at, error)
                continue
            if two_stages:
                with self._condition:
                    self._handoff = (item, submitted_at, output)
                    self._condition.notify_all()
                continue
            self._deliver(item, submitted_at, output)

    def _work_stage2(self) -> None:
        assert self._finish_stage is not None
        while True:
            with self._condition:
                # a frame the first stage has passed is finished even when stopping (its state follows it)
                while self._handoff is None and (self._running or self._stage1_running):
                    self._condition.wait(0.1)
                if self._handoff is None:
                    return
                item, submitted_at, output = self._handoff
                self._handoff = None
                self._condition.notify_all()
            try:
                result = self._finish_stage(output)
            except Exception as error:
                self._failed(item, submitted_at, error)
                continue
            self._deliver(item, submitted_at, result)

    def _failed(self, item: Item, submitted_at: float, error: Exception) -> None:
        self._finish(submitted_at, failed=True)
        self._report(item, error)

    def _deliver(self, item: Item, submitted_at: float, result: Result) -> None:
        self._finish(submitted_at, failed=False)
        try:
            self._on_result(item, result)
        except Exception as error:  # a failing publisher must not end the worker
            self._report(item, error)

    def _report(self, item: Item, error: Exception) -> None:
        """Hand ``error`` to on_error; if that fails too, log both: a worker that died would silence the node
        (with two stages the first would wait for the second for ever)."""
        if self._on_error is None:
            log.error("%s: %s: %s", self._name, type(error).__name__, error)
            return
        try:
            self._on_error(item, error)
        except Exception as report_error:
            log.error("%s: %s: %s (and reporting it failed: %s: %s)", self._name, type(error).__name__, error,
                      type(report_error).__name__, report_error)

    def _finish(self, submitted_at: float, failed: bool) -> None:
        now = self._clock()
        with self._condition:
            self._processed += 1
            self._errors += int(failed)
            if failed:
                self._error_times.append(now)
            self._done.append((now, now - submitted_at))
            self._trim(now)
