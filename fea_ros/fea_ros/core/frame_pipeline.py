"""Run a stream of frames through the pipeline, optionally with two frames in flight on two threads.

Pipeline.front (detection, tracking, FaceMesh) of frame n + 1 needs only the fronts before it, and
Pipeline.back (expression, blendshapes, MiE, smoothing, attention) of frame n only its own front and the
backs before it. With ``inference.frame_pipeline`` the fronts run on a worker thread, one frame ahead of the
backs, which run in the caller's thread: ONNX Runtime, OpenCV and most numpy calls release the GIL, so on
two cores the mesh of the next frame overlaps the expression nets and the MiE spotter of this one. The
results are the sequential pipeline's, in order, one frame later.

Items the caller cannot turn into a frame (an undecodable message) pass through in their place, so a
consumer sees every item once, in input order, with its outcome.
"""
from __future__ import annotations

from collections.abc import Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from fea_ros.core.errors import InputError
from fea_ros.core.types import Frame, FrameResult

if TYPE_CHECKING:
    from fea_ros.core.pipeline import FrontHalf, Pipeline

T = TypeVar("T")


@dataclass
class FrameJob(Generic[T]):
    """One input item: ``frame`` None passes through unprocessed; ``reset`` forgets every face before ``frame``
    (on an item without a frame: before the next item that has one)."""

    context: T
    frame: Frame | None
    reset: bool = False


#: an item's outcome: its result, the InputError that refused its frame, or None (no frame)
Outcome = FrameResult | InputError | None


def process_frames(pipeline: "Pipeline", jobs: Iterable[FrameJob[T]],
                   pipelined: bool | None = None) -> Generator[tuple[T, Outcome], None, None]:
    """Yield ``(job.context, outcome)`` for every job, in order.

    ``pipelined`` (default: the pipeline's ``inference.frame_pipeline``) runs the front half of the next
    frame on a second thread while this frame's back half runs here. A frame the pipeline refuses
    (InputError) is yielded as its outcome, as the sequential loop would catch it; any other exception, the
    pipeline's or the ``jobs`` iterator's, is raised after the outcomes of the items before it (the pipelined
    form may have read one more item from ``jobs`` by then). Leaving the loop early waits for the frame in
    flight and stops the worker.
    """
    if pipelined is None:
        pipelined = pipeline.config.inference.frame_pipeline
    jobs = _carry_resets(jobs)
    if not pipelined:
        for job in jobs:
            yield job.context, _sequential(pipeline, job)
        return
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fea_ros-front")
    ahead: tuple[FrameJob[T], Future[FrontHalf] | None] | None = None
    items = iter(jobs)
    try:
        while True:
            try:
                job = next(items)
            except StopIteration:
                break
            except BaseException:  # the input failed (or Ctrl-C while reading it): the frame in flight first
                if ahead is not None:
                    yield ahead[0].context, _finish(pipeline, ahead[1])
                raise
            submitted = (job, worker.submit(pipeline.front, job.frame, job.reset) if job.frame is not None
                         else None)
            if ahead is not None:
                yield ahead[0].context, _finish(pipeline, ahead[1])
            ahead = submitted
        if ahead is not None:
            yield ahead[0].context, _finish(pipeline, ahead[1])
    finally:
        # the front in flight (if any) finishes; nothing after it starts
        worker.shutdown(wait=True, cancel_futures=True)


def _carry_resets(jobs: Iterable[FrameJob[T]]) -> Generator[FrameJob[T], None, None]:
    """The jobs, with a reset asked on an item without a frame moved to the next item with one."""
    pending = False
    for job in jobs:
        if job.frame is None:
            pending = pending or job.reset
            yield FrameJob(job.context, None) if job.reset else job
        elif pending and not job.reset:
            pending = False
            yield FrameJob(job.context, job.frame, reset=True)
        else:
            pending = False
            yield job


def _sequential(pipeline: "Pipeline", job: FrameJob[T]) -> Outcome:
    if job.frame is None:
        return None
    try:
        return pipeline.back(pipeline.front(job.frame, job.reset))
    except InputError as error:
        return error


def _finish(pipeline: "Pipeline", front: "Future[FrontHalf] | None") -> Outcome:
    if front is None:
        return None
    try:
        return pipeline.back(front.result())
    except InputError as error:
        return error
