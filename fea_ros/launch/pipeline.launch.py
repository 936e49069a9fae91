"""Start fea_ros's pipeline_node on a camera topic or a bag, configure and activate it.

    ros2 launch fea_ros pipeline.launch.py camera_topic:=/camera/color/image_raw
    ros2 launch fea_ros pipeline.launch.py camera_topic:=/cam_left/image_raw namespace:=cam_left
    ros2 launch fea_ros pipeline.launch.py bag:=/path/to/bag     # camera topic and transport read from the bag

What this file decides (which params-file sections apply, misspelt keys, the bag's camera topic, remappings) is
in fea_ros.launchfile as plain functions, tested without ROS; this file only turns it into launch actions.

Lifecycle: launch_ros's LifecycleNode has no autostart on Humble and early Jazzy (it arrived with launch_ros
0.26.7, ros2/launch_ros#430), so this file emits the ChangeState events itself: configure at start, activate
when that *first* configure ends. Both handlers are ``handle_once``: launch's EventHandler has had the keyword
since ros2/launch#141 (2018), so Humble's launch 1.0 and Jazzy's 3.x take it alike, and launch_ros's
OnStateTransition passes it on through ``**kwargs`` on both. Without it a user's own ``ros2 lifecycle set
<node> cleanup`` / ``configure`` / ``activate`` met a second activate from launch and failed with "Unknown
transition requested"; the bag, likewise, plays once. Arguments left empty keep the params file's value.
"""
import os

import launch.logging
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

from fea_ros.launchfile.camera import camera_input
from fea_ros.launchfile.names import NODE_NAME, is_true, node_fqn, node_namespace, optional_flag
from fea_ros.launchfile.params_file import load_node_parameters, unknown_parameters, with_declared_types

PACKAGE = "fea_ros"

ARGUMENTS = (
    ("camera_topic", "", "image topic; empty = the bag's image topic with bag:=, else /camera/image_raw"),
    ("compressed", "", "true: CompressedImage on <camera_topic>/compressed; false: raw Image; "
                       "empty = the bag's own type with bag:=, else the params file's input_transport"),
    ("namespace", "", "ROS namespace of the node and its topics (one per camera)"),
    ("params_file", "", "parameters YAML (default: the installed config/pipeline.yaml)"),
    ("backend", "", "onnxruntime | tensorrt | auto; empty = params file"),
    ("debug_image", "", "true: publish the annotated debug_image; empty = params file"),
    ("hri", "", "true: also publish the ROS4HRI (REP-155) topics; empty = params file"),
    ("use_sim_time", "false", "use /clock (set automatically when bag is given)"),
    ("log_level", "info", "debug | info | warn | error"),
    ("bag", "", "rosbag2 to play with 'ros2 bag play --clock' once the node is active; its image topic and "
                "transport are used unless camera_topic/compressed are given"),
    ("autostart", "true", "configure and activate the node automatically (once, at launch)"),
)


def launch_setup(context, *args, **kwargs):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    logger = launch.logging.get_logger("fea_ros.launch")
    fqn = node_fqn(node_namespace(context.launch_configurations.get("ros_namespace"), value["namespace"]))

    params_file = value["params_file"] or installed_params_file()
    loaded = load_node_parameters(params_file, fqn)
    for unknown in unknown_parameters(loaded.values):
        logger.warning(unknown.message(f"params_file {params_file}"))
    parameters, converted = with_declared_types(loaded.values)
    if converted:
        logger.info(f"{fqn}: integer values given for double parameters, passed as floats: {', '.join(converted)}")

    camera = camera_input(value["camera_topic"], optional_flag("compressed", value["compressed"]), value["bag"])
    if camera.compressed is not None:
        parameters["input_transport"] = "compressed" if camera.compressed else "raw"
    if value["backend"]:
        parameters["inference.backend"] = value["backend"]
    if value["debug_image"]:
        parameters["debug_image"] = is_true(value["debug_image"])
    if value["hri"]:
        parameters["hri.enabled"] = is_true(value["hri"])
    parameters["use_sim_time"] = is_true(value["use_sim_time"]) or bool(value["bag"])
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
        remappings=list(camera.remappings),
        arguments=["--ros-args", "--log-level", value["log_level"]],
    )
    actions = [LogInfo(msg=f"{fqn}: parameters from {params_file} (sections {', '.join(loaded.sections)})")]
    actions += [LogInfo(msg=f"{fqn}: {note}") for note in camera.notes]
    actions.append(node)
    if is_true(value["autostart"]):
        actions += [
            # handle_once: only the launch's own first configure leads to an activate (see the docstring)
            RegisterEventHandler(OnStateTransition(
                target_lifecycle_node=node, start_state="configuring", handle_once=True,
                entities=[OpaqueFunction(function=_after_first_configure, args=[node, fqn])])),
            EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                        transition_id=Transition.TRANSITION_CONFIGURE)),
        ]
    if value["bag"]:
        # the bag path goes before --clock: '--clock' takes an optional rate and would swallow it
        play = ExecuteProcess(cmd=["ros2", "bag", "play", value["bag"], "--clock"], output="screen")
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state="activating", goal_state="active", handle_once=True,
            entities=[LogInfo(msg=f"playing {value['bag']}"), play])))
    return actions


def _after_first_configure(context, node, fqn):
    """Activate after a configure that reached 'inactive'; after a failed one say what to do instead."""
    goal = context.locals.event.goal_state  # the StateTransition being handled (launch's documented local)
    if goal == "inactive":
        return [LogInfo(msg=f"{fqn} configured, activating"),
                EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                            transition_id=Transition.TRANSITION_ACTIVATE))]
    launch.logging.get_logger("fea_ros.launch").error(
        f"{fqn}: configure failed (now '{goal}'); the reason is in the node's log above. Fix it, then "
        f"`ros2 lifecycle set {fqn} configure` and `ros2 lifecycle set {fqn} activate`")
    return []


def installed_params_file() -> str:
    return os.path.join(get_package_share_directory(PACKAGE), "config", "pipeline.yaml")


def generate_launch_description():
    defaults = {"params_file": installed_params_file()}  # shown by 'ros2 launch ... --show-args'
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=defaults.get(name, default), description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=launch_setup)]
    )
