"""core/prefetch.py: order kept, errors raised where they happened, the worker stops when the loop ends."""
from __future__ import annotations

import threading
import time

import pytest

from fea_ros.core.prefetch import prefetch


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_items_come_in_order_and_transformed(depth: int) -> None:
    assert list(prefetch(range(50), lambda x: x * x, depth=depth)) == [x * x for x in range(50)]


def test_the_transform_runs_on_another_thread() -> None:
    threads = list(prefetch(range(3), lambda _: threading.get_ident(), depth=2))
    assert threading.get_ident() not in threads


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def items():
        yield 1
        yield 2
        raise ValueError("damaged frame 3")

    seen = []
    with pytest.raises(ValueError, match="damaged frame 3"):
        for item in prefetch(items(), depth=2):
            seen.append(item)
    assert seen == [1, 2]


def test_leaving_early_stops_the_worker() -> None:
    produced = []

    def slow(x: int) -> int:
        produced.append(x)
        return x

    frames = prefetch(range(10_000), slow, depth=2)
    for item in frames:
        if item == 5:
            break
    frames.close()
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count < 20, "the worker kept decoding after the consumer left"


def test_replay_with_the_decode_thread_gives_the_same_results() -> None:
    from pathlib import Path

    from fea_ros.bag.reader import BagImageReader
    from fea_ros.bag.replay import replay
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.pipeline import Pipeline

    bag = Path(__file__).resolve().parents[1] / "samples" / "bags" / "faces3_mcap"

    class Collect:
        def __init__(self) -> None:
            self.rows: list[tuple] = []

        def write(self, result, message) -> None:
            self.rows.append((message.index, [(f.face_id, f.expression, round(float(f.box[0]), 3))
                                              for f in result.faces]))

    outputs = []
    for depth in (0, 2):
        sink = Collect()
        with BagImageReader(bag) as reader:
            stats = replay(reader, Pipeline(PipelineConfig.fast()), [sink], progress=False, prefetch_depth=depth)
        assert stats.processed == 90 and not stats.skipped
        outputs.append(sink.rows)
    assert outputs[0] == outputs[1]
    assert sum(len(faces) for _, faces in outputs[0]) > 150
