"""Why no image arrives, which QoS to subscribe with, whose clock the stamps follow: the node's input checks.

Framework-free: the node passes in what rclpy reports (topic names and types, the reliability each
publisher offers, its clock) and logs or publishes the text these functions return.
"""
from __future__ import annotations

from dataclasses import dataclass

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
RELIABLE, BEST_EFFORT = "reliable", "best_effort"
#: image stamps and the node's clock may differ by this much before the node says which clock to use
CLOCK_TOLERANCE_S = 5.0


@dataclass(frozen=True)
class Publisher:
    node: str  # the publishing node's fully qualified name
    reliability: str  # RELIABLE | BEST_EFFORT


def choose_reliability(mode: str, publishers: list[Publisher]) -> str:
    """The camera subscription's reliability for the ``qos`` parameter.

    ``auto`` matches the publishers, as ``ros2 bag record`` does: reliable when every publisher offers it
    (large frames then arrive whole; a best-effort reader loses a whole frame with any lost fragment), best
    effort otherwise (a reliable reader would not connect to a best-effort camera at all).
    """
    if mode == "reliable":
        return RELIABLE
    if mode == "sensor_data":
        return BEST_EFFORT
    if publishers and all(p.reliability == RELIABLE for p in publishers):
        return RELIABLE
    return BEST_EFFORT


def silence_report(topic: str, expected_type: str, reliability: str, seconds: float,
                   names_and_types: list[tuple[str, list[str]]], publishers: list[Publisher],
                   since_activation: bool = True) -> str:
    """One message for 'no image for ``seconds``': what the graph holds and what to change."""
    since = "since activation" if since_activation else "since the last one"
    head = f"no image on {topic} ({expected_type}, {reliability.replace('_', ' ')}) for {seconds:.0f} s {since}"
    types_here = next((types for name, types in names_and_types if name == topic), [])
    if publishers:
        offered = sorted({p.reliability for p in publishers})
        if reliability == RELIABLE and BEST_EFFORT in offered:
            return (f"{head}: its publisher(s) {', '.join(p.node for p in publishers)} offer best effort, which a "
                    "reliable subscription does not accept; set the parameter qos to auto or sensor_data")
        if expected_type not in types_here and types_here:
            return (f"{head}: {topic} carries {', '.join(types_here)}; set input_transport "
                    f"({'compressed' if 'Compressed' in types_here[0] else 'raw'}) to match")
        return (f"{head}, although {len(publishers)} publisher(s) exist ({', '.join(p.node for p in publishers)}, "
                f"offering {'/'.join(o.replace('_', ' ') for o in offered)}): large images sent best effort are "
                "lost whole when one DDS fragment is lost (a 1080p bgr8 frame is 6 MB); publish and subscribe "
                "reliable (qos: auto or reliable), or use the compressed transport; see docs/ros.md "
                "'Large images'")
    images = [f"{name} ({', '.join(t for t in types if t in IMAGE_TYPES)})" for name, types in names_and_types
              if any(t in IMAGE_TYPES for t in types) and name != topic]
    where = ("image topics that exist: " + ", ".join(images) + "; remap the node's input to one of them "
             "(launch: camera_topic:=..., compressed:=true for CompressedImage)") if images else \
        "no image topic exists in this ROS domain: is the camera (or bag) running, with the same ROS_DOMAIN_ID?"
    if types_here and expected_type not in types_here:  # (our own subscription makes the topic exist)
        where = f"{topic} exists as {', '.join(types_here)}; " + where
    return f"{head}: nobody publishes it; {where}"


def clock_note(stamp_ns: int, now_ns: int, use_sim_time: bool, tolerance_s: float = CLOCK_TOLERANCE_S) -> str | None:
    """A warning when image stamps and the node's clock disagree by more than ``tolerance_s``; else None.

    The node's ``processing_time`` (clock now - image stamp) only means latency when both follow one clock.
    """
    if stamp_ns == 0:
        return None  # reported as an input defect of its own
    offset_s = (now_ns - stamp_ns) / 1e9
    if abs(offset_s) <= tolerance_s:
        return None
    if use_sim_time and now_ns == 0:
        return ("use_sim_time is true but no /clock has arrived: the node's clock stands at 0, so processing "
                "times are meaningless; play the bag with 'ros2 bag play --clock' (the launch file's bag:= does) "
                "or set use_sim_time:=false for a live camera")
    behind = f"{abs(offset_s):.0f} s {'behind' if offset_s > 0 else 'ahead of'}"
    if use_sim_time:
        return (f"image stamps are {behind} the /clock time: the bag's /clock and its image stamps disagree, "
                "or another /clock publisher is running; play one bag with --clock")
    return (f"image stamps are {behind} the node's wall clock: a bag played without --clock (set "
            "use_sim_time:=true and play it with 'ros2 bag play --clock'; the launch file's bag:= does both), "
            "or the camera's clock is not synchronised with this machine (use chrony/PTP); processing_time "
            "in 'faces' is not latency until then")
