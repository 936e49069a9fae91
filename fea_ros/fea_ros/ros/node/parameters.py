"""pipeline_node's parameters on the rclpy node: declared with descriptors, checked when set, read at configure.

A bad value in a params file (wrong type, out of range, not a choice) must not stop the node from starting: the
parameter is declared with its default and the problem is kept until the value is set right, so that configure
fails with the reason (params.py holds the specs and the checks).
"""
from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from fea_ros.ros import params


def descriptor(spec: params.ParameterSpec) -> ParameterDescriptor:
    """The ROS descriptor of a parameter: its description, choices and (for numbers) range."""
    described = ParameterDescriptor(description=spec.description, additional_constraints=spec.constraints)
    if spec.minimum is not None and spec.maximum is not None and isinstance(spec.default, float):
        described.floating_point_range = [FloatingPointRange(
            from_value=float(spec.minimum), to_value=float(spec.maximum), step=0.0)]
    elif spec.minimum is not None and spec.maximum is not None and isinstance(spec.default, int) \
            and not isinstance(spec.default, bool):
        described.integer_range = [IntegerRange(
            from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    return described


class NodeParameters:
    """Declares every pipeline_node parameter on ``node`` and keeps the problems of the values it was given."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.specs = {spec.name: spec for spec in params.parameter_specs()}
        self._problems: dict[str, str] = {}
        node.add_on_set_parameters_callback(self._check)
        for spec in self.specs.values():
            try:
                node.declare_parameter(spec.name, spec.default, descriptor(spec))
            except Exception as error:  # wrong type, out of range or not a choice in the params file
                node.declare_parameter(spec.name, spec.default, descriptor(spec), ignore_override=True)
                self._problems[spec.name] = f"'{spec.name}': {error}"  # until set right
        # rclpy keeps the overrides of the command line and params files here (Humble and Jazzy alike)
        overrides = getattr(node, "_parameter_overrides", {})
        for unknown in params.unknown_parameters(overrides, params.known_parameter_names(self.specs.values())):
            node.get_logger().warning(unknown.message("parameter override"))

    def values(self) -> dict[str, Any]:
        """Name -> current value of every declared parameter; a ParameterError while one is still bad."""
        if self._problems:
            raise params.ParameterError("bad parameter(s): " + "; ".join(self._problems.values())
                                        + "; fix them with 'ros2 param set' or in the params file, then configure")
        return {name: self._node.get_parameter(name).value for name in self.specs}

    def _check(self, parameters: list[Parameter]) -> SetParametersResult:
        """Refuse values outside a parameter's choices or range when they are set (ranges alone ROS checks)."""
        problems = []
        for parameter in parameters:
            spec = self.specs.get(parameter.name)
            text = params.problem(spec, parameter.value) if spec is not None else None
            if text:
                problems.append(text)
        if not problems:
            # a bad value from the params file is fixed only once the set is accepted: rclpy refuses an atomic set
            # (set_parameters_atomically) as a whole, so one refused value leaves the others unset as well
            for parameter in parameters:
                self._problems.pop(parameter.name, None)
        return SetParametersResult(successful=not problems, reason="; ".join(problems))
