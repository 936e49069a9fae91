"""Produce the next items (decoded frames) on a second thread while the caller works on the current one.

Video decoding (cv2.VideoCapture.read), JPEG decoding and colour conversion release the GIL, as does ONNX
Runtime, so on two cores the decode of frame n+1 overlaps the inference of frame n. The queue is bounded
(``depth`` items), so memory stays flat and a slow consumer holds the producer back.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], transform: Callable[[T], R] | None = None, depth: int = 2) -> Generator[R, None, None]:
    """Yield ``transform(item)`` for every item, computed ``depth`` items ahead on a worker thread.

    ``depth`` 0 computes in the caller's thread (no worker). An exception in the iterable or the transform
    is raised in the caller at the position where it happened. Leaving the loop early stops the worker.
    """
    work: Callable[[T], R] = transform if transform is not None else (lambda item: item)  # type: ignore[assignment,return-value]
    if depth <= 0:
        for item in items:
            yield work(item)
        return
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(work(item)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="fea_ros-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            value = ready.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.error
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5.0)
