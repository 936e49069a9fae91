"""FrameRunner: newest-frame mailbox, drops under a slow pipeline, order, errors, clean shutdown."""
import math
import threading
import time

from fea_ros.ros.runner import FrameRunner


class Collector:
    def __init__(self):
        self.items, self.errors = [], []
        self.done = threading.Event()

    def result(self, item, result):
        self.items.append((item, result))

    def error(self, item, error):
        self.errors.append((item, str(error)))


def slow_square(gate: threading.Event, entered: threading.Event):
    def process(value):
        entered.set()
        gate.wait(5.0)
        return value * value
    return process


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def feed_one_by_one(runner, values):
    """Start, submit each value once the one before is done, stop."""
    runner.start()
    for count, value in enumerate(values, 1):
        runner.submit(value)
        assert wait_for(lambda: runner.stats().processed == count)
    assert runner.stop()


def test_slow_pipeline_drops_old_frames_and_processes_newest():
    gate, entered = threading.Event(), threading.Event()
    out = Collector()
    runner = FrameRunner(slow_square(gate, entered), out.result, out.error)
    runner.start()
    runner.submit(1)
    assert entered.wait(5.0)  # the worker is now blocked inside process(1)
    for value in range(2, 11):
        assert runner.submit(value)
    gate.set()
    assert wait_for(lambda: len(out.items) == 2)
    assert runner.stop()
    assert [item for item, _ in out.items] == [1, 10]
    assert [result for _, result in out.items] == [1, 100]
    stats = runner.stats()
    assert stats.submitted == 10 and stats.processed == 2 and stats.dropped == 8 and stats.errors == 0


def test_results_keep_submission_order_and_latency_is_measured():
    out = Collector()
    runner = FrameRunner(lambda v: (time.sleep(0.002), v)[1], out.result)
    runner.start()
    for value in range(200):
        runner.submit(value)
        time.sleep(0.001)
    assert wait_for(lambda: runner.stats().processed + runner.stats().dropped == 200)
    runner.stop()
    processed = [item for item, _ in out.items]
    assert processed == sorted(processed) and len(set(processed)) == len(processed)
    assert processed[-1] == 199  # the newest frame is never dropped
    stats = runner.stats()
    assert stats.processed == len(processed)
    assert stats.latency_p50_ms >= 2.0 and stats.latency_p95_ms >= stats.latency_p50_ms
    assert stats.input_rate_hz > 0 and stats.processed_rate_hz > 0


def test_errors_are_reported_and_the_worker_keeps_going():
    out = Collector()

    def process(value):
        if value % 2:
            raise ValueError(f"bad frame {value}")
        return value

    runner = FrameRunner(process, out.result, out.error)
    runner.start()
    for value in range(6):
        runner.submit(value)
        assert wait_for(lambda: runner.stats().processed == value + 1)
    runner.stop()
    assert [item for item, _ in out.items] == [0, 2, 4]
    assert [item for item, _ in out.errors] == [1, 3, 5]
    assert "bad frame 3" in out.errors[1][1]
    assert runner.stats().errors == 3


def test_failing_result_callback_does_not_end_the_worker():
    out = Collector()

    def on_result(item, result):
        if item == 0:
            raise RuntimeError("publisher gone")
        out.result(item, result)

    runner = FrameRunner(lambda v: v, on_result, out.error)
    runner.start()
    runner.submit(0)
    assert wait_for(lambda: len(out.errors) == 1)
    runner.submit(1)
    assert wait_for(lambda: len(out.items) == 1)
    runner.stop()
    assert out.errors[0][0] == 0 and "publisher gone" in out.errors[0][1]


def test_stop_joins_the_worker_and_rejects_later_frames():
    gate, entered = threading.Event(), threading.Event()
    out = Collector()
    runner = FrameRunner(slow_square(gate, entered), out.result)
    runner.start()
    runner.submit(3)
    assert entered.wait(5.0)
    runner.submit(4)  # waits in the mailbox; stop discards it
    threading.Timer(0.05, gate.set).start()
    assert runner.stop(timeout_s=5.0)
    assert not runner.running
    assert runner.submit(5) is False
    assert [item for item, _ in out.items] == [3]
    assert not any(thread.name == "fea_ros-runner" and thread.is_alive() for thread in threading.enumerate())


def test_stats_before_any_frame():
    runner = FrameRunner(lambda v: v, lambda item, result: None)
    stats = runner.stats()
    assert stats.submitted == 0 and math.isinf(stats.seconds_since_input) and math.isnan(stats.latency_p95_ms)


