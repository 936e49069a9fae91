"""A one-slot mailbox and a worker thread: a slow pipeline drops old frames instead of queueing them.

Framework-free: the node hands every incoming frame to ``submit``; the worker always processes the newest
frame and calls ``on_result`` (or ``on_error``) from its own thread. ``stats()`` feeds /diagnostics.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

import numpy as np

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

    def __init__(self, process: Callable[[Item], Result], on_result: Callable[[Item, Result], None],
                 on_error: Callable[[Item, Exception], None] | None = None, window_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, name: str = "fea_ros-runner") -> None:
        self._process = process
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
            self._started_at = self._clock()
        self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        self._thread.start()

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
            self._condition.notify()
        return True

    def count_lost(self, frames: int) -> None:
        """Count ``frames`` that were sent but never arrived (a gap in the publisher's sequence numbers)."""
        now = self._clock()
        with self._condition:
            self._lost += frames
            self._lost_times.append((now, frames))
            self._trim(now)

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop taking frames, let the frame in progress finish, join the worker. True if it exited."""
        with self._condition:
            self._running = False
            self._slot = None
            self._condition.notify_all()
        thread, self._thread = self._thread, None
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

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
        while True:
            with self._condition:
                while self._running and self._slot is None:
                    self._condition.wait()
                if not self._running:
                    return
                item, submitted_at = self._slot
                self._slot = None
            try:
                result = self._process(item)
            except Exception as error:  # the node must keep going on bad frames
                self._finish(submitted_at, failed=True)
                if self._on_error is not None:
                    self._on_error(item, error)
                continue
            self._finish(submitted_at, failed=False)
            try:
                self._on_result(item, result)
            except Exception as error:  # a failing publisher must not end the worker
                if self._on_error is not None:
                    self._on_error(item, error)

    def _finish(self, submitted_at: float, failed: bool) -> None:
        now = self._clock()
        with self._condition:
            self._processed += 1
            self._errors += int(failed)
            if failed:
                self._error_times.append(now)
            self._done.append((now, now - submitted_at))
            self._trim(now)
