"""Drawing a face's attention into an annotated frame: head axes, gaze ray and the engagement state.

The point between the eyes is projected back with the intrinsics the pose was solved with. From there the
head axes and the gaze are drawn orthographically: each direction's (x, y) components times a length in
pixels (``ray_px``: the face box width), so a direction straight into the camera is a dot and one sideways is a
full-length line (a perspective projection of a ray towards the camera would shoot off to the image border).
Axes follow REP-155's face frame in the usual RGB = xyz colours: red x (out of the face), green y (the
person's left), blue z (up). The gaze is a yellow arrow, thick while the person is looking at the camera.
"""
from __future__ import annotations

import cv2
import numpy as np

from fea_ros.core.attention import FaceAttention
from fea_ros.core.camera import CameraIntrinsics

AXIS_SHARE = 0.5  # axis length as a share of ray_px
AXIS_COLOURS_BGR = ((0, 0, 255), (0, 200, 0), (255, 80, 0))
GAZE_COLOUR_BGR = (0, 230, 255)
#: a 3D point closer to the camera plane than this is not drawn
MIN_DEPTH_M = 0.02


def project(camera: CameraIntrinsics, point_m: np.ndarray) -> tuple[int, int] | None:
    """Pixel (pixel-edge coordinates rounded to the drawing grid) of an optical-frame point, None if behind."""
    x, y, z = (float(v) for v in point_m)
    if z < MIN_DEPTH_M:
        return None
    u = camera.fx * x / z + camera.cx - 0.5
    v = camera.fy * y / z + camera.cy - 0.5
    if not (abs(u) < 1e5 and abs(v) < 1e5):
        return None
    return int(round(u)), int(round(v))


def draw_attention(image: np.ndarray, attention: FaceAttention, label_origin: tuple[int, int],
                   scale: float = 1.0, ray_px: float = 100.0) -> None:
    """Head axes at the point between the eyes, the gaze ray, and 'looking'/engagement text at label_origin."""
    camera = attention.camera.scaled_to(image.shape[1], image.shape[0])
    origin = attention.gaze.origin_m
    start = project(camera, origin)
    thickness = max(1, int(round(2 * scale)))
    if start is not None:
        def towards(direction: np.ndarray, length: float) -> tuple[int, int]:
            return (int(round(start[0] + length * float(direction[0]))),
                    int(round(start[1] + length * float(direction[1]))))

        for axis, colour in zip(attention.head.rotation.T, AXIS_COLOURS_BGR):
            cv2.line(image, start, towards(axis, AXIS_SHARE * ray_px), colour, thickness, cv2.LINE_AA)
        end = towards(attention.gaze.direction, ray_px)
        cv2.arrowedLine(image, start, end, GAZE_COLOUR_BGR, thickness * (2 if attention.looking else 1),
                        cv2.LINE_AA, tipLength=0.2)
    text = f"{'looking' if attention.looking else 'away'} {attention.gaze_angle_deg:.0f}deg {attention.engagement}"
    cv2.putText(image, text, label_origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, label_origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, GAZE_COLOUR_BGR, 1, cv2.LINE_AA)
