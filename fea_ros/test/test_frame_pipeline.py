"""core/frame_pipeline.py: two frames in flight give the sequential pipeline's results, in order, errors in place."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import InputError
from fea_ros.core.frame_pipeline import FrameJob, process_frames
from fea_ros.core.inputs import VideoFileSource
from fea_ros.core.pipeline import Pipeline
from fea_ros.core.serialize import frame_result_to_json
from fea_ros.core.types import Frame, FrameResult

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _frames(clip: str, limit: int | None = None) -> list[Frame]:
    with VideoFileSource(SAMPLES / clip) as source:
        frames = []
        for frame in source:
            if limit is not None and len(frames) >= limit:
                break
            frames.append(frame)
    return frames


def _comparable(outcome: object) -> object:
    """A result as its JSON line (landmarks included) without the timings; an error as its type and text."""
    if isinstance(outcome, FrameResult):
        data = json.loads(frame_result_to_json(outcome, landmarks=True))
        data.pop("timings_ms")
        return data
    return None if outcome is None else (type(outcome).__name__, str(outcome))


def _run(config: PipelineConfig, jobs: list[FrameJob], pipelined: bool) -> list[tuple[object, object]]:
    return [(context, _comparable(outcome))
            for context, outcome in process_frames(Pipeline(config), iter(jobs), pipelined=pipelined)]


@pytest.mark.parametrize(("clip", "config"), [("face1.mp4", PipelineConfig()), ("faces3.mp4", PipelineConfig()),
                                              ("faces3.mp4", PipelineConfig.fast())],
                         ids=["face1-full", "faces3-full", "faces3-fast"])
def test_pipelined_results_equal_the_sequential_ones(clip: str, config: PipelineConfig) -> None:
    jobs = [FrameJob(frame.index, frame) for frame in _frames(clip)]
    sequential = _run(config, jobs, pipelined=False)
    pipelined = _run(config, jobs, pipelined=True)
    assert [context for context, _ in pipelined] == [job.context for job in jobs]
    assert pipelined == sequential
    faces = [face for _, result in sequential for face in result["faces"]]  # type: ignore[index]
    assert len(faces) > 0.9 * len(jobs) and any(face["track_age"] > 50 for face in faces)


def test_bad_frames_resets_and_empty_items_keep_their_place() -> None:
    frames = _frames("faces3.mp4", 40)
    tiny = Frame(image=np.zeros((8, 8, 3), np.uint8), stamp_ns=frames[10].stamp_ns, index=99)
    jobs: list[FrameJob] = [FrameJob(i, frame, reset=(i == 25)) for i, frame in enumerate(frames)]
    jobs.insert(11, FrameJob("tiny", tiny))
    jobs.insert(5, FrameJob("undecodable", None))
    jobs.insert(30, FrameJob("rewind", Frame(image=frames[3].image, stamp_ns=frames[3].stamp_ns)))
    sequential = _run(PipelineConfig.fast(), jobs, pipelined=False)
    assert _run(PipelineConfig.fast(), jobs, pipelined=True) == sequential
    outcomes = dict(sequential)
    assert outcomes["undecodable"] is None
    assert outcomes["tiny"][0] == "InputError"  # type: ignore[index]
    # the explicit reset and the stamp that went back both start the face ids again
    assert {face["id"] for face in outcomes[25]["faces"]} <= {"f1", "f2", "f3"}  # type: ignore[index]
    assert outcomes[24]["faces"] and outcomes[25]["faces"] == []  # type: ignore[index]
    assert outcomes["rewind"]["faces"] == []  # type: ignore[index]
    ages = {key: max(face["track_age"] for face in outcomes[key]["faces"]) for key in (24, 26, 28)}  # type: ignore[index]
    assert ages[24] > 20 and ages[26] < 5 and ages[28] < 5  # new tracks after the reset and after the rewind


def test_the_same_as_reset_then_process() -> None:
    frames = _frames("face1.mp4", 12)
    pipeline = Pipeline(PipelineConfig.fast())
    expected = []
    for i, frame in enumerate(frames):
        if i == 6:
            pipeline.reset()
        expected.append((i, _comparable(pipeline.process(frame))))
    jobs = [FrameJob(i, frame, reset=(i == 6)) for i, frame in enumerate(frames)]
    assert _run(PipelineConfig.fast(), jobs, pipelined=True) == expected


def test_a_reset_on_an_item_without_a_frame_applies_to_the_next_frame() -> None:
    frames = _frames("face1.mp4", 12)
    expected = _run(PipelineConfig.fast(), [FrameJob(i, frame, reset=(i == 6)) for i, frame in enumerate(frames)],
                    pipelined=False)
    jobs: list[FrameJob] = [FrameJob(i, frame) for i, frame in enumerate(frames)]
    jobs.insert(6, FrameJob("undecodable", None, reset=True))
    for pipelined in (False, True):
        outcomes = _run(PipelineConfig.fast(), jobs, pipelined=pipelined)
        assert outcomes.pop(6) == ("undecodable", None)
        assert outcomes == expected
        assert outcomes[5][1]["faces"][0]["track_age"] >= 5  # type: ignore[index]
        assert outcomes[6][1]["faces"] == []  # type: ignore[index]


def test_an_unexpected_error_is_raised_after_the_results_before_it() -> None:
    frames = _frames("face1.mp4", 8)
    broken = Frame(image=frames[4].image, stamp_ns="not a stamp", index=4)  # type: ignore[arg-type]
    jobs = [FrameJob(i, frame) for i, frame in enumerate(frames[:4] + [broken] + frames[5:])]
    for pipelined in (False, True):
        seen = []
        with pytest.raises(TypeError):
            for context, outcome in process_frames(Pipeline(PipelineConfig.fast()), iter(jobs), pipelined=pipelined):
                assert isinstance(outcome, FrameResult)
                seen.append(context)
        assert seen == [0, 1, 2, 3]
    assert not [t for t in threading.enumerate() if t.name.startswith("fea_ros-front")]


def test_an_error_of_the_input_is_raised_after_the_results_before_it() -> None:
    frames = _frames("face1.mp4", 5)

    def jobs() -> Iterator[FrameJob[int]]:
        for i, frame in enumerate(frames[:3]):
            yield FrameJob(i, frame)
        raise OSError("the camera went away")

    for pipelined in (False, True):
        seen = []
        with pytest.raises(OSError, match="camera went away"):
            for context, outcome in process_frames(Pipeline(PipelineConfig.fast()), jobs(), pipelined=pipelined):
                assert isinstance(outcome, FrameResult)
                seen.append(context)
        assert seen == [0, 1, 2]


def test_the_front_half_runs_on_a_second_thread_and_stops_with_the_loop() -> None:
    pipeline = Pipeline(PipelineConfig.fast())
    front_threads: set[str] = set()
    front = pipeline.front

    def recording_front(frame: Frame, reset: bool = False):  # type: ignore[no-untyped-def]
        front_threads.add(threading.current_thread().name)
        return front(frame, reset)

    pipeline.front = recording_front  # type: ignore[method-assign]
    frames = _frames("face1.mp4", 30)
    pulled = []

    def jobs() -> Iterator[FrameJob[int]]:
        for i, frame in enumerate(frames):
            pulled.append(i)
            yield FrameJob(i, frame)

    results = process_frames(pipeline, jobs(), pipelined=True)
    for context, _ in results:
        if context == 5:
            break
    results.close()
    assert front_threads and threading.current_thread().name not in front_threads
    assert pulled == list(range(7)), "one frame ahead, no more"
    assert not [t for t in threading.enumerate() if t.name.startswith("fea_ros-front")]


def test_replay_with_the_frame_pipeline_gives_the_same_results() -> None:
    from fea_ros.bag.reader import BagImageReader
    from fea_ros.bag.replay import replay

    class Collect:
        def __init__(self) -> None:
            self.rows: list[tuple[int, object]] = []

        def write(self, result: FrameResult, message: object) -> None:
            self.rows.append((message.index, _comparable(result)))  # type: ignore[attr-defined]

    outputs = []
    for pipelined in (False, True):
        config = PipelineConfig.fast()
        config.inference.frame_pipeline = pipelined
        sink = Collect()
        with BagImageReader(SAMPLES / "bags" / "faces3_mcap") as reader:
            stats = replay(reader, Pipeline(config), [sink], progress=False)
        assert stats.processed == 90 and not stats.skipped
        outputs.append(sink.rows)
    assert outputs[0] == outputs[1]
