"""The real pipeline_node (real rclpy, Fast DDS on loopback): lifecycle transitions and failing configures.

Transitions go through the node's lifecycle services, as ``ros2 lifecycle set`` sends them.
"""
import json
import shutil
from pathlib import Path

import pytest

from ros_harness import LOG_LEVELS, InProcessNode, wait_until

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture
def node_factory(peer):
    made = []

    def make(namespace, **parameters):
        made.append(InProcessNode(peer, namespace, parameters))
        return made[-1]

    yield make
    for node in made:
        node.close()


def transitions():
    from lifecycle_msgs.msg import Transition

    return Transition


def test_configure_activate_deactivate_cleanup_and_configure_again(node_factory):
    t = transitions()
    node = node_factory("lc_cycle")
    assert node.state() == "unconfigured"
    assert node.configure() and node.state() == "inactive"
    assert node.activate() and node.state() == "active"
    assert node.transition(t.TRANSITION_DEACTIVATE) and node.state() == "inactive"
    assert node.transition(t.TRANSITION_CLEANUP) and node.state() == "unconfigured"
    assert node.configure() and node.activate() and node.state() == "active"
    assert node.transition(t.TRANSITION_ACTIVE_SHUTDOWN) and node.state() == "finalized"
    node.wait_log(lambda text: "finalized" in text)


@pytest.mark.parametrize("transition_name, steps", [
    ("TRANSITION_UNCONFIGURED_SHUTDOWN", []),
    ("TRANSITION_INACTIVE_SHUTDOWN", ["TRANSITION_CONFIGURE"]),
    ("TRANSITION_ACTIVE_SHUTDOWN", ["TRANSITION_CONFIGURE", "TRANSITION_ACTIVATE"]),
])
def test_shutdown_from_every_primary_state_frees_the_node(node_factory, transition_name, steps):
    t = transitions()
    node = node_factory(f"lc_{transition_name.lower()}")
    for step in steps:
        assert node.transition(getattr(t, step))
    assert node.transition(getattr(t, transition_name)) and node.state() == "finalized"
    assert node.node._runner is None and node.node._pipeline is None


def test_missing_models_folder_fails_configure_with_the_path_and_a_fixed_one_succeeds(node_factory, tmp_path):
    from rclpy.parameter import Parameter

    missing = tmp_path / "no_such_models"
    node = node_factory("lc_models", **{"inference.models_dir": str(missing)})
    assert not node.configure()
    assert node.state() == "unconfigured"
    errors = node.wait_log(lambda t: "configure failed" in t, LOG_LEVELS["ERROR"])
    assert str(missing) in errors[-1] and "does not exist" in errors[-1]
    node.node.set_parameters([Parameter("inference.models_dir", value="")])
    assert node.configure() and node.state() == "inactive"


def test_an_empty_models_folder_is_not_silently_replaced_and_the_folder_used_is_reported(node_factory, tmp_path, peer):
    empty = tmp_path / "empty"
    empty.mkdir()
    node = node_factory("lc_empty_models", **{"inference.models_dir": str(empty)})
    assert not node.configure()
    node.wait_log(lambda t: str(empty) in t and "manifest.json" in t, LOG_LEVELS["ERROR"])
    copy = tmp_path / "models_copy"
    shutil.copytree(MODELS, copy)
    from rclpy.parameter import Parameter

    node.node.set_parameters([Parameter("inference.models_dir", value=str(copy))])
    assert node.configure()
    node.wait_log(lambda t: f"loading models from {copy}" in t)
    status = wait_until(lambda: node.status(), 10, "a /diagnostics status")
    assert {kv.key: kv.value for kv in status.values}["models folder"] == str(copy)


