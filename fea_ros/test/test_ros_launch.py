"""pipeline.launch.py and the rules it applies (fea_ros.launchfile): arguments, params-file sections in any
namespace, misspelt keys, the camera topic and transport of a bag, lifecycle handlers that fire once.

launch and launch_ros are not installable from PyPI, so the launch file itself is read as source (ast) and its
decisions are tested through fea_ros.launchfile, which it imports."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from replay_bags import STORAGES, as_humble_recording, face_frames
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_typestore

from fea_ros.bag.errors import BagError, TopicSelectionError
from fea_ros.bag.topics import TopicSummary, bag_topics, choose_camera_topic
from fea_ros.core.image_msg import bgr_to_compressed_fields, bgr_to_image_fields
from fea_ros.launchfile.camera import camera_input
from fea_ros.launchfile.errors import LaunchConfigError
from fea_ros.launchfile.names import node_fqn, node_namespace, optional_flag
from fea_ros.launchfile.params_file import (known_parameter_names, load_node_parameters, node_parameters,
                                            unknown_parameters, with_declared_types)
from fea_ros.ros import params

PACKAGE_DIR = Path(__file__).resolve().parents[1]
LAUNCH_FILE = PACKAGE_DIR / "launch" / "pipeline.launch.py"
CONFIG_FILE = PACKAGE_DIR / "config" / "pipeline.yaml"
SAMPLE_BAGS = [PACKAGE_DIR / "samples" / "bags" / name for name in ("faces3_mcap", "faces3_sqlite3")]
SAMPLE_TOPIC = "/camera/image_raw/compressed"
REQUIRED_ARGUMENTS = {"camera_topic", "compressed", "namespace", "params_file", "backend", "debug_image", "hri",
                      "use_sim_time", "log_level", "bag", "autostart"}


def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))


def declared_arguments() -> dict[str, str]:
    for node in launch_tree().body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "ARGUMENTS" for t in node.targets):
            return {entry[0]: entry[1] for entry in ast.literal_eval(node.value)}
    raise AssertionError("ARGUMENTS not found")


def state_transition_handlers() -> list[dict[str, object]]:
    """Keyword arguments (constants only) of every OnStateTransition(...) in the launch file."""
    calls = [node for node in ast.walk(launch_tree())
             if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "OnStateTransition"]
    return [{kw.arg: kw.value.value for kw in call.keywords if isinstance(kw.value, ast.Constant)} for call in calls]


# --- the launch file ---------------------------------------------------------------------------------------------

def test_launch_file_declares_every_documented_argument():
    arguments = declared_arguments()
    assert set(arguments) == REQUIRED_ARGUMENTS
    assert arguments["autostart"] == "true" and arguments["use_sim_time"] == "false"
    assert arguments["params_file"] == ""  # replaced by the installed config/pipeline.yaml at launch
    assert arguments["camera_topic"] == "" and arguments["compressed"] == ""  # empty = the bag decides


def test_lifecycle_handlers_fire_once_so_manual_transitions_work_afterwards():
    handlers = state_transition_handlers()
    configured = [h for h in handlers if h.get("start_state") == "configuring"]
    activated = [h for h in handlers if h.get("start_state") == "activating"]
    assert len(configured) == 1 and configured[0].get("handle_once") is True  # activate after the FIRST configure
    assert len(activated) == 1 and activated[0].get("handle_once") is True  # the bag plays once
    assert all(h.get("handle_once") is True for h in handlers)


def test_the_launch_helpers_import_no_ros_and_no_heavy_libraries():
    """The launch process imports them: no rclpy/launch (tested without ROS), no onnxruntime/cv2 (slow)."""
    code = ("import sys, fea_ros.launchfile.camera, fea_ros.launchfile.params_file, fea_ros.launchfile.names; "
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("rclpy", "launch", "launch_ros", "onnxruntime", "cv2", "torch", "rosbags", "matplotlib"):
        assert f"'{heavy}'" not in loaded


def test_launch_file_loads_and_builds_its_description():
    pytest.importorskip("launch_ros", reason="launch_ros is not installable without ROS")
    spec = importlib.util.spec_from_file_location("pipeline_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    names = {entity.name for entity in description.entities if hasattr(entity, "default_value")}
    assert names == REQUIRED_ARGUMENTS


# --- params file: sections in any namespace ----------------------------------------------------------------------

@pytest.mark.parametrize("fqn", ["/pipeline_node", "/cam_left/pipeline_node", "/robot/cam/pipeline_node"])
def test_the_shipped_params_file_applies_in_any_namespace_like_the_node_table(fqn):
    loaded = load_node_parameters(CONFIG_FILE, fqn)
    assert loaded.values == params.parameters_from_yaml(yaml.safe_load(CONFIG_FILE.read_text()))
    assert loaded.sections == ("pipeline_node",)
    assert unknown_parameters(loaded.values) == []  # every shipped key is a declared parameter


NAMESPACED_FILE = """
/cam_right/pipeline_node:
  ros__parameters:
    detection: {threshold: 0.9}
