"""The ROS 2 lifecycle node ``pipeline_node``: camera in, fea_ros_msgs (and optionally REP-155) out.

Thin on purpose: parameters (params.py), message building (messages.py, hri.py), threading (runner.py) and
/diagnostics (diagnostics.py) live in framework-free modules with their own tests. Only this module imports
rclpy. Lifecycle: configure loads the models (FAILURE with the reason on any error), activate subscribes and
publishes, deactivate stops, cleanup frees the models. Run: ``ros2 launch fea_ros pipeline.launch.py`` (it
configures and activates the node) or ``ros2 run fea_ros pipeline_node`` plus ``ros2 lifecycle set``.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import builtin_interfaces.msg
import cv_bridge
import fea_ros_msgs.msg
import numpy as np
import rclpy
import sensor_msgs.msg
import std_msgs.msg
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import Node, State, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from fea_ros.core.types import Frame, FrameResult
from fea_ros.ros import diagnostics, hri, messages, params
from fea_ros.ros.debug_overlay import draw_result
from fea_ros.ros.runner import FrameRunner

NODE_NAME = params.NODE_NAME
DIAGNOSTIC_NAME = "fea_ros: pipeline"
RESULT_QUEUE = 8  # processed frames waiting for the executor thread to publish them


class _RosLogHandler(logging.Handler):
    """Forwards the fea_ros Python loggers (model loading, engine builds) to the node's ROS logger."""

    def __init__(self, logger: Any) -> None:
        super().__init__(logging.INFO)
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        text = f"[{record.name}] {record.getMessage()}"
        if record.levelno >= logging.ERROR:
            self._logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._logger.warn(text)
        else:
            self._logger.info(text)


def _descriptor(spec: params.ParameterSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=spec.description, additional_constraints=spec.constraints)
    if spec.minimum is not None and isinstance(spec.default, float):
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.minimum), to_value=float(spec.maximum), step=0.0)]
    elif spec.minimum is not None and isinstance(spec.default, int) and not isinstance(spec.default, bool):
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    return descriptor


