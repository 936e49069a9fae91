"""The ROS 2 lifecycle node ``pipeline_node``: camera in, fea_ros_msgs (and optionally REP-155) out.

Thin on purpose: it runs the lifecycle and wires the parts. On the rclpy side (ros/node/): parameters
(parameters.py), the camera input (image_subscriber.py), the result topics (result_publisher.py), /diagnostics
(diagnostics_publisher.py) and signals (shutdown.py). What those decide lives in framework-free modules with
their own tests: parameter specs (params.py), image conversion and input defects (image_input.py), input and
clock checks (input_watch.py), message building (messages.py, hri.py), threading (runner.py), the
/diagnostics report (diagnostics.py) and log routing (log_bridge.py).
Lifecycle: configure loads the models (FAILURE with the reason on any error), activate subscribes and
publishes, deactivate stops, cleanup frees the models, shutdown (also on SIGINT/SIGTERM) ends cleanly.
Run: ``ros2 launch fea_ros pipeline.launch.py`` (it configures and activates the node) or
``ros2 run fea_ros pipeline_node`` plus ``ros2 lifecycle set``.
"""
from __future__ import annotations

import time
from typing import Any

import builtin_interfaces.msg
import fea_ros_msgs.msg
import rclpy
import sensor_msgs.msg
import std_msgs.msg
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import Node, State, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions

from fea_ros.core.types import Frame, FrameResult
from fea_ros.ros import diagnostics, log_bridge, messages, params, system_check
from fea_ros.ros.node.diagnostics_publisher import DiagnosticsPublisher
from fea_ros.ros.node.image_subscriber import ImageSubscriber
from fea_ros.ros.node.parameters import NodeParameters
from fea_ros.ros.node.result_publisher import ResultPublisher
from fea_ros.ros.node.shutdown import ShutdownRequest
from fea_ros.ros.runner import FrameRunner, RunnerStats

NODE_NAME = params.NODE_NAME


