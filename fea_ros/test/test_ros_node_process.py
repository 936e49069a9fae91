"""pipeline_node as its own process, started from its console-script entry point (what `ros2 run` starts).

Ctrl-C in a terminal sends SIGINT to the whole process group, and `ros2 launch` then sends the node SIGINT
again (and SIGTERM after a timeout): the node must end cleanly, with exit code 0, from every state.
"""
import signal
import time

import pytest

from ros_harness import LOG_LEVELS, NodeProcess, wait_until


def start(tmp_path, namespace, *extra):
    return NodeProcess(tmp_path / f"{namespace}.log", ["-r", f"__ns:=/{namespace}", "-p", "mie.enabled:=false", *extra])


def reach(peer, name, steps):
    from lifecycle_msgs.msg import Transition

    for step in steps:
        assert peer.change_state(name, getattr(Transition, step)), f"{name}: {step} failed"


@pytest.mark.parametrize("state, steps", [
    ("unconfigured", []),
    ("inactive", ["TRANSITION_CONFIGURE"]),
    ("active", ["TRANSITION_CONFIGURE", "TRANSITION_ACTIVATE"]),
])
@pytest.mark.parametrize("how", ["ctrl_c_then_launch_sigint", "sigterm"])
def test_the_node_exits_0_on_signals_from_every_state(peer, tmp_path, state, steps, how):
    namespace = f"proc_{state}_{how}"
    with start(tmp_path, namespace) as node:
        name = f"/{namespace}/pipeline_node"
        assert peer.state(name) == "unconfigured"
        reach(peer, name, steps)
        assert peer.state(name) == state
        if how == "sigterm":
            node.signal_group(signal.SIGTERM)
        else:
            node.signal_group(signal.SIGINT)  # the terminal's Ctrl-C reaches launch and node at once
            time.sleep(0.05)
            node.signal_group(signal.SIGINT)  # launch passes SIGINT on to its processes
        code = node.wait(30)
        output = node.output()
        assert code == 0, f"exit code {code}:\n{output[-3000:]}"
        assert "Traceback" not in output, output[-3000:]
        assert "shutting down" in output


def test_lifecycle_shutdown_transition_then_sigint(peer, tmp_path):
    from lifecycle_msgs.msg import Transition

    with start(tmp_path, "proc_finalized") as node:
        name = "/proc_finalized/pipeline_node"
        reach(peer, name, ["TRANSITION_CONFIGURE", "TRANSITION_ACTIVATE"])
        assert peer.change_state(name, Transition.TRANSITION_ACTIVE_SHUTDOWN)
        assert peer.state(name) == "finalized"
        node.signal_group(signal.SIGINT)
        assert node.wait(30) == 0, node.output()[-3000:]


def test_log_level_debug_shows_the_package_debug_output(peer, tmp_path):
    with start(tmp_path, "proc_debug", "--log-level", "debug") as node:
        reach(peer, "/proc_debug/pipeline_node", ["TRANSITION_CONFIGURE"])
        wait_until(lambda: "[fea_ros." in node.output() and "DEBUG" in node.output(), 30, "fea_ros debug output")
        debug_lines = [line for line in node.output().splitlines() if line.startswith("[DEBUG]") and "[fea_ros." in line]
        assert debug_lines, node.output()[-2000:]
        node.signal_group(signal.SIGINT)
        assert node.wait(30) == 0
    with start(tmp_path, "proc_info") as node:
        reach(peer, "/proc_info/pipeline_node", ["TRANSITION_CONFIGURE"])
        node.signal_group(signal.SIGINT)
        assert node.wait(30) == 0
        assert not [line for line in node.output().splitlines() if line.startswith("[DEBUG]")]


def test_a_params_file_with_a_misspelt_key_and_a_bad_value(peer, tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_text("/**:\n  ros__parameters:\n    mie:\n      enabeld: false\n    inference:\n      backend: foo\n")
    with start(tmp_path, "proc_params", "--params-file", str(params_file)) as node:
        name = "/proc_params/pipeline_node"
        assert not peer.change_state(name, 1)  # configure: refused for the bad value
        assert peer.state(name) == "unconfigured"
        output = node.output()
        assert "'mie.enabeld' is not a parameter of pipeline_node" in output and "did you mean 'mie.enabled'?" in output
        assert "configure failed" in output and "inference.backend" in output
        node.signal_group(signal.SIGINT)
        assert node.wait(30) == 0
    assert peer.logs("proc_params.pipeline_node", LOG_LEVELS["ERROR"])
