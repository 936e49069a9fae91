"""pipeline_node's camera input while active: the image subscription, CameraInfo, and the 1 Hz input watch.

Every image becomes a Frame for the runner (image_input.py converts it and names its defects); the watch
matches the publishers' reliability (qos auto) and says why no image arrives (input_watch.py).
"""
from __future__ import annotations

import time
from typing import Any

import sensor_msgs.msg
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription

from fea_ros.core.image_msg import ImageMessageError
from fea_ros.ros import camera_info, input_watch, params
from fea_ros.ros.image_input import InputNotes, RejectLog, SequenceGaps, to_frame
from fea_ros.ros.runner import FrameRunner

# Jazzy's rclpy (since Iron) passes the message info, with the publisher's sequence numbers, to callbacks
# taking two arguments; Humble's calls every callback with the message alone, so there the frames that DDS
# discards before the node takes them are not counted.
MESSAGE_INFO = hasattr(getattr(Subscription, "CallbackType", None), "WithMessageInfo")
_RELIABILITY = {input_watch.RELIABLE: ReliabilityPolicy.RELIABLE, input_watch.BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT}


def image_qos(reliability: str) -> QoSProfile:
    # depth 1: the pipeline only ever wants the newest frame (the runner's one-slot mailbox)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=_RELIABILITY[reliability])


class ImageSubscriber:
    """Subscribes ``node`` to its camera (``image`` or ``image/compressed``, and ``camera_info``) and hands every
    usable image to ``runner``; ``close`` unsubscribes."""

    def __init__(self, node: Node, settings: params.NodeSettings, runner: FrameRunner, min_side_px: float) -> None:
        self._node, self._settings, self._runner, self._min_side_px = node, settings, runner, min_side_px
        self.rejects = RejectLog()  # unusable images by kind, for /diagnostics
        self._notes = InputNotes()
        self._gaps = SequenceGaps()
        self._clock_checked = False
        self.silence = ""  # the latest explanation of why no image arrives, for /diagnostics
        self._subscription: Any = None
        self._camera_info_sub: Any = None
        self._watch_timer: Any = None
        self.reliability = input_watch.BEST_EFFORT
        self.camera_info = camera_info.CameraInfoMatcher()  # intrinsics for the head pose, matched by stamp
        try:
            self._subscribe(input_watch.choose_reliability(settings.qos, []))
            self._camera_info_sub = node.create_subscription(sensor_msgs.msg.CameraInfo, "camera_info",
                                                             self.camera_info.on_message,
                                                             image_qos(input_watch.BEST_EFFORT))
            self._activated_at = time.monotonic()
            self._last_image_at: float | None = None
            self._watch_timer = node.create_timer(1.0, self._watch, clock=Clock(clock_type=ClockType.STEADY_TIME))
        except Exception:
            self.close()
            raise

    @property
    def topic_name(self) -> str:
        return self._subscription.topic_name if self._subscription is not None else ""

    def expected_type(self) -> str:
        return input_watch.IMAGE_TYPES[1 if self._settings.compressed else 0]

    def close(self) -> None:
        """Unsubscribe and stop the watch (as far as they were made: also after a failed start)."""
        for name in ("_subscription", "_camera_info_sub", "_watch_timer"):
            entity = getattr(self, name)
            if entity is not None:
                (self._node.destroy_timer if name == "_watch_timer" else self._node.destroy_subscription)(entity)
                setattr(self, name, None)

    def _subscribe(self, reliability: str) -> None:
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
        self.reliability = reliability
        compressed = self._settings.compressed
        msg_type = sensor_msgs.msg.CompressedImage if compressed else sensor_msgs.msg.Image
        callback: Any = (lambda msg, info: self._receive(msg, compressed, info)) if MESSAGE_INFO else \
            (lambda msg: self._receive(msg, compressed))
        self._subscription = self._node.create_subscription(msg_type, "image/compressed" if compressed else "image",
                                                            callback, image_qos(reliability))

    def _receive(self, msg: Any, compressed: bool, info: dict | None = None) -> None:
        self._last_image_at = time.monotonic()
        self.silence = ""
        logger = self._node.get_logger()
        if info is not None:
            lost = self._gaps.gap(int(info.get("publication_sequence_number", SequenceGaps.UNSUPPORTED)))
            if lost:
                self._runner.count_lost(lost)
        try:
            frame = to_frame(msg, compressed, self._min_side_px)
        except ImageMessageError as error:
            text = self.rejects.add(error, time.monotonic())
            if text:
                logger.warning(text)
            return
        for _, text in self._notes.check(frame):
            logger.warning(text)
        frame.camera = self.camera_info.match(frame.stamp_ns)  # None: camera.fov_deg
        if not self._clock_checked and frame.stamp_ns:
            self._clock_checked = True
            note = input_watch.clock_note(frame.stamp_ns, self._node.get_clock().now().nanoseconds,
                                          bool(self._node.get_parameter("use_sim_time").value))
            if note:
                logger.warning(note)
        self._runner.submit(frame)

    def _watch(self) -> None:
        """1 Hz while active: match the publishers' reliability (qos auto), and say why no image arrives."""
        if self._subscription is None:
            return
        settings, topic = self._settings, self._subscription.topic_name
        publishers = [input_watch.Publisher(
            node=f"{info.node_namespace.rstrip('/')}/{info.node_name}",
            reliability=input_watch.RELIABLE if info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            else input_watch.BEST_EFFORT) for info in self._node.get_publishers_info_by_topic(topic)]
        wanted = input_watch.choose_reliability(settings.qos, publishers)
        if wanted != self.reliability and publishers:
            self._node.get_logger().info(f"{topic}: publishers offer {wanted.replace('_', ' ')}; subscribing "
                                         f"{wanted.replace('_', ' ')} (qos: {settings.qos})")
            self._subscribe(wanted)
        since = self._last_image_at if self._last_image_at is not None else self._activated_at
        silent_s = time.monotonic() - since
        if silent_s < settings.thresholds.input_timeout_s or self.silence:
            return
        self.silence = input_watch.silence_report(topic, self.expected_type(), self.reliability, silent_s,
                                                  self._node.get_topic_names_and_types(), publishers,
                                                  since_activation=self._last_image_at is None)
        self._node.get_logger().warning(self.silence)  # once per silence: the next image clears it