class PipelineNode(Node):
    """rclpy lifecycle node running the fea_ros pipeline on a camera topic."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._declared = NodeParameters(self)
        self._msg_types = messages.rclpy_message_types(fea_ros_msgs.msg, std_msgs.msg, builtin_interfaces.msg,
                                                       sensor_msgs.msg)
        self._log_handler = log_bridge.attach(self.get_logger())
        self._pipeline: Any = None
        self._node_settings: params.NodeSettings | None = None
        self._backend = "not configured"
        self._models_dir = ""
        self._min_side_px = 20.0
        self._model_names: dict[str, str] = {}
        self._diagnostics: DiagnosticsPublisher | None = None  # while configured
        self._runner: FrameRunner | None = None  # these three while active
        self._input: ImageSubscriber | None = None
        self._outputs: ResultPublisher | None = None
        self._processed = 0
        self._last_error = ""
        self.get_logger().info("unconfigured; configure loads the models")

    # ---- lifecycle -------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            numpy_problem = system_check.current_numpy_problem()
            if numpy_problem:
                raise params.ParameterError(numpy_problem)
            values = self._declared.values()
            self._node_settings = params.node_settings(values)
            config = params.pipeline_config(values, list(self._declared.specs.values()))
            self._min_side_px = float(config.detection.min_face_px)
            from fea_ros.core.pipeline import Pipeline
            from fea_ros.inference.factory import resolve_backend
            from fea_ros.inference.models import models_dir

            self._models_dir = str(models_dir(config.inference.models_dir or None))
            self._backend, why = resolve_backend(config.inference.backend)
            self._model_names = diagnostics.model_names(config)
            self.get_logger().info(f"backend {self._backend} ({why}); loading models from {self._models_dir}: "
                                   + ", ".join(self._model_names.values()))
            started = time.monotonic()
            self._pipeline = Pipeline(config)
            self.get_logger().info(f"models ready in {time.monotonic() - started:.1f} s")
        except Exception as error:  # configure must fail with the reason, not die with a traceback
            self.get_logger().error(f"configure failed: {type(error).__name__}: {error}")
            self._pipeline = None
            return TransitionCallbackReturn.FAILURE
        self._diagnostics = DiagnosticsPublisher(self, self._health, self._node_settings.thresholds)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        settings = self._node_settings
        assert settings is not None and self._pipeline is not None
        try:
            self._outputs = ResultPublisher(self, self._msg_types, settings, self._note_error)
            self._processed = 0
            # inference.frame_pipeline: detection + mesh of the newest frame on the worker while the later
            # stages of the frame before run on a second one (ros/runner.py: one frame per stage, no queue)
            pipelined = self._pipeline.config.inference.frame_pipeline
            self._runner = FrameRunner(self._front if pipelined else self._process, self._outputs.queue,
                                       self._frame_failed, finish=self._pipeline.back if pipelined else None)
            self._runner.start()
            self._input = ImageSubscriber(self, settings, self._runner, self._min_side_px)
            if self._pipeline.attention is not None:
                self._outputs.broadcast_tf()
        except Exception as error:
            self.get_logger().error(f"activate failed: {type(error).__name__}: {error}")
            self._stop_processing()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f"active: subscribed to {self._input.topic_name} ({self._input.expected_type()}, "
                               f"{self._input.reliability.replace('_', ' ')}, qos: {settings.qos})")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        if self._outputs is not None:
            self._outputs.end_hri(self.get_clock().now().nanoseconds)
        self._stop_processing()
        self.get_logger().info("inactive: not subscribed")
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._stop_processing()
        self._free_models()
        self.get_logger().info("unconfigured: models freed")
        return super().on_cleanup(state)

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._stop_processing()
        self._free_models()
        self.get_logger().info("finalized")
        return super().on_shutdown(state)

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self._stop_processing()
        self._free_models()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._stop_processing()
        log_bridge.detach(self._log_handler)
        super().destroy_node()

    def _stop_processing(self) -> None:
        if self._input is not None:
            self._input.close()
            self._input = None
        if self._runner is not None:
            if not self._runner.stop():
                self.get_logger().error("the pipeline worker did not finish its frame within 10 s of the stop; it "
                                        "keeps running in the background (a network call that hangs?): restart "
                                        "the node if results look wrong after re-activating")
            self._runner = None
        if self._outputs is not None:
            self._outputs.close()
            self._outputs = None

    def _free_models(self) -> None:
        if self._diagnostics is not None:
            self._diagnostics.close()
            self._diagnostics = None
        self._pipeline = None

    # ---- the pipeline, on the runner's worker threads ---------------------------------------------------
    def _process(self, frame: Frame) -> FrameResult:
        """Worker thread: number the frames the pipeline actually processes (FaceExpressionArray.frame_index)."""
        return self._pipeline.back(self._front(frame))

    def _front(self, frame: Frame) -> Any:
        """Worker thread: the frame's number, then Pipeline.front (FrontHalf; back() follows on this or a
        second worker)."""
        frame.index = self._processed
        self._processed += 1
        return self._pipeline.front(frame)

    def _frame_failed(self, frame: Frame, error: Exception) -> None:
        self._note_error(f"{type(error).__name__}: {error}")
        self.get_logger().error(f"frame {frame.stamp_ns} failed: {self._last_error}", throttle_duration_sec=5.0)

    def _note_error(self, text: str) -> None:
        self._last_error = text  # the latest failure, processing or publishing, for /diagnostics

    def _health(self) -> tuple[RunnerStats | None, diagnostics.NodeHealth]:
        """The runner's counters (None: not active) and what the node knows besides, for /diagnostics."""
        source = self._input
        return (self._runner.stats() if self._runner is not None else None, diagnostics.NodeHealth(
            backend=self._backend, models=self._model_names, models_dir=self._models_dir,
            input_topic=source.topic_name if source is not None else "",
            rejected=dict(source.rejects.counts) if source is not None else {}, last_error=self._last_error,
            silence=source.silence if source is not None else ""))


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = ShutdownRequest()
    node = PipelineNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok() and not stop:
            executor.spin_once(timeout_sec=0.2)  # wakes at least 5 times a second to see a signal
    except ExternalShutdownException:  # the context was shut down from elsewhere
        pass
    finally:
        if stop:
            node.get_logger().info(f"{stop.signal_name}: shutting down")
        if rclpy.ok():
            try:
                node.trigger_shutdown()  # on_shutdown from any primary state frees models and threads
            except Exception:  # already finalized
                pass
        node.destroy_node()
        executor.shutdown(timeout_sec=1.0)
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == "__main__":
    main()