def test_a_corrupted_model_file_fails_configure_and_a_restored_one_succeeds(node_factory, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(MODELS, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    victim = copy / next(m["file"] for m in manifest["models"] if m["name"] == "fer_minixception_64")
    original = victim.read_bytes()
    victim.write_bytes(original[: len(original) // 2])
    node = node_factory("lc_corrupt", **{"inference.models_dir": str(copy)})
    assert not node.configure() and node.state() == "unconfigured"
    node.wait_log(lambda t: "fer_minixception_64" in t, LOG_LEVELS["ERROR"])
    victim.write_bytes(original)
    assert node.configure() and node.state() == "inactive"


def test_a_bad_parameter_from_the_params_file_fails_configure_until_it_is_set_right(node_factory):
    from rclpy.parameter import Parameter

    node = node_factory("lc_badparam", **{"inference.backend": "foo"})
    assert not node.configure() and node.state() == "unconfigured"
    node.wait_log(lambda t: "inference.backend" in t and "use one of" in t, LOG_LEVELS["ERROR"])
    result = node.node.set_parameters([Parameter("inference.backend", value="onnxruntime")])[0]
    assert result.successful
    assert node.configure() and node.state() == "inactive"


def test_a_refused_atomic_set_does_not_clear_a_bad_parameter_from_the_params_file(node_factory):
    from rclpy.parameter import Parameter

    node = node_factory("lc_badatomic", **{"inference.backend": "foo"})
    # the fix for the backend comes with a refused value: rclpy sets neither, so the backend is still not set right
    result = node.node.set_parameters_atomically([Parameter("inference.backend", value="auto"),
                                                  Parameter("detection.detector", value="huge")])
    assert not result.successful and "use one of: full, short" in result.reason
    assert node.node.get_parameter("inference.backend").value == "onnxruntime"  # the default, declared for 'foo'
    assert not node.configure() and node.state() == "unconfigured"
    node.wait_log(lambda t: "configure failed" in t and "inference.backend" in t, LOG_LEVELS["ERROR"])
    assert node.node.set_parameters_atomically([Parameter("inference.backend", value="onnxruntime")]).successful
    assert node.configure() and node.state() == "inactive"


@pytest.mark.parametrize("name, value, expected", [
    ("inference.backend", "foo", "use one of"),
    ("detection.redetect_interval", 0, "out of range"),  # ROS checks descriptor ranges itself
    ("tracking.min_presence", -3.0, "out of range"),
    ("detection.detector", "huge", "use one of: full, short"),
])
def test_set_parameters_refuses_values_outside_choices_and_ranges(node_factory, name, value, expected):
    from rclpy.parameter import Parameter

    node = node_factory(f"lc_set_{name.replace('.', '_')}")
    result = node.node.set_parameters([Parameter(name, value=value)])[0]
    assert not result.successful and expected in result.reason
    assert node.node.get_parameter(name).value != value


def test_a_misspelt_parameter_is_named_with_the_closest_valid_one(node_factory):
    node = node_factory("lc_misspelt", **{"mie.enabeld": False})
    warnings = node.wait_log(lambda t: "mie.enabeld" in t, LOG_LEVELS["WARN"])
    assert "did you mean 'mie.enabled'?" in warnings[0]


def test_numpy_2_in_a_distribution_ros_python_fails_configure_with_what_to_do(node_factory, monkeypatch):
    from fea_ros.ros import system_check

    # what system_check.current_numpy_problem finds under /opt/ros/jazzy with a pip-installed numpy 2
    found = system_check.numpy_problem("2.2.1", "/usr/local/lib/python3.12/dist-packages/numpy",
                                       "/opt/ros/jazzy/lib/python3.12/site-packages/rclpy", "jazzy")
    monkeypatch.setattr(system_check, "current_numpy_problem", lambda: found)
    node = node_factory("lc_numpy")
    assert not node.configure() and node.state() == "unconfigured"
    node.wait_log(lambda t: "numpy 2.2.1" in t and "pip uninstall numpy" in t, LOG_LEVELS["ERROR"])
    monkeypatch.undo()
    assert node.configure()
