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
