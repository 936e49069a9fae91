"""Pipeline settings: one dataclass tree, filled from defaults, a YAML file or ROS parameters.

The names mirror the ROS parameters in config/pipeline.yaml (``mie.enabled`` -> ``config.mie.enabled``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from fea_ros.core.errors import ConfigError


@dataclass
class DetectionConfig:
    detector: str = "full"  # "full" (BlazeFace full-range 192) | "short" (short-range 128)
    #: run this detector too where ``detector`` finds no face (or none scoring 0.65): "short" finds the close-ups
    #: (a face over ~60 % of the image height) that full-range misses; "none" = never; the same as detector = never
    fallback_detector: str = "short"
    threshold: float = 0.5  # minimum face score 0..1
    nms_iou: float = 0.3  # IoU above which detections are merged (weighted NMS)
    min_face_px: float = 20.0  # smaller boxes (max side, px) are dropped
    max_faces: int = 5
    #: with tracking.landmark_tracking, run the detector at least every this many frames (to find new
    #: faces) while every known face is followed through its landmarks; 1 = detect in every frame
    redetect_interval: int = 10


@dataclass
class TrackingConfig:
    confirm_frames: int = 2  # frames a face must be seen before it is reported
    drop_frames: int = 15  # consecutive missed frames after which a track is dropped (0.5 s at 30 fps)
    min_iou: float = 0.2  # below this a detection cannot continue a track
    #: follow a confirmed face with the crop predicted from its previous landmarks (MediaPipe's trick) and
    #: skip the detector while every face is followed; off = run the detector on every frame
    landmark_tracking: bool = True
    min_presence: float = 0.5  # mesh face-presence below which a face followed by its landmarks is lost


@dataclass
class LandmarksConfig:
    model: str = "v2"  # "v2" (FaceMesh v2, 478 pts, enables blendshapes) | "v1" (468 pts, fast)
    crop_scale: float = 1.5  # mesh crop = detector box x this, squared


@dataclass
class ExpressionConfig:
    #: ensemble weights per network; 0 disables a network (fusion "mean" averages with these weights)
    weights: dict[str, float] = field(default_factory=lambda: {"faceapi": 0.6, "fer": 0.4})
    fusion: str = "fitted"  # "fitted" (calibrated combiners, models/expression_fusion_*.json) | "mean"
    aligned_crops: bool = True  # crop each net's face from the mesh, eye line levelled (docs/expression.md)
    flip_average: str = ""  # comma-separated nets that also see the mirrored crop (mean of the two); "" = none


@dataclass
class TemporalConfig:
    time_constant_s: float = 0.3  # exponential smoothing time constant of the probabilities
    hysteresis: float = 0.1  # a new label must beat the current one by this margin to take over
    max_gap_s: float = 1.0  # a longer gap between stamps restarts the smoothing


@dataclass
class MieConfig:
    enabled: bool = True
    window_s: float = 0.2  # look-ahead after an offset before the event is emitted (= the delay bound)
    flow_offset_s: float = 0.3  # k in "flow between t and t-k", in seconds (the reference frame's lag)
    threshold_sigma: float = 4.5  # adaptive threshold in units of the face's own noise level
    low_sigma: float = 1.5  # onset/offset: where the signal falls back below this many noise units ...
    edge_fraction: float = 0.1  # ... or below this fraction of the event's peak, whichever is higher
    micro_max_s: float = 0.5  # events up to this long (and below macro_intensity) are MICRO
    macro_intensity: float = 0.5  # intensity at or above which an event is MACRO
    max_event_s: float = 4.0  # a movement still going after this long is closed and emitted
    noise_time_constant_s: float = 3.0  # memory of the per-face noise estimate
    warmup_s: float = 1.0  # nothing is reported until a track has been seen this long (its noise level learnt)
    blink_ear_ratio: float = 0.75  # eye aspect ratio below this fraction of its baseline = blink
    speech_share: float = 0.15  # lips moving in this share of the second before a movement: talking, lips alone start nothing
    au_delta: float = 0.1  # an action unit "moved" when its intensity rose this much during the event
    crop_px: int = 128  # side of the aligned face crop
    occlusion_overlap: float = 0.1  # a face whose box another face covers this much is not measured (restarts)
    max_outside_fraction: float = 0.05  # a face with more of its mesh points outside the image is not measured
    max_alignment_residual: float = 0.06  # ... nor one whose stable points miss the template by more (IODs)


@dataclass
class CameraConfig:
    #: vertical field of view (degrees) assumed when no sensor_msgs/CameraInfo arrives (MediaPipe assumes 63)
    fov_deg: float = 63.0


@dataclass
class AttentionConfig:
    """Head pose, gaze, looking-at-camera and engagement (docs/attention.md)."""

    enabled: bool = True
    looking_angle_deg: float = 15.0  # gaze within this of the face-to-camera ray starts "looking" ...
    release_angle_deg: float = 20.0  # ... and it goes on until the angle exceeds this
    look_on_s: float = 0.2  # a look must hold this long to count ...
    look_off_s: float = 0.4  # ... and a look-away this long to end it
    max_distance_m: float = 3.0  # faces farther than this are never "looking" (beyond social distance)
    engage_s: float = 1.0  # ENGAGING -> ENGAGED after looking this long
    disengage_s: float = 2.0  # DISENGAGING -> DISENGAGED after not looking this long
    eye_closed_ratio: float = 0.12  # an eye whose lid gap is below this fraction of its width is closed


@dataclass
class InferenceConfig:
    backend: str = "onnxruntime"  # "onnxruntime" | "tensorrt" | "auto"
    #: "auto" | "fp32" | "fp16" | "int8": auto = fp16 on TensorRT, on ONNX Runtime int8 for the networks whose
    #: int8 file passed its accuracy bounds and runs faster (inference/precision.py), fp32 for the others
    precision: str = "auto"
    threads: int = 1  # ONNX Runtime intra-op threads
    #: 2 = the expression networks of a frame run on a second thread while blendshapes and the MiE spotter run
    #: (uses the second core); 1 = every stage in turn on the calling thread
    stage_threads: int = 1
    #: where frames stream (fea-ros run, bench, replay, the node): detection, tracking and the mesh of frame
    #: n + 1 run on a second thread while the later stages of frame n run (core/frame_pipeline.py); the same
    #: results, one frame later. On by default: 1.3-1.8x the fps where a second core is free, a wash (same
    #: CPU time) on a busy machine (BENCHMARKS.md, "Frame pipeline")
    frame_pipeline: bool = True
    engine_cache_dir: str = ""  # TensorRT engine cache; "" = ~/.cache/fea_ros/engines
    dla_core: int = -1  # TensorRT only: DLA core to run on (Jetson AGX/NX Orin: 0 or 1); -1 = GPU
    int8_calibration_dir: str = ""  # TensorRT int8 only: folder of face images to calibrate with
    workspace_mb: int = 1024  # TensorRT only: builder workspace memory limit
    max_batch: int = 8  # TensorRT only: most faces per call for the batched (N) expression/landmark nets
    models_dir: str = ""  # "" = the installed models/


@dataclass
class PipelineConfig:
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    landmarks: LandmarksConfig = field(default_factory=LandmarksConfig)
    expression: ExpressionConfig = field(default_factory=ExpressionConfig)
    blendshapes: bool = True  # needs landmarks.model == "v2"
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    mie: MieConfig = field(default_factory=MieConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    @classmethod
    def fast(cls) -> "PipelineConfig":
        """Short-range detector and FaceMesh v1: the low-power configuration."""
        config = cls()
        config.detection.detector = "short"
        config.landmarks.model = "v1"
        config.blendshapes = False
        return config


def apply_overrides(config: Any, values: dict[str, Any], prefix: str = "") -> Any:
    """Set fields of a config tree from a nested dict (YAML) or dotted keys (``"mie.enabled"``).

    Unknown keys raise ConfigError naming the key, so a typo in a params file is not silently ignored.
    """
    for key, value in values.items():
        head, _, rest = key.partition(".")
        names = {f.name for f in fields(config)}
        if head not in names:
            raise ConfigError(f"unknown setting '{prefix}{head}'; known: {', '.join(sorted(names))}")
        current = getattr(config, head)
        if rest:
            apply_overrides(current, {rest: value}, f"{prefix}{head}.")
        elif is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"setting '{prefix}{head}' is a group; give a mapping, not {value!r}")
            apply_overrides(current, value, f"{prefix}{head}.")
        else:
            setattr(config, head, _coerce(current, value, f"{prefix}{head}"))
    return config


def _coerce(current: Any, value: Any, name: str) -> Any:
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"setting '{name}' must be true or false, got {value!r}")
    if isinstance(current, (int, float)) and not isinstance(value, bool) and isinstance(value, (int, float)):
        return type(current)(value) if isinstance(current, float) or float(value).is_integer() else value
    if isinstance(current, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"setting '{name}' must be a mapping, got {value!r}")
        return {str(k): float(v) for k, v in value.items()}
    if isinstance(current, str) and isinstance(value, str):
        return value
    raise ConfigError(f"setting '{name}' expects {type(current).__name__}, got {value!r}")
