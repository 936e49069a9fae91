"""The ROS 2 lifecycle node ``pipeline_node``: camera in, fea_ros_msgs (and optionally REP-155) out.

Thin on purpose: parameters (params.py), image conversion and input defects (image_input.py), input and
clock checks (input_watch.py), message building (messages.py, hri.py), threading (runner.py), /diagnostics
(diagnostics.py) and log routing (log_bridge.py) live in framework-free modules with their own tests.
Lifecycle: configure loads the models (FAILURE with the reason on any error), activate subscribes and
publishes, deactivate stops, cleanup frees the models, shutdown (also on SIGINT/SIGTERM) ends cleanly.
Run: ``ros2 launch fea_ros pipeline.launch.py`` (it configures and activates the node) or
``ros2 run fea_ros pipeline_node`` plus ``ros2 lifecycle set``.
"""
from __future__ import annotations

import signal
import time
from collections import deque
from typing import Any

import builtin_interfaces.msg
import fea_ros_msgs.msg
import rclpy
import sensor_msgs.msg
import std_msgs.msg
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import Node, State, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import Subscription

from fea_ros.core.image_msg import ImageMessageError, bgr_to_image_fields
from fea_ros.core.types import Frame, FrameResult
from fea_ros.ros import (camera_info, diagnostics, hri, input_watch, log_bridge, messages, params, system_check,
                         tf_frames)
from fea_ros.ros.debug_overlay import draw_result
from fea_ros.ros.image_input import InputNotes, RejectLog, SequenceGaps, to_frame
from fea_ros.ros.runner import FrameRunner

NODE_NAME = params.NODE_NAME
DIAGNOSTIC_NAME = "fea_ros: pipeline"
RESULT_QUEUE = 8  # processed frames waiting for the executor thread to publish them
# Jazzy's rclpy (since Iron) passes the message info, with the publisher's sequence numbers, to callbacks
# taking two arguments; Humble's calls every callback with the message alone, so there the frames that DDS
# discards before the node takes them are not counted.
MESSAGE_INFO = hasattr(getattr(Subscription, "CallbackType", None), "WithMessageInfo")
_RELIABILITY = {input_watch.RELIABLE: ReliabilityPolicy.RELIABLE, input_watch.BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT}


def _descriptor(spec: params.ParameterSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=spec.description, additional_constraints=spec.constraints)
    if spec.minimum is not None and spec.maximum is not None and isinstance(spec.default, float):
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.minimum), to_value=float(spec.maximum), step=0.0)]
    elif spec.minimum is not None and spec.maximum is not None and isinstance(spec.default, int) \
            and not isinstance(spec.default, bool):
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    return descriptor


def _image_qos(reliability: str) -> QoSProfile:
    # depth 1: the pipeline only ever wants the newest frame (the runner's one-slot mailbox)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=_RELIABILITY[reliability])


