"""Camera intrinsics for the head pose: from a sensor_msgs/CameraInfo K matrix or from a field of view.

Coordinates follow the rest of the core: pixel-edge image coordinates (pixel (0, 0) spans 0..1), so a
CameraInfo principal point (OpenCV/ROS convention: pixel centres at integers) is shifted by half a pixel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from fea_ros.core.errors import ConfigError, InputError

#: MediaPipe's face-geometry camera (face_landmarker_graph.cc): 63 degrees vertical, principal point centred
DEFAULT_VERTICAL_FOV_DEG = 63.0
FROM_CAMERA_INFO = "camera_info"
FROM_FOV = "fov"


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels; ``source`` says where they came from (camera_info | fov)."""

    fx: float
    fy: float
    cx: float  # pixel-edge coordinates
    cy: float
    width: int
    height: int
    source: str

    @classmethod
    def from_fov(cls, width: int, height: int, vertical_fov_deg: float = DEFAULT_VERTICAL_FOV_DEG) \
            -> "CameraIntrinsics":
        """Square pixels, principal point in the centre, the given vertical field of view."""
        if not 1.0 <= vertical_fov_deg <= 179.0:
            raise ConfigError(f"camera.fov_deg is {vertical_fov_deg}; give the camera's vertical field of view "
                              "in degrees, between 1 and 179 (MediaPipe assumes 63)")
        focal = 0.5 * height / math.tan(math.radians(vertical_fov_deg) / 2.0)
        return cls(focal, focal, width / 2.0, height / 2.0, int(width), int(height), FROM_FOV)

    @classmethod
    def from_k(cls, k: list[float] | tuple[float, ...], width: int, height: int) -> "CameraIntrinsics":
        """From CameraInfo's row-major 3x3 K (fx 0 cx; 0 fy cy; 0 0 1) and the image size."""
        values = [float(v) for v in k]
        if len(values) != 9 or values[0] <= 0 or values[4] <= 0:
            raise InputError(f"CameraInfo K must be 9 numbers with fx, fy > 0 (an uncalibrated camera sends "
                             f"zeros); got {values}. Calibrate the camera or leave camera_info unpublished to "
                             "use camera.fov_deg")
        return cls(values[0], values[4], values[2] + 0.5, values[5] + 0.5, int(width), int(height),
                   FROM_CAMERA_INFO)

    def scaled_to(self, width: int, height: int) -> "CameraIntrinsics":
        """The same camera for an image resized to width x height (CameraInfo of a full-size stream)."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, int(width), int(height),
                                self.source)