def test_two_stages_overlap_keep_order_and_hold_one_frame_each():
    """inference.frame_pipeline in the node: stage 1 of frame n + 1 runs while stage 2 of frame n runs, and stage 1
    takes no further frame until stage 2 has taken frame n + 1 (one frame per stage, none queued between)."""
    release_first, release_second, overlapping = threading.Event(), threading.Event(), threading.Event()
    ran_ahead = threading.Event()  # stage 1 began a third frame while stage 2 still held frame 1
    stage1_calls = []  # (value, whether stage 2 had been released from frame 1 when stage 1 began it)
    out = Collector()

    def first(value):
        stage1_calls.append((value, release_second.is_set()))
        if value == 2:
            overlapping.set()
            release_first.wait(5.0)  # frames 3..10 arrive while stage 1 still holds frame 2
        elif value != 1 and not release_second.is_set():
            ran_ahead.set()
        return value * 10

    def second(value):
        if value == 10:  # frame 1 stays in stage 2 until the test releases it
            assert overlapping.wait(5.0)
            release_second.wait(5.0)
        return value + 1

    runner = FrameRunner(first, out.result, out.error, finish=second)
    runner.start()
    runner.submit(1)
    assert wait_for(lambda: len(stage1_calls) == 1)  # frame 1 taken before frame 2 can replace it
    runner.submit(2)
    assert overlapping.wait(5.0)  # stage 1 holds frame 2 while stage 2 holds frame 1
    for value in range(3, 11):
        runner.submit(value)
    stats = runner.stats()  # both stages busy: each frame replaced the one before it in the mailbox
    assert stats.dropped == 7 and stats.processed == 0
    release_first.set()  # frame 2 is done with stage 1, but stage 2 still holds frame 1: frame 10 must wait
    # a window for a runner that would not wait to show it (the pass condition is the order check below)
    assert not ran_ahead.wait(0.2), "stage 1 ran ahead of stage 2 by more than one frame"
    release_second.set()
    assert wait_for(lambda: len(out.items) == 3)
    assert runner.stop()
    assert out.items == [(1, 11), (2, 21), (10, 101)] and not out.errors
    # frame 10 entered stage 1 only once stage 2 had been released from frame 1 (and had taken frame 2)
    assert stage1_calls == [(1, False), (2, False), (10, True)]
    stats = runner.stats()
    assert stats.processed == 3 and stats.dropped == 7


def test_two_stages_report_errors_of_either_stage_and_go_on():
    out = Collector()

    def first(value):
        if value == 2:
            raise ValueError("bad frame 2")
        return value

    def second(value):
        if value == 3:
            raise RuntimeError("stage 2 failed on 3")
        return -value

    runner = FrameRunner(first, out.result, out.error, finish=second)
    feed_one_by_one(runner, (1, 2, 3, 4))
    assert out.items == [(1, -1), (4, -4)]
    assert out.errors == [(2, "bad frame 2"), (3, "stage 2 failed on 3")]
    assert runner.stats().errors == 2


def test_stopping_finishes_a_frame_that_passed_the_first_stage():
    gate, entered, first_done = threading.Event(), threading.Event(), threading.Event()
    out = Collector()

    def first(value):
        if value == 2:
            first_done.set()  # the runner hands frame 2 on to stage 2 as this returns
        return value

    def second(value):
        entered.set()
        gate.wait(5.0)
        return value

    stopping_seen = []  # an assert in this thread would only print: the test asserts what it saw

    def release_once_stopping():  # stage 2 finishes frame 1 only after stop() has begun
        stopping_seen.append(wait_for(lambda: not runner.running))
        gate.set()

    runner = FrameRunner(first, out.result, out.error, finish=second)
    runner.start()
    runner.submit(1)
    assert entered.wait(5.0)
    runner.submit(2)
    assert first_done.wait(5.0)  # frame 2 has passed stage 1 and waits for stage 2, busy with frame 1
    runner.submit(3)  # still in the mailbox when the runner stops: dropped
    releaser = threading.Thread(target=release_once_stopping)
    releaser.start()
    assert runner.stop()
    releaser.join()
    assert stopping_seen == [True]
    assert out.items == [(1, 1), (2, 2)] and not out.errors
    assert not [t for t in threading.enumerate() if t.name.startswith("fea_ros-runner")]


def test_a_failing_error_callback_is_logged_and_both_stages_go_on(caplog):
    out = Collector()

    def second(value):
        if value in (2, 3):
            raise RuntimeError(f"stage 2 failed on {value}")
        return -value

    def broken_on_error(item, error):
        raise OSError("the error publisher is gone")

    runner = FrameRunner(lambda v: v, out.result, broken_on_error, finish=second)
    feed_one_by_one(runner, (1, 2, 3, 4))
    assert out.items == [(1, -1), (4, -4)]
    logged = [r.getMessage() for r in caplog.records if r.name == "fea_ros.ros.runner"]
    assert len(logged) == 2 and "stage 2 failed on 2" in logged[0] and "the error publisher is gone" in logged[0]