/**:
  ros__parameters:
    qos: reliable
    detection: {threshold: 0.3, max_faces: 2}
/cam_left/pipeline_node:
  ros__parameters:
    detection: {threshold: 0.7}
pipeline_node:
  ros__parameters:
    debug_image: true
    detection: {threshold: 0.5}
/**/pipeline_node:
  ros__parameters:
    detection: {threshold: 0.4, max_faces: 3}
camera_driver:
  ros__parameters: {fps: 30}
"""


def test_namespaced_wildcard_and_plain_sections_merge_from_general_to_specific():
    data = yaml.safe_load(NAMESPACED_FILE)
    left = node_parameters(data, "/cam_left/pipeline_node")
    assert left.sections == ("/**", "/**/pipeline_node", "pipeline_node", "/cam_left/pipeline_node")
    assert left.values == {"qos": "reliable", "detection.threshold": 0.7, "detection.max_faces": 3,
                           "debug_image": True}
    other = node_parameters(data, "/cam_other/pipeline_node")  # no section of its own: the general ones
    assert other.values["detection.threshold"] == 0.5 and "fps" not in other.values
    assert node_parameters(data, "/cam_right/pipeline_node").values["detection.threshold"] == 0.9


def test_nested_namespace_keys_and_single_token_wildcards_match_as_in_rcl():
    data = yaml.safe_load("""
cam_left:
  pipeline_node:
    ros__parameters: {qos: reliable}