def _stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class PipelineNode(Node):
    """rclpy lifecycle node running the fea_ros pipeline on a camera topic."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._specs = params.parameter_specs()
        self._parameter_problems: list[str] = []
        for spec in self._specs:
            try:
                self.declare_parameter(spec.name, spec.default, _descriptor(spec))
            except Exception as error:  # wrong type or out of range in the params file
                self._parameter_problems.append(f"'{spec.name}': {error}")
                self.declare_parameter(spec.name, spec.default, _descriptor(spec), ignore_override=True)
        self._bridge = cv_bridge.CvBridge()
        self._msg_types = messages.rclpy_message_types(fea_ros_msgs.msg, std_msgs.msg, builtin_interfaces.msg,
                                                   sensor_msgs.msg)
        self._log_handler = _RosLogHandler(self.get_logger())
        logging.getLogger("fea_ros").addHandler(self._log_handler)
        logging.getLogger("fea_ros").setLevel(logging.INFO)
        self._pipeline: Any = None
        self._pipeline_config: Any = None
        self._node_settings: params.NodeSettings | None = None
        self._backend = "not configured"
        self._model_names: dict[str, str] = {}
        self._runner: FrameRunner | None = None
        self._pending_results: deque = deque(maxlen=RESULT_QUEUE)
        self._subscription = self._wake = self._diag_timer = None
        self._faces_pub = self._events_pub = self._debug_pub = self._diag_pub = None
        self._hri: hri.HriPublisherManager | None = None
        self._bad_frames = 0
        self._last_error = ""
        self._reported = (0, 0)  # (dropped, errors) totals at the previous /diagnostics report
        self.get_logger().info("unconfigured; configure loads the models")

    # ---- lifecycle -------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            if self._parameter_problems:
                raise params.ParameterError("bad parameter(s): " + "; ".join(self._parameter_problems))
            values = {spec.name: self.get_parameter(spec.name).value for spec in self._specs}
            self._node_settings = params.node_settings(values)
            self._pipeline_config = params.pipeline_config(values, self._specs)
            from fea_ros.core.pipeline import Pipeline
            from fea_ros.inference.factory import resolve_backend

            self._backend, why = resolve_backend(self._pipeline_config.inference.backend)
            self._model_names = diagnostics.model_names(self._pipeline_config)
            self.get_logger().info(f"backend {self._backend} ({why}); loading models: "
                                   + ", ".join(self._model_names.values()))
            started = time.monotonic()
            self._pipeline = Pipeline(self._pipeline_config)
            self.get_logger().info(f"models ready in {time.monotonic() - started:.1f} s")
        except Exception as error:  # configure must fail with the reason, not die with a traceback
            self.get_logger().error(f"configure failed: {type(error).__name__}: {error}")
            self._pipeline = None
            return TransitionCallbackReturn.FAILURE
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        settings = self._node_settings
        try:
            reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
            self._faces_pub = self.create_publisher(fea_ros_msgs.msg.FaceExpressionArray, "faces", reliable)
            self._events_pub = self.create_publisher(fea_ros_msgs.msg.MicroExpressionEvent, "micro_expressions",
                                                     reliable)
            if settings.debug_image:
                # reliable: matches both reliable (rqt_image_view, rviz default) and best-effort subscribers
                self._debug_pub = self.create_publisher(sensor_msgs.msg.Image, "debug_image", 2)
            if settings.hri_enabled:
                self._hri = self._create_hri_manager(settings.hri_id_prefix)
            self._wake = self.create_guard_condition(self._publish_pending)
            self._runner = FrameRunner(self._pipeline.process, self._queue_result, self._frame_failed)
            self._runner.start()
            image_qos = reliable if settings.reliable_qos else qos_profile_sensor_data
            if settings.compressed:
                self._subscription = self.create_subscription(
                    sensor_msgs.msg.CompressedImage, "image/compressed", self._on_compressed, image_qos)
            else:
                self._subscription = self.create_subscription(sensor_msgs.msg.Image, "image", self._on_image,
                                                              image_qos)
        except Exception as error:
            self.get_logger().error(f"activate failed: {type(error).__name__}: {error}")
            self._stop_processing()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f"active: subscribed to {self._subscription.topic_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        if self._hri is not None:
            self._hri.close(messages.header_message(self.get_clock().now().nanoseconds, "", self._msg_types))
            self._hri = None
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
        return super().on_shutdown(state)

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self._stop_processing()
        self._free_models()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._stop_processing()
        logging.getLogger("fea_ros").removeHandler(self._log_handler)
        super().destroy_node()

    def _create_hri_manager(self, id_prefix: str) -> hri.HriPublisherManager | None:
        try:
            import hri_msgs.msg as hri_msgs
        except ImportError:
            self.get_logger().warn("hri.enabled is true but hri_msgs does not import: REP-155 topics are off "
                                  "(install ros-$ROS_DISTRO-hri-msgs)")
            return None
        types = hri.HriTypes(IdsList=hri_msgs.IdsList, NormalizedRegionOfInterest2D=hri_msgs.NormalizedRegionOfInterest2D,
                             NormalizedPointOfInterest2D=hri_msgs.NormalizedPointOfInterest2D,
                             Expression=hri_msgs.Expression, FacialLandmarks=hri_msgs.FacialLandmarks,
                             FacialActionUnits=hri_msgs.FacialActionUnits)
        return hri.HriPublisherManager(self, types, id_prefix)

    def _stop_processing(self) -> None:
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
            self._subscription = None
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
        self._reported = (0, 0)  # the next runner counts from zero
        self._pending_results.clear()
        if self._wake is not None:
            self.destroy_guard_condition(self._wake)
            self._wake = None
        if self._hri is not None:
            self._hri.close()
            self._hri = None
        for name in ("_faces_pub", "_events_pub", "_debug_pub"):
            publisher = getattr(self, name)
            if publisher is not None:
                self.destroy_publisher(publisher)
                setattr(self, name, None)

    def _free_models(self) -> None:
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
            self._diag_pub = None
        self._pipeline = None

    # ---- frames ----------------------------------------------------------------------------------------
    def _on_image(self, msg: sensor_msgs.msg.Image) -> None:
        try:
            image = self._bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8")
        except Exception as error:  # unsupported encoding, truncated data
            self._reject(msg, error)
            return
        self._submit(image, msg.header)

    def _on_compressed(self, msg: sensor_msgs.msg.CompressedImage) -> None:
        try:
            image = self._bridge.compressed_imgmsg_to_cv2(msg, desired_encoding="bgr8")
        except Exception as error:  # not a decodable JPEG/PNG
            self._reject(msg, error)
            return
        self._submit(image, msg.header)

    def _submit(self, image: np.ndarray, header: Any) -> None:
        frame = Frame(image=np.ascontiguousarray(image), stamp_ns=_stamp_ns(header), frame_id=header.frame_id)
        if self._runner is not None:
            self._runner.submit(frame)

    def _reject(self, msg: Any, error: Exception) -> None:
        self._bad_frames += 1
        self._last_error = f"image conversion: {error}"
        self.get_logger().warn(
            f"skipped a frame that cannot be converted to BGR ({error}); {self._bad_frames} so far. "
            "Check the camera's encoding / input_transport parameter.", throttle_duration_sec=5.0)

    def _frame_failed(self, frame: Frame, error: Exception) -> None:
        self._last_error = f"{type(error).__name__}: {error}"
        self.get_logger().error(f"frame {frame.stamp_ns} failed: {self._last_error}", throttle_duration_sec=5.0)

    def _queue_result(self, frame: Frame, result: FrameResult) -> None:
        """Worker thread: hand the result to the executor thread, which owns the publishers."""
        self._pending_results.append((frame, result))
        wake = self._wake
        if wake is not None:
            wake.trigger()

    def _publish_pending(self) -> None:
        while self._pending_results:
            frame, result = self._pending_results.popleft()
            try:
                self._publish(frame, result)
            except Exception as error:  # an exception here would end executor.spin(), i.e. the node
                self._last_error = f"publishing: {type(error).__name__}: {error}"
                self.get_logger().error(f"could not publish frame {result.stamp_ns}: {self._last_error}",
                                        throttle_duration_sec=5.0)

    def _publish(self, frame: Frame, result: FrameResult) -> None:
        if self._faces_pub is None:
            return
        header = messages.header_message(result.stamp_ns, result.frame_id, self._msg_types)
        latency_ns = self.get_clock().now().nanoseconds - result.stamp_ns
        self._faces_pub.publish(messages.face_array_message(
            result, self._msg_types, processing_time_ns=latency_ns, include_landmarks=self._node_settings.publish_landmarks))
        for event in result.events:
            self._events_pub.publish(messages.event_message(event, result.frame_id, self._msg_types))
        if self._hri is not None:
            self._hri.publish(result, header)
        if self._debug_pub is not None and self._debug_pub.get_subscription_count() > 0:
            debug = self._bridge.cv2_to_imgmsg(draw_result(frame.image, result), encoding="bgr8")
            debug.header = header
            self._debug_pub.publish(debug)

    # ---- diagnostics -----------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        if self._diag_pub is None:
            return
        try:
            self._publish_status()
        except Exception as error:  # keep the node alive; the next tick tries again
            self.get_logger().error(f"/diagnostics failed: {type(error).__name__}: {error}", throttle_duration_sec=30.0)

    def _publish_status(self) -> None:
        stats = self._runner.stats() if self._runner is not None else None
        dropped, errors = (stats.dropped, stats.errors) if stats is not None else self._reported
        report = diagnostics.pipeline_status(
            stats, self._backend, self._model_names, self._node_settings.thresholds,
            dropped_in_window=dropped - self._reported[0], errors_in_window=errors - self._reported[1],
            last_error=self._last_error)
        self._reported = (dropped, errors)
        levels = {diagnostics.OK: DiagnosticStatus.OK, diagnostics.WARN: DiagnosticStatus.WARN,
                  diagnostics.ERROR: DiagnosticStatus.ERROR}
        status = DiagnosticStatus(level=levels[report.level], name=f"{self.get_fully_qualified_name()}: {DIAGNOSTIC_NAME}",
                                  message=report.message, hardware_id=self._backend,
                                  values=[KeyValue(key=key, value=value) for key, value in report.values])
        status.values.append(KeyValue(key="unconvertible frames", value=str(self._bad_frames)))
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = PipelineNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == "__main__":
    main()
