"""pipeline.launch.py: declares the documented arguments, reads the params file in any namespace, loads."""
import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from fea_ros.ros import params

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "pipeline.launch.py"
CONFIG_FILE = Path(__file__).resolve().parents[1] / "config" / "pipeline.yaml"
REQUIRED_ARGUMENTS = {"camera_topic", "compressed", "namespace", "params_file", "backend", "debug_image", "hri",
                      "use_sim_time", "log_level", "bag", "autostart"}


def launch_tree():
    return ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))


def declared_arguments():
    for node in launch_tree().body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "ARGUMENTS" for t in node.targets):
            return {entry[0]: entry[1] for entry in ast.literal_eval(node.value)}
    raise AssertionError("ARGUMENTS not found")


def launch_helpers():
    """The launch file's pure helpers, compiled without importing launch (not installable here)."""
    keep = [n for n in launch_tree().body
            if (isinstance(n, ast.FunctionDef) and n.name in {"_flatten", "load_parameters", "_is_true"})
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") in {"NODE_NAME", "TRUE_WORDS"} for t in n.targets))]
    namespace = {"yaml": yaml}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(LAUNCH_FILE), "exec"), namespace)
    return namespace


def test_launch_file_declares_every_documented_argument():
    arguments = declared_arguments()
    assert set(arguments) == REQUIRED_ARGUMENTS
    assert arguments["autostart"] == "true" and arguments["use_sim_time"] == "false"
    assert arguments["params_file"] == ""  # replaced by the installed config/pipeline.yaml at launch


def test_launch_file_reads_the_params_file_like_the_node_table():
    helpers = launch_helpers()
    assert helpers["load_parameters"](str(CONFIG_FILE)) == params.parameters_from_yaml(
        yaml.safe_load(CONFIG_FILE.read_text()))
    assert helpers["_is_true"]("True") and not helpers["_is_true"]("false") and not helpers["_is_true"]("")


def test_launch_file_rejects_a_params_file_without_the_node_section(tmp_path):
    bad = tmp_path / "other.yaml"
    bad.write_text("camera_node:\n  ros__parameters:\n    fps: 30\n")
    with pytest.raises(RuntimeError, match="pipeline_node"):
        launch_helpers()["load_parameters"](str(bad))


def test_launch_file_loads_and_builds_its_description():
    pytest.importorskip("launch_ros", reason="launch_ros is not installable without ROS")
    spec = importlib.util.spec_from_file_location("pipeline_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    names = {entity.name for entity in description.entities if hasattr(entity, "default_value")}
    assert names == REQUIRED_ARGUMENTS
