"""The annotated debug image: face boxes, ids, labels and landmarks drawn on a copy of the frame."""
from __future__ import annotations

import cv2
import numpy as np

from fea_ros.core.types import FrameResult

BOX_BGR = (80, 220, 80)
TEXT_BGR = (255, 255, 255)
POINT_BGR = (0, 200, 255)


def draw_result(image: np.ndarray, result: FrameResult, max_points: int = 68) -> np.ndarray:
    """A copy of ``image`` (BGR) with every face of ``result`` drawn on it."""
    canvas = image.copy()
    for face in result.faces:
        x0, y0, x1, y1 = (int(round(float(v))) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX_BGR, 2)
        label = f"{face.face_id} {face.expression} {face.expression_confidence:.2f}"
        cv2.putText(canvas, label, (x0, max(y0 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, TEXT_BGR, 1, cv2.LINE_AA)
        if face.landmarks is not None:
            points = np.asarray(face.landmarks.ibug68)[:max_points, :2]
            for x, y in np.round(points).astype(int):
                cv2.circle(canvas, (int(x), int(y)), 1, POINT_BGR, -1)
    for event in result.events:
        cv2.putText(canvas, f"{event.type} {event.face_id}", (8, canvas.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, POINT_BGR, 2, cv2.LINE_AA)
    return canvas
