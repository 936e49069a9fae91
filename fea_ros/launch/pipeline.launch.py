"""Start fea_ros's pipeline_node on a camera topic, configure and activate it.

    ros2 launch fea_ros pipeline.launch.py camera_topic:=/camera/color/image_raw
    ros2 launch fea_ros pipeline.launch.py camera_topic:=/cam_left/image_raw namespace:=cam_left
    ros2 launch fea_ros pipeline.launch.py bag:=/path/to/bag camera_topic:=/camera/image_raw

launch_ros's LifecycleNode has no autostart on Humble and early Jazzy releases (its `autostart`
argument arrived with launch_ros 0.26.7, ros2/launch_ros#430), so this file emits the lifecycle
ChangeState events itself (configure at start, activate on reaching 'inactive'), as ros2/launch_ros's
lifecycle examples do; that works with every release. Arguments left empty keep the params file's value.
"""
import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, LogInfo, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition

PACKAGE = "fea_ros"
NODE_NAME = "pipeline_node"
TRUE_WORDS = ("true", "1", "yes", "on")

ARGUMENTS = (
    ("camera_topic", "/camera/image_raw", "image topic (raw); with compressed:=true its /compressed sibling is used"),
    ("compressed", "", "true: subscribe to <camera_topic>/compressed (sensor_msgs/CompressedImage); empty = params file"),
    ("namespace", "", "ROS namespace of the node and its topics (one per camera)"),
    ("params_file", "", "parameters YAML (default: the installed config/pipeline.yaml)"),
    ("backend", "", "onnxruntime | tensorrt | auto; empty = params file"),
    ("debug_image", "", "true: publish the annotated debug_image; empty = params file"),
    ("hri", "", "true: also publish the ROS4HRI (REP-155) topics; empty = params file"),
    ("use_sim_time", "false", "use /clock (set automatically when bag is given)"),
    ("log_level", "info", "debug | info | warn | error"),
    ("bag", "", "rosbag2 to play with 'ros2 bag play --clock' once the node is active"),
    ("autostart", "true", "configure and activate the node automatically"),
)


def _is_true(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def load_parameters(path: str) -> dict:
    """Dotted parameters of the pipeline_node section, so the file applies in any namespace."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    for key in (NODE_NAME, f"/{NODE_NAME}", "/**"):
        section = data.get(key)
        if isinstance(section, dict) and isinstance(section.get("ros__parameters"), dict):
            return _flatten(section["ros__parameters"])
    raise RuntimeError(f"{path}: no '{NODE_NAME}: ros__parameters:' section")


def launch_setup(context, *args, **kwargs):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    params_file = value["params_file"] or installed_params_file()
    parameters = load_parameters(params_file)
    if value["backend"]:
        parameters["inference.backend"] = value["backend"]
    if value["compressed"]:
        parameters["input_transport"] = "compressed" if _is_true(value["compressed"]) else "raw"
    if value["debug_image"]:
        parameters["debug_image"] = _is_true(value["debug_image"])
    if value["hri"]:
        parameters["hri.enabled"] = _is_true(value["hri"])
    parameters["use_sim_time"] = _is_true(value["use_sim_time"]) or bool(value["bag"])
    camera_topic = value["camera_topic"]
    # strings stay strings (launch would YAML-read "on" as true); empty ones equal the node's defaults
    parameters = {name: ParameterValue(entry, value_type=str) if isinstance(entry, str) else entry
                  for name, entry in parameters.items() if entry != ""}

    node = LifecycleNode(
        package=PACKAGE,
        executable=NODE_NAME,
        name=NODE_NAME,
        namespace=value["namespace"],  # required by Humble's LifecycleNode
        output="screen",
        parameters=[parameters],
        # camera_info: the camera's sibling topic (image_transport convention), for the head pose's intrinsics
        remappings=[("image", camera_topic), ("image/compressed", f"{camera_topic}/compressed"),
                    ("camera_info", camera_topic.rsplit("/", 1)[0] + "/camera_info")],
        arguments=["--ros-args", "--log-level", value["log_level"]],
    )
    actions = [node]
    if _is_true(value["autostart"]):
        actions += [
            # only after configuring: a deliberate 'deactivate' must not bounce back to active
            RegisterEventHandler(OnStateTransition(
                target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
                entities=[
                    LogInfo(msg="fea_ros pipeline_node configured, activating"),
                    EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                                transition_id=Transition.TRANSITION_ACTIVATE)),
                ])),
            EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                        transition_id=Transition.TRANSITION_CONFIGURE)),
        ]
    if value["bag"]:
        # the bag path goes before --clock: '--clock' takes an optional rate and would swallow it
        play = ExecuteProcess(cmd=["ros2", "bag", "play", value["bag"], "--clock"], output="screen")
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state="activating", goal_state="active",
            entities=[LogInfo(msg=f"playing {value['bag']}"), play])))
    return actions


def installed_params_file() -> str:
    return os.path.join(get_package_share_directory(PACKAGE), "config", "pipeline.yaml")


def generate_launch_description():
    defaults = {"params_file": installed_params_file()}  # shown by 'ros2 launch ... --show-args'
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=defaults.get(name, default), description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=launch_setup)]
    )
