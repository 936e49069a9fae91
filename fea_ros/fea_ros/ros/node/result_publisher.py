"""pipeline_node's outputs while active: faces, micro_expressions, the debug image, REP-155 (/humans/faces/...) and
the face/gaze TF frames.

The pipeline's worker thread hands each result over with ``queue``; the executor thread, which owns the
publishers, publishes it (a guard condition wakes it). Messages are built by messages.py and hri.py.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

import fea_ros_msgs.msg
import sensor_msgs.msg
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from fea_ros.core.image_msg import bgr_to_image_fields
from fea_ros.core.types import Frame, FrameResult
from fea_ros.ros import hri, messages, params, tf_frames
from fea_ros.ros.debug_overlay import draw_result

RESULT_QUEUE = 8  # processed frames waiting for the executor thread to publish them


def hri_manager(node: Node, id_prefix: str) -> hri.HriPublisherManager | None:
    """The REP-155 publishers, or None (with a warning) when hri_msgs does not import."""
    try:
        import hri_msgs.msg as hri_msgs
    except ImportError:
        node.get_logger().warning("hri.enabled is true but hri_msgs does not import: REP-155 topics are off "
                                  "(install ros-$ROS_DISTRO-hri-msgs)")
        return None
    types = hri.HriTypes(IdsList=hri_msgs.IdsList, NormalizedRegionOfInterest2D=hri_msgs.NormalizedRegionOfInterest2D,
                         NormalizedPointOfInterest2D=hri_msgs.NormalizedPointOfInterest2D,
                         Expression=hri_msgs.Expression, FacialLandmarks=hri_msgs.FacialLandmarks,
                         FacialActionUnits=hri_msgs.FacialActionUnits)
    return hri.HriPublisherManager(node, types, id_prefix)


class ResultPublisher:
    """Creates the result topics on ``node`` and publishes each queued frame's result there.

    ``on_error`` gets the text of a publishing failure (for /diagnostics); the failure is logged here and the
    next result is published as usual."""

    def __init__(self, node: Node, msg_types: Any, settings: params.NodeSettings, on_error: Callable[[str], None]) -> None:
        self._node, self._msg_types, self._settings, self._on_error = node, msg_types, settings, on_error
        self._pending: deque = deque(maxlen=RESULT_QUEUE)
        self._faces_pub: Any = None
        self._events_pub: Any = None
        self._debug_pub: Any = None
        self._hri: hri.HriPublisherManager | None = None
        self._wake: Any = None
        self._tf: Any = None  # tf2_ros broadcaster of face_<id> / gaze_<id>, None without tf2_ros
        try:
            reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
            self._faces_pub = node.create_publisher(fea_ros_msgs.msg.FaceExpressionArray, "faces", reliable)
            self._events_pub = node.create_publisher(fea_ros_msgs.msg.MicroExpressionEvent, "micro_expressions",
                                                     reliable)
            if settings.debug_image:
                # reliable: matches both reliable (rqt_image_view, rviz default) and best-effort subscribers
                self._debug_pub = node.create_publisher(sensor_msgs.msg.Image, "debug_image", 2)
            if settings.hri_enabled:
                self._hri = hri_manager(node, settings.hri_id_prefix)
            self._wake = node.create_guard_condition(self._publish_pending)
        except Exception:
            self.close()
            raise

    def broadcast_tf(self) -> None:
        """Also send the face/gaze TF frames (the pipeline computes head pose and gaze)."""
        self._tf = tf_frames.make_broadcaster(self._node)

    def queue(self, frame: Frame, result: FrameResult) -> None:
        """Worker thread: hand the result to the executor thread, which owns the publishers."""
        self._pending.append((frame, result))
        wake = self._wake
        if wake is not None:
            wake.trigger()

    def end_hri(self, stamp_ns: int) -> None:
        """Close the REP-155 topics with an empty face list stamped ``stamp_ns`` (the node stops seeing faces)."""
        if self._hri is not None:
            self._hri.close(messages.header_message(stamp_ns, "", self._msg_types))
            self._hri = None

    def close(self) -> None:
        """Drop what waits to be published and take the topics down (as far as they were made)."""
        self._tf = None
        self._pending.clear()
        if self._wake is not None:
            self._node.destroy_guard_condition(self._wake)
            self._wake = None
        if self._hri is not None:
            self._hri.close()
            self._hri = None
        for name in ("_faces_pub", "_events_pub", "_debug_pub"):
            publisher = getattr(self, name)
            if publisher is not None:
                self._node.destroy_publisher(publisher)
                setattr(self, name, None)

    def _publish_pending(self) -> None:
        while self._pending:
            frame, result = self._pending.popleft()
            try:
                self._publish(frame, result)
            except Exception as error:  # an exception here would end executor.spin(), i.e. the node
                text = f"publishing: {type(error).__name__}: {error}"
                self._on_error(text)
                self._node.get_logger().error(f"could not publish frame {result.stamp_ns}: {text}",
                                              throttle_duration_sec=5.0)

    def _publish(self, frame: Frame, result: FrameResult) -> None:
        if self._faces_pub is None or self._events_pub is None:
            return
        header = messages.header_message(result.stamp_ns, result.frame_id, self._msg_types)
        latency_ns = self._node.get_clock().now().nanoseconds - result.stamp_ns
        self._faces_pub.publish(messages.face_array_message(
            result, self._msg_types, processing_time_ns=latency_ns,
            include_landmarks=self._settings.publish_landmarks))
        for event in result.events:
            self._events_pub.publish(messages.event_message(event, result.frame_id, self._msg_types))
        if self._hri is not None:
            self._hri.publish(result, header)
        if self._tf is not None:
            tf_frames.broadcast(self._tf, result, self._settings.hri_id_prefix)
        if self._debug_pub is not None and self._debug_pub.get_subscription_count() > 0:
            debug = sensor_msgs.msg.Image(**bgr_to_image_fields(draw_result(frame.image, result)))
            debug.header = header
            self._debug_pub.publish(debug)