/*/pipeline_node:
  ros__parameters: {debug_image: true}
""")
    assert node_parameters(data, "/cam_left/pipeline_node").values == {"qos": "reliable", "debug_image": True}
    assert node_parameters(data, "/a/pipeline_node").values == {"debug_image": True}
    with pytest.raises(LaunchConfigError):  # '*' is exactly one namespace token
        node_parameters(data, "/a/b/pipeline_node")


def test_a_params_file_without_a_matching_section_is_refused_with_its_sections(tmp_path):
    bad = tmp_path / "other.yaml"
    bad.write_text("camera_node:\n  ros__parameters:\n    fps: 30\n/cam_right/pipeline_node:\n"
                   "  ros__parameters:\n    qos: reliable\n")
    with pytest.raises(LaunchConfigError) as caught:
        load_node_parameters(bad, "/cam_left/pipeline_node")
    text = str(caught.value)
    assert "/cam_left/pipeline_node" in text and "camera_node" in text and "/cam_right/pipeline_node" in text
    with pytest.raises(LaunchConfigError, match="does not exist"):
        load_node_parameters(tmp_path / "missing.yaml", "/pipeline_node")
    (tmp_path / "broken.yaml").write_text("pipeline_node: [unclosed\n")
    with pytest.raises(LaunchConfigError, match="not valid YAML"):
        load_node_parameters(tmp_path / "broken.yaml", "/pipeline_node")


# --- params file: misspelt keys and number types -----------------------------------------------------------------

def test_misspelt_and_misplaced_keys_get_the_closest_parameter_name():
    values = {"detection.treshold": 0.4, "input_transprot": "compressed", "tracking.max_faces": 2,
              "use_sim_time": True, "qos_overrides./image.subscription.depth": 1, "completely_unrelated": 1,
              "mie.enabled": True}
    found = {u.name: u.suggestion for u in unknown_parameters(values)}
    assert found == {"detection.treshold": "detection.threshold", "input_transprot": "input_transport",
                     "tracking.max_faces": "detection.max_faces", "completely_unrelated": None}
    message = unknown_parameters({"detection.treshold": 0.4})[0].message("params_file x.yaml")
    assert "x.yaml" in message and "'detection.treshold'" in message and "'detection.threshold'" in message


def test_every_node_parameter_is_known_including_the_node_only_ones():
    known = known_parameter_names()
    assert {spec.name for spec in params.NODE_PARAMETERS} <= known
    assert {"mie.enabled", "inference.backend", "use_sim_time"} <= known


def test_integers_for_double_parameters_become_floats():
    values, changed = with_declared_types({"detection.threshold": 1, "detection.max_faces": 3, "debug_image": True,
                                           "temporal.time_constant_s": 0.5})
    assert changed == ["detection.threshold"]
    assert type(values["detection.threshold"]) is float and type(values["detection.max_faces"]) is int
    assert values["debug_image"] is True


# --- names and flags ---------------------------------------------------------------------------------------------

def test_namespaces_resolve_like_launch_ros():
    assert node_fqn(node_namespace(None, "")) == "/pipeline_node"
    assert node_fqn(node_namespace(None, "cam_left")) == "/cam_left/pipeline_node"
    assert node_fqn(node_namespace("/robot", "cam_left")) == "/robot/cam_left/pipeline_node"  # PushRosNamespace
    assert node_fqn(node_namespace("/robot", "/cam_left")) == "/cam_left/pipeline_node"  # absolute wins
    assert optional_flag("compressed", "") is None and optional_flag("compressed", "True") is True
    with pytest.raises(LaunchConfigError, match="compressed:=maybe"):
        optional_flag("compressed", "maybe")


# --- camera input: live camera and bags --------------------------------------------------------------------------

def test_live_camera_keeps_the_documented_defaults():
    default = camera_input("", None)
    assert default.compressed is None  # the params file's input_transport decides
    assert dict(default.remappings) == {"image": "/camera/image_raw",
                                        "image/compressed": "/camera/image_raw/compressed"}
    compressed = camera_input("/cam/color", True)
    assert compressed.topic == "/cam/color/compressed" and dict(compressed.remappings)["image/compressed"] == \
        "/cam/color/compressed"
    assert camera_input("/cam/color/compressed", None).compressed is True


@pytest.mark.parametrize("bag", SAMPLE_BAGS, ids=lambda p: p.name)
def test_the_sample_bags_select_their_compressed_camera_topic(bag):
    chosen = camera_input("", None, str(bag))
    assert chosen.topic == SAMPLE_TOPIC and chosen.compressed is True
    assert dict(chosen.remappings) == {"image/compressed": SAMPLE_TOPIC, "image": "/camera/image_raw"}
    assert SAMPLE_TOPIC in chosen.notes[0] and "input_transport compressed" in chosen.notes[0]
    # the documented camera_topic of the raw stream finds its /compressed recording
    assert camera_input("/camera/image_raw", None, str(bag)).topic == SAMPLE_TOPIC
    with pytest.raises(TopicSelectionError) as caught:  # raw asked for, only CompressedImage recorded
        camera_input("", False, str(bag))
    assert SAMPLE_TOPIC in str(caught.value) and "compressed:=" in str(caught.value)
    with pytest.raises(TopicSelectionError, match="not in bag"):
        camera_input("/camera/color/image_raw", None, str(bag))


def write_messages(path: Path, topics: dict[str, tuple[str, int]], version: int = 9,
                   storage: str = "mcap") -> Path:
    """A bag with ``count`` real messages per topic: camera frames of the sample clip, or strings."""
    typestore = get_typestore(Stores.ROS2_JAZZY)
    frames = face_frames(max(count for _, count in topics.values()))
    with Writer(path, version=version, storage_plugin=STORAGES[storage]) as writer:
        for topic, (msgtype, count) in topics.items():
            connection = writer.add_connection(topic, msgtype, typestore=typestore)
            for index in range(count):
                header = typestore.types["std_msgs/msg/Header"](
                    stamp=typestore.types["builtin_interfaces/msg/Time"](sec=index, nanosec=0), frame_id="cam")
                if msgtype.endswith("CompressedImage"):
                    message = typestore.types[msgtype](header=header, **bgr_to_compressed_fields(frames[index]))
                elif msgtype.endswith("/Image"):
                    message = typestore.types[msgtype](header=header, **bgr_to_image_fields(frames[index], "bgr8"))
                else:
                    message = typestore.types[msgtype](data=f"message {index}")
                writer.write(connection, index * 40_000_000 + 1, typestore.serialize_cdr(message, msgtype))
    return path


@pytest.mark.parametrize("storage", sorted(STORAGES))
def test_a_bag_without_an_image_topic_is_refused_with_its_topics(tmp_path, storage):
    bag = write_messages(tmp_path / "bag", {"/chatter": ("std_msgs/msg/String", 3),
                                            "/status": ("std_msgs/msg/String", 1)}, storage=storage)
    with pytest.raises(TopicSelectionError) as caught:
        camera_input("", None, str(bag))
    text = str(caught.value)
    assert "no sensor_msgs/msg/Image or CompressedImage topic" in text
    assert "/chatter (std_msgs/msg/String)" in text and "/status" in text


def test_several_image_topics_pick_the_busiest_and_say_how_to_choose(tmp_path):
    bag = write_messages(tmp_path / "bag", {"/left/image_raw": ("sensor_msgs/msg/Image", 2),
                                            "/right/image_raw/compressed": ("sensor_msgs/msg/CompressedImage", 3),
                                            "/chatter": ("std_msgs/msg/String", 1)})
    chosen = camera_input("", None, str(bag))
    assert chosen.topic == "/right/image_raw/compressed" and chosen.compressed is True
    assert "2 image topics" in chosen.notes[1] and "/left/image_raw" in chosen.notes[1]
    assert "camera_topic:=" in chosen.notes[1]
    left = camera_input("/left/image_raw", None, str(bag))
    assert left.compressed is False and dict(left.remappings)["image"] == "/left/image_raw"
    assert camera_input("", False, str(bag)).topic == "/left/image_raw"  # compressed:=false narrows the choice


def test_equal_counts_prefer_the_raw_image_then_the_name():
    topics = [TopicSummary("/b/image_raw/compressed", "sensor_msgs/msg/CompressedImage", 5),
              TopicSummary("/c/image_raw", "sensor_msgs/msg/Image", 5),
              TopicSummary("/a/image_raw", "sensor_msgs/msg/Image", 5)]
    assert choose_camera_topic(topics, "bag").topic == "/a/image_raw"


def test_humble_and_jazzy_metadata_versions_are_read(tmp_path):
    jazzy = write_messages(tmp_path / "jazzy", {"/cam/image_raw": ("sensor_msgs/msg/Image", 2)}, version=9)
    humble = as_humble_recording(write_messages(tmp_path / "humble", {"/cam/image_raw": ("sensor_msgs/msg/Image", 2)},
                                                version=8, storage="sqlite3"))
    assert "version: 5" in (humble / "metadata.yaml").read_text()
    for bag in (jazzy, humble):
        assert bag_topics(bag) == [TopicSummary("/cam/image_raw", "sensor_msgs/msg/Image", 2)]
        assert camera_input("", None, str(bag)).compressed is False
    assert bag_topics(jazzy / "jazzy.mcap") == bag_topics(jazzy)  # a storage file stands for its folder


def test_a_missing_bag_is_a_clear_error(tmp_path):
    with pytest.raises(BagError, match="no bag at"):
        camera_input("", None, str(tmp_path / "nothing"))