class PipelineNode(Node):
    """rclpy lifecycle node running the fea_ros pipeline on a camera topic."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._specs = {spec.name: spec for spec in params.parameter_specs()}
        self._parameter_problems: dict[str, str] = {}
        self.add_on_set_parameters_callback(self._check_parameters)
        for spec in self._specs.values():
            try:
                self.declare_parameter(spec.name, spec.default, _descriptor(spec))
            except Exception as error:  # wrong type, out of range or not a choice in the params file
                self.declare_parameter(spec.name, spec.default, _descriptor(spec), ignore_override=True)
                self._parameter_problems[spec.name] = f"'{spec.name}': {error}"  # until set right
        # rclpy keeps the overrides of the command line and params files here (Humble and Jazzy alike)
        overrides = getattr(self, "_parameter_overrides", {})
        for unknown in params.unknown_parameters(overrides, params.known_parameter_names(self._specs.values())):
            self.get_logger().warning(unknown.message("parameter override"))
        self._msg_types = messages.rclpy_message_types(fea_ros_msgs.msg, std_msgs.msg, builtin_interfaces.msg,
                                                       sensor_msgs.msg)
        self._log_handler = log_bridge.attach(self.get_logger())
        self._pipeline: Any = None
        self._node_settings: params.NodeSettings | None = None
        self._backend = "not configured"
        self._models_dir = ""
        self._min_side_px = 20.0
        self._model_names: dict[str, str] = {}
        self._runner: FrameRunner | None = None
        self._pending_results: deque = deque(maxlen=RESULT_QUEUE)
        self._subscription: Any = None
        self._reliability = input_watch.BEST_EFFORT
        self._wake: Any = None
        self._diag_timer: Any = None
        self._watch_timer: Any = None
        self._faces_pub: Any = None
        self._events_pub: Any = None
        self._debug_pub: Any = None
        self._diag_pub: Any = None
        self._hri: hri.HriPublisherManager | None = None
        self._camera_info = camera_info.CameraInfoMatcher()  # intrinsics for the head pose, matched by stamp
        self._camera_info_sub: Any = None
        self._tf: Any = None  # tf2_ros broadcaster of face_<id> / gaze_<id>, None without tf2_ros
        self._rejects = RejectLog()
        self._notes = InputNotes()
        self._gaps = SequenceGaps()
        self._processed = 0
        self._last_error = ""
        self._clock_checked = False
        self._silence = ""  # the latest explanation of why no image arrives, for /diagnostics
        self._activated_at = 0.0
        self._last_image_at: float | None = None
        self.get_logger().info("unconfigured; configure loads the models")

    # ---- parameters ------------------------------------------------------------------------------------
    def _check_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Refuse values outside a parameter's choices or range when they are set (ranges alone ROS checks)."""
        problems = []
        for parameter in parameters:
            spec = self._specs.get(parameter.name)
            text = params.problem(spec, parameter.value) if spec is not None else None
            if text:
                problems.append(text)
            else:
                self._parameter_problems.pop(parameter.name, None)  # a bad value from the params file is fixed
        return SetParametersResult(successful=not problems, reason="; ".join(problems))

    # ---- lifecycle -------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            numpy_problem = system_check.current_numpy_problem()
            if numpy_problem:
                raise params.ParameterError(numpy_problem)
            if self._parameter_problems:
                raise params.ParameterError("bad parameter(s): " + "; ".join(self._parameter_problems.values())
                                            + "; fix them with 'ros2 param set' or in the params file, then configure")
            values = {name: self.get_parameter(name).value for name in self._specs}
            self._node_settings = params.node_settings(values)
            config = params.pipeline_config(values, list(self._specs.values()))
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
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        settings = self._node_settings
        assert settings is not None and self._pipeline is not None
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
            self._processed = 0
            self._rejects.reset()
            self._notes = InputNotes()
            self._gaps = SequenceGaps()
            self._clock_checked = False
            self._silence = ""
            # inference.frame_pipeline: detection + mesh of the newest frame on the worker while the later
            # stages of the frame before run on a second one (ros/runner.py: one frame per stage, no queue)
            pipelined = self._pipeline.config.inference.frame_pipeline
            self._runner = FrameRunner(self._front if pipelined else self._process, self._queue_result,
                                       self._frame_failed, finish=self._pipeline.back if pipelined else None)
            self._runner.start()
            self._subscribe(input_watch.choose_reliability(settings.qos, []))
            self._camera_info = camera_info.CameraInfoMatcher()
            self._camera_info_sub = self.create_subscription(sensor_msgs.msg.CameraInfo, "camera_info",
                                                             self._camera_info.on_message,
                                                             _image_qos(input_watch.BEST_EFFORT))
            self._tf = tf_frames.make_broadcaster(self) if self._pipeline.attention is not None else None
            self._activated_at = time.monotonic()
            self._last_image_at = None
            self._watch_timer = self.create_timer(1.0, self._watch_input, clock=Clock(clock_type=ClockType.STEADY_TIME))
        except Exception as error:
            self.get_logger().error(f"activate failed: {type(error).__name__}: {error}")
            self._stop_processing()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f"active: subscribed to {self._subscription.topic_name} "
                               f"({self._expected_type()}, {self._reliability.replace('_', ' ')}, qos: {settings.qos})")
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

    def _create_hri_manager(self, id_prefix: str) -> hri.HriPublisherManager | None:
        try:
            import hri_msgs.msg as hri_msgs
        except ImportError:
            self.get_logger().warning("hri.enabled is true but hri_msgs does not import: REP-155 topics are off "
                                      "(install ros-$ROS_DISTRO-hri-msgs)")
            return None
        types = hri.HriTypes(IdsList=hri_msgs.IdsList, NormalizedRegionOfInterest2D=hri_msgs.NormalizedRegionOfInterest2D,
                             NormalizedPointOfInterest2D=hri_msgs.NormalizedPointOfInterest2D,
                             Expression=hri_msgs.Expression, FacialLandmarks=hri_msgs.FacialLandmarks,
                             FacialActionUnits=hri_msgs.FacialActionUnits)
        return hri.HriPublisherManager(self, types, id_prefix)

    def _stop_processing(self) -> None:
        self._tf = None
        for name in ("_subscription", "_camera_info_sub", "_watch_timer"):
            entity = getattr(self, name)
            if entity is not None:
                (self.destroy_timer if name == "_watch_timer" else self.destroy_subscription)(entity)
                setattr(self, name, None)
        if self._runner is not None:
            if not self._runner.stop():
                self.get_logger().error("the pipeline worker did not finish its frame within 10 s of the stop; it "
                                        "keeps running in the background (a network call that hangs?): restart "
                                        "the node if results look wrong after re-activating")
            self._runner = None
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

    # ---- input -----------------------------------------------------------------------------------------
    def _expected_type(self) -> str:
        assert self._node_settings is not None
        return input_watch.IMAGE_TYPES[1 if self._node_settings.compressed else 0]

    def _subscribe(self, reliability: str) -> None:
        assert self._node_settings is not None
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
        self._reliability = reliability
        compressed = self._node_settings.compressed
        msg_type = sensor_msgs.msg.CompressedImage if compressed else sensor_msgs.msg.Image
        callback: Any = (lambda msg, info: self._receive(msg, compressed, info)) if MESSAGE_INFO else \
            (lambda msg: self._receive(msg, compressed))
        self._subscription = self.create_subscription(msg_type, "image/compressed" if compressed else "image",
                                                      callback, _image_qos(reliability))

    def _receive(self, msg: Any, compressed: bool, info: dict | None = None) -> None:
        self._last_image_at = time.monotonic()
        self._silence = ""
        if info is not None and self._runner is not None:
            lost = self._gaps.gap(int(info.get("publication_sequence_number", SequenceGaps.UNSUPPORTED)))
            if lost:
                self._runner.count_lost(lost)
        try:
            frame = to_frame(msg, compressed, self._min_side_px)
        except ImageMessageError as error:
            text = self._rejects.add(error, time.monotonic())
            if text:
                self.get_logger().warning(text)
            return
        for _, text in self._notes.check(frame):
            self.get_logger().warning(text)
        frame.camera = self._camera_info.match(frame.stamp_ns)  # None: camera.fov_deg
        if not self._clock_checked and frame.stamp_ns:
            self._clock_checked = True
            note = input_watch.clock_note(frame.stamp_ns, self.get_clock().now().nanoseconds,
                                          bool(self.get_parameter("use_sim_time").value))
            if note:
                self.get_logger().warning(note)
        if self._runner is not None:
            self._runner.submit(frame)

    def _watch_input(self) -> None:
        """1 Hz while active: match the publishers' reliability (qos auto), and say why no image arrives."""
        settings = self._node_settings
        if self._subscription is None or settings is None:
            return
        topic = self._subscription.topic_name
        publishers = [input_watch.Publisher(
            node=f"{info.node_namespace.rstrip('/')}/{info.node_name}",
            reliability=input_watch.RELIABLE if info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            else input_watch.BEST_EFFORT) for info in self.get_publishers_info_by_topic(topic)]
        wanted = input_watch.choose_reliability(settings.qos, publishers)
        if wanted != self._reliability and publishers:
            self.get_logger().info(f"{topic}: publishers offer {wanted.replace('_', ' ')}; subscribing "
                                   f"{wanted.replace('_', ' ')} (qos: {settings.qos})")
            self._subscribe(wanted)
        since = self._last_image_at if self._last_image_at is not None else self._activated_at
        silent_s = time.monotonic() - since
        if silent_s < settings.thresholds.input_timeout_s or self._silence:
            return
        self._silence = input_watch.silence_report(topic, self._expected_type(), self._reliability, silent_s,
                                                   self.get_topic_names_and_types(), publishers,
                                                   since_activation=self._last_image_at is None)
        self.get_logger().warning(self._silence)  # once per silence: the next image clears it

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
        self._last_error = f"{type(error).__name__}: {error}"
        self.get_logger().error(f"frame {frame.stamp_ns} failed: {self._last_error}", throttle_duration_sec=5.0)

    # ---- output ----------------------------------------------------------------------------------------
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
        if self._faces_pub is None or self._events_pub is None or self._node_settings is None:
            return
        header = messages.header_message(result.stamp_ns, result.frame_id, self._msg_types)
        latency_ns = self.get_clock().now().nanoseconds - result.stamp_ns
        self._faces_pub.publish(messages.face_array_message(
            result, self._msg_types, processing_time_ns=latency_ns,
            include_landmarks=self._node_settings.publish_landmarks))
        for event in result.events:
            self._events_pub.publish(messages.event_message(event, result.frame_id, self._msg_types))
        if self._hri is not None:
            self._hri.publish(result, header)
        if self._tf is not None:
            tf_frames.broadcast(self._tf, result, self._node_settings.hri_id_prefix)
        if self._debug_pub is not None and self._debug_pub.get_subscription_count() > 0:
            debug = sensor_msgs.msg.Image(**bgr_to_image_fields(draw_result(frame.image, result)))
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
        assert self._node_settings is not None and self._diag_pub is not None
        stats = self._runner.stats() if self._runner is not None else None
        health = diagnostics.NodeHealth(
            backend=self._backend, models=self._model_names, models_dir=self._models_dir,
            input_topic=self._subscription.topic_name if self._subscription is not None else "",
            rejected=dict(self._rejects.counts), last_error=self._last_error, silence=self._silence)
        report = diagnostics.pipeline_status(stats, health, self._node_settings.thresholds)
        levels = {diagnostics.OK: DiagnosticStatus.OK, diagnostics.WARN: DiagnosticStatus.WARN,
                  diagnostics.ERROR: DiagnosticStatus.ERROR}
        status = DiagnosticStatus(level=levels[report.level], name=f"{self.get_fully_qualified_name()}: {DIAGNOSTIC_NAME}",
                                  message=report.message, hardware_id=self._backend,
                                  values=[KeyValue(key=key, value=value) for key, value in report.values])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)


class _ShutdownRequest:
    """SIGINT/SIGTERM -> a flag the spin loop checks; later signals (launch repeats Ctrl-C) are ignored.

    rclpy's own handlers differ between Humble and Jazzy (which signals, whether the context is shut down
    before the node can finish its transition, ExternalShutdownException), and a second SIGINT during
    cleanup would end the process with -2; one handler of our own behaves the same on both.
    """

    def __init__(self) -> None:
        self.signal_name = ""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.signal_name:
            self.signal_name = signal.Signals(signum).name

    def __bool__(self) -> bool:
        return bool(self.signal_name)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = _ShutdownRequest()
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
