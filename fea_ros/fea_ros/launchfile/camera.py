"""The launch's camera input: the topic the node's ``image`` / ``image/compressed`` are remapped to and, with
``bag:=``, which of the bag's topics that is and in which transport (a bag of CompressedImage needs
``input_transport: compressed``, or the node waits on a raw topic nobody publishes)."""
from __future__ import annotations

from dataclasses import dataclass

from fea_ros.launchfile.errors import LaunchConfigError

DEFAULT_CAMERA_TOPIC = "/camera/image_raw"
COMPRESSED_SUFFIX = "/compressed"


@dataclass(frozen=True)
class CameraInput:
    topic: str  # the topic the node subscribes to (an Image topic, or a CompressedImage topic)
    compressed: bool | None  # input_transport to set; None leaves the params file's
    remappings: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]  # what was chosen and why, for the launch log


def remappings_for(topic: str, compressed: bool | None) -> tuple[tuple[str, str], ...]:
    """Both node topic names, so a later change of input_transport still finds the camera."""
    if compressed and topic.endswith(COMPRESSED_SUFFIX):
        return (("image", topic[:-len(COMPRESSED_SUFFIX)]), ("image/compressed", topic))
    if compressed:
        return (("image/compressed", topic),)  # a CompressedImage topic without a raw sibling name
    return (("image", topic), ("image/compressed", topic + COMPRESSED_SUFFIX))


def live_camera_input(camera_topic: str, compressed: bool | None) -> CameraInput:
    """No bag: ``camera_topic`` (default /camera/image_raw); compressed:=true uses its /compressed sibling."""
    topic = camera_topic or DEFAULT_CAMERA_TOPIC
    notes = []
    if topic.endswith(COMPRESSED_SUFFIX) and compressed is None:  # image_transport's name for CompressedImage
        compressed = True
        notes.append(f"camera_topic {topic} ends in {COMPRESSED_SUFFIX}: subscribing to it as CompressedImage "
                     "(compressed:=false overrides)")
    if compressed and not topic.endswith(COMPRESSED_SUFFIX):
        topic += COMPRESSED_SUFFIX
    if compressed is None:
        notes.insert(0, f"camera: {topic} (Image) or {topic}{COMPRESSED_SUFFIX} (CompressedImage), as the "
                        "params file's input_transport says")
    else:
        notes.insert(0, f"camera: {topic} ({'CompressedImage' if compressed else 'Image'})")
    return CameraInput(topic, compressed, remappings_for(topic, compressed), tuple(notes))


def bag_camera_input(bag: str, camera_topic: str, compressed: bool | None) -> CameraInput:
    """With bag:=, the bag's image topic and transport, unless camera_topic:= / compressed:= say otherwise."""
    try:
        from fea_ros.bag.topics import bag_topics, choose_camera_topic
    except ImportError as exc:  # rosbags: rosdep key python3-rosbags-pip, or the README's pip line
        raise LaunchConfigError(
            f"bag:= reads the bag's topics with the rosbags package, which cannot be imported ({exc}); install it "
            "with `rosdep install --from-paths src --ignore-src -y` or the pip line in docs/ros.md, or give "
            "camera_topic:= and compressed:= and play the bag yourself") from exc
    choice = choose_camera_topic(bag_topics(bag), bag, camera_topic, compressed)
    transport = "compressed" if choice.compressed else "raw"
    notes = [f"bag {bag}: subscribing to {choice.topic} ({choice.msgtype}, {choice.count} msgs), "
             f"input_transport {transport}"]
    if choice.note:
        notes.append(choice.note)
    return CameraInput(choice.topic, choice.compressed, remappings_for(choice.topic, choice.compressed),
                       tuple(notes))


def camera_input(camera_topic: str, compressed: bool | None, bag: str = "") -> CameraInput:
    return bag_camera_input(bag, camera_topic, compressed) if bag else live_camera_input(camera_topic, compressed)
