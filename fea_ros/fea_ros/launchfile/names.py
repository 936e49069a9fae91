"""Launch argument words and ROS names, resolved the way launch_ros resolves them."""
from __future__ import annotations

from fea_ros.launchfile.errors import LaunchConfigError

NODE_NAME = "pipeline_node"
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def is_true(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


def optional_flag(name: str, text: str) -> bool | None:
    """A true/false launch argument where empty means "not set" (the params file or the bag decides)."""
    word = text.strip().lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise LaunchConfigError(f"{name}:={text} is not true or false; give {name}:=true, {name}:=false or leave it out")


def node_namespace(pushed: str | None, namespace: str) -> str:
    """The node's absolute namespace: ``namespace`` under a PushRosNamespace of an including launch file, unless
    ``namespace`` is absolute (launch_ros's rule)."""
    if namespace.startswith("/"):
        parts = [namespace]
    else:
        parts = [pushed or "", namespace]
    joined = "/".join(part.strip("/") for part in parts if part.strip("/"))
    return "/" + joined


def node_fqn(namespace: str, name: str = NODE_NAME) -> str:
    """Fully qualified node name, e.g. /cam_left/pipeline_node (or /pipeline_node in the root namespace)."""
    return f"{namespace.rstrip('/')}/{name}"
