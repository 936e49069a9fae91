"""Synthetic face clips with known facial movements, for the spotting benchmark and the tests.

A still photo of a face is animated frame by frame: smooth local displacement fields placed at landmark regions
(brow raise, inner-brow raise, brow lowering, upper-lid raise, lip-corner pull, lip press, nose wrinkle, chin raise,
and blinks), on both sides of the face or on one, each scaled by an onset-apex-offset time profile; then the whole
face is moved by a head similarity motion (translation, rotation, scale drift, occasional quick head shifts), lit
by a slowly changing gain and gradient, given sensor noise and JPEG-compressed (or kept lossless). A second face
(a bystander that only moves rigidly, partly outside the frame) can be composited next to it. The truth
(intervals and types) is known exactly; the landmarks of every frame are the photo's mesh moved by the same
displacement and head motion, plus jitter. Clip planning (which movements, when) is in synthetic_plan.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

#: (anchor landmark indices, direction in face axes (x: towards the subject's left, y: down), sigma x/y in IOD)
ACTIONS: dict[str, list[tuple[tuple[int, ...], tuple[float, float], tuple[float, float]]]] = {
    "brow_raise": [((105, 66, 65, 52), (0.0, -1.0), (0.28, 0.16)), ((334, 296, 295, 282), (0.0, -1.0), (0.28, 0.16))],
    "brow_lower": [((105, 66, 65, 52), (0.35, 0.94), (0.25, 0.14)), ((334, 296, 295, 282), (-0.35, 0.94), (0.25, 0.14))],
    "lip_corner_pull": [((61,), (-0.6, -0.8), (0.16, 0.16)), ((291,), (0.6, -0.8), (0.16, 0.16))],
    "lip_press": [((0, 37, 267), (0.0, 1.0), (0.25, 0.09)), ((17, 84, 314), (0.0, -1.0), (0.25, 0.09))],
    "nose_wrinkle": [((48, 115), (0.2, -0.98), (0.12, 0.14)), ((278, 344), (-0.2, -0.98), (0.12, 0.14))],
    "chin_raise": [((199, 175), (0.0, -1.0), (0.3, 0.2)), ((17,), (0.0, -0.6), (0.25, 0.1))],
    "inner_brow_raise": [((107, 55, 65), (0.1, -1.0), (0.14, 0.14)), ((336, 285, 295), (-0.1, -1.0), (0.14, 0.14))],
    "upper_lid_raise": [((159, 158, 160), (0.0, -1.0), (0.21, 0.09)), ((386, 385, 387), (0.0, -1.0), (0.21, 0.09))],
    "blink": [((159, 158, 160), (0.0, 1.0), (0.21, 0.07)), ((386, 385, 387), (0.0, 1.0), (0.21, 0.07))],
}
EXPRESSION_ACTIONS = tuple(name for name in ACTIONS if name != "blink")
#: actions that move an eyelid between fixed eye corners (no displacement at the corners)
LID_ACTIONS = ("blink", "upper_lid_raise")
#: actions whose two entries are the subject's right and left side (the others are midline)
SIDED_ACTIONS = ("brow_raise", "brow_lower", "inner_brow_raise", "upper_lid_raise", "lip_corner_pull",
                 "nose_wrinkle", "blink")
SIDES = {"": (0, 1), "right": (0,), "left": (1,)}


@dataclass
class Movement:
    action: str
    onset_s: float
    apex_s: float
    offset_s: float
    amplitude_px: float  # peak displacement in frame px (for a blink: how far the upper lid comes down)
    kind: str = ""  # "MICRO" | "MACRO" for expressions, "" for blinks
    hold_s: float = 0.0  # time held at the apex before the fall
    side: str = ""  # "" both sides, "right" / "left" the subject's one side only (SIDED_ACTIONS)
    tags: tuple[str, ...] = ()  # benchmark categories this movement belongs to

    def __post_init__(self) -> None:
        if self.side not in SIDES or (self.side and self.action not in SIDED_ACTIONS):
            raise ValueError(f"movement {self.action!r} cannot act on side {self.side!r}")

    def weight(self, t: float) -> float:
        """Raised-cosine rise from onset to apex, hold, raised-cosine fall to offset; 0 outside."""
        if t <= self.onset_s or t >= self.offset_s:
            return 0.0
        fall_start = min(self.apex_s + self.hold_s, self.offset_s)
        if t <= self.apex_s:
            x = (t - self.onset_s) / max(self.apex_s - self.onset_s, 1e-6)
        elif t <= fall_start:
            x = 1.0
        else:
            x = (self.offset_s - t) / max(self.offset_s - fall_start, 1e-6)
        return 0.5 - 0.5 * math.cos(math.pi * x)


@dataclass
class HeadMotion:
    """Smooth head motion: sums of slow sinusoids, plus quick shifts (jerks) with a raised-cosine step."""

    translation_px: tuple[float, float] = (12.0, 8.0)
    rotation_deg: float = 8.0
    scale: float = 0.06
    periods_s: tuple[float, ...] = (7.0, 11.0, 17.0)
    phases: np.ndarray = field(default_factory=lambda: np.zeros((4, 3)))
    jerks: list[tuple[float, float, float, float]] = field(default_factory=list)  # t0, duration, dx, dy

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(dx px, dy px, rotation deg, scale factor) at time t."""
        waves = np.array([[math.sin(2 * math.pi * t / p + ph) for p, ph in zip(self.periods_s, row)]
                          for row in self.phases]).mean(axis=1) * 1.6
        waves = np.clip(waves, -1.0, 1.0)
        dx = self.translation_px[0] * waves[0]
        dy = self.translation_px[1] * waves[1]
        for t0, duration, jx, jy in self.jerks:
            if t > t0:
                x = min((t - t0) / duration, 1.0)
                step = 0.5 - 0.5 * math.cos(math.pi * x)
                dx += jx * step
                dy += jy * step
        return dx, dy, self.rotation_deg * waves[2], 1.0 + self.scale * waves[3]


@dataclass
class ClipSpec:
    name: str
    fps: float
    duration_s: float
    movements: list[Movement]
    head: HeadMotion
    scale: float  # photo px -> frame px before head motion
    frame_size: tuple[int, int]  # width, height
    noise_sigma: float = 2.0
    jpeg_quality: int = 85
    light_gain: float = 0.12  # slow global gain swing
    light_gradient: float = 0.10  # slow left-right lighting swing
    light_period_s: float = 13.0
    landmark_jitter_px: float = 0.5
    seed: int = 0
    bystander: Bystander | None = None
    subject_centre: tuple[float, float] | None = None  # where the subject's face sits; None = frame centre

    @property
    def lossless(self) -> bool:
        return self.jpeg_quality <= 0


@dataclass
class Bystander:
    """A second face that only moves rigidly (its own head motion), centred at ``centre`` frame px."""

    photo: str
    centre: tuple[float, float]
    scale: float  # photo px -> frame px
    head: HeadMotion
    landmark_jitter_px: float = 0.5


@dataclass
class RenderedFrame:
    encoded: bytes  # JPEG (or PNG when lossless) file bytes
    points: np.ndarray  # (N, 2) subject landmarks, frame px
    bystander_points: np.ndarray | None  # (N, 2) bystander landmarks, frame px (may lie outside the frame)

    @property
    def image(self) -> np.ndarray:
        """BGR uint8 as a reader of the file sees it (after compression)."""
        image = cv2.imdecode(np.frombuffer(self.encoded, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("the rendered frame's bytes do not decode as an image")
        return np.asarray(image)


class FaceAnimator:
    """Renders frames of one photo; the displacement fields are built once per action."""

    def __init__(self, photo_bgr: np.ndarray, mesh_xy: np.ndarray) -> None:
        self.photo = photo_bgr
        self.mesh = np.asarray(mesh_xy, dtype=np.float64)[:, :2]
        right = self.mesh[[33, 133]].mean(axis=0)
        left = self.mesh[[362, 263]].mean(axis=0)
        self.interocular = float(np.linalg.norm(left - right))
        self.x_axis = (left - right) / self.interocular
        self.y_axis = np.array([-self.x_axis[1], self.x_axis[0]])
        h, w = photo_bgr.shape[:2]
        self._grid_x, self._grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self._fields: dict[tuple[str, str], np.ndarray] = {}
        self._mask: np.ndarray | None = None

    def _field(self, action: str, side: str) -> np.ndarray:
        key = (action, side)
        if key not in self._fields:
            self._fields[key] = self._unit_field(action, side)
        return self._fields[key]

    def face_mask(self) -> np.ndarray:
        """(H, W) float32 soft mask of the face (mesh hull grown by a third of the inter-ocular distance)."""
        if self._mask is None:
            hull = cv2.convexHull(self.mesh.astype(np.float32)).astype(np.int32)
            filled = np.zeros(self._grid_x.shape, np.uint8)
            cv2.fillConvexPoly(filled, hull, 255)
            grow = max(3, int(self.interocular / 3))
            grown = np.asarray(cv2.dilate(filled, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))))
            self._mask = np.asarray(cv2.GaussianBlur(grown.astype(np.float32) / 255.0, (0, 0), self.interocular / 8))
        return self._mask

    def _unit_field(self, action: str, side: str = "") -> np.ndarray:
        """(H, W, 2) photo-px displacement for amplitude 1 (in interocular-normalised photo units)."""
        field_ = np.zeros(self._grid_x.shape + (2,), np.float32)
        entries = ACTIONS[action]
        for anchors, direction, (sx, sy) in (entries[i] for i in SIDES[side]):
            centre = self.mesh[list(anchors)].mean(axis=0)
            dx, dy = self._grid_x - centre[0], self._grid_y - centre[1]
            u = dx * self.x_axis[0] + dy * self.x_axis[1]
            v = dx * self.y_axis[0] + dy * self.y_axis[1]
            if action in LID_ACTIONS:
                # an eyelid closes between fixed eye corners: no displacement at +-sx from the lid centre
                across = np.clip(1.0 - (u / (sx * self.interocular)) ** 2, 0.0, None) ** 2
                gauss = across * np.exp(-0.5 * (v / (sy * self.interocular)) ** 2)
            else:
                gauss = np.exp(-0.5 * ((u / (sx * self.interocular)) ** 2 + (v / (sy * self.interocular)) ** 2))
            vector = direction[0] * self.x_axis + direction[1] * self.y_axis
            field_[..., 0] += gauss * vector[0]
            field_[..., 1] += gauss * vector[1]
        return field_

    def head_matrix(self, spec: ClipSpec, t: float, head: HeadMotion | None = None,
                    scale: float | None = None, at: tuple[float, float] | None = None) -> np.ndarray:
        """2x3 photo -> frame transform at time t (face centre placed at ``at``, default the frame centre)."""
        dx, dy, angle, drift = (head or spec.head).at(t)
        centre = self.mesh[[33, 133, 362, 263, 13, 14]].mean(axis=0)
        w, h = spec.frame_size
        cx, cy = at or spec.subject_centre or (w / 2.0, h / 2.0)
        matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle,
                                         (spec.scale if scale is None else scale) * drift)
        matrix[:, 2] += np.array([cx + dx, cy + dy]) - centre
        return matrix

    def displacement(self, spec: ClipSpec, t: float) -> np.ndarray:
        total = np.zeros(self._grid_x.shape + (2,), np.float32)
        for movement in spec.movements:
            weight = movement.weight(t)
            if weight > 0:
                # amplitude is in frame px; the field lives in photo px
                total += self._field(movement.action, movement.side) * np.float32(
                    weight * movement.amplitude_px / spec.scale)
        return total

    def render(self, spec: ClipSpec, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``index`` (BGR uint8, JPEG round-tripped) and its landmarks (N, 2) frame px."""
        frame = self.render_scene(spec, index, rng)
        return frame.image, frame.points

    def render_jpeg(self, spec: ClipSpec, index: int, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
        """Frame ``index`` as a JPEG file's bytes at the clip's quality, and its landmarks (N, 2) frame px."""
        frame = self.render_scene(spec, index, rng)
        return frame.encoded, frame.points

    def render_scene(self, spec: ClipSpec, index: int, rng: np.random.Generator,
                     bystander: FaceAnimator | None = None) -> RenderedFrame:
        """Frame ``index`` with the subject and (given ``bystander``'s animator) the clip's bystander."""
        t = index / spec.fps
        matrix = self.head_matrix(spec, t)
        inverse = cv2.invertAffineTransform(matrix).astype(np.float32)
        w, h = spec.frame_size
        out_x, out_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        src_x = inverse[0, 0] * out_x + inverse[0, 1] * out_y + inverse[0, 2]
        src_y = inverse[1, 0] * out_x + inverse[1, 1] * out_y + inverse[1, 2]
        displacement = self.displacement(spec, t)
        if np.any(displacement):
            d = cv2.remap(displacement, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            src_x -= d[..., 0]
            src_y -= d[..., 1]
        frame = cv2.remap(self.photo, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        other_points = None
        if spec.bystander is not None and bystander is not None:
            frame, other_points = bystander._composite(spec, spec.bystander, frame, t)
        frame = self._light_and_noise(spec, frame, t, rng)
        if spec.lossless:
            ok, encoded = cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        else:
            ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
        mesh = self.mesh.copy()
        if np.any(displacement):
            xi = np.clip(np.round(mesh[:, 0]).astype(int), 0, displacement.shape[1] - 1)
            yi = np.clip(np.round(mesh[:, 1]).astype(int), 0, displacement.shape[0] - 1)
            mesh += displacement[yi, xi]
        points = mesh @ matrix[:, :2].T + matrix[:, 2]
        points += rng.normal(0.0, spec.landmark_jitter_px, points.shape)
        if other_points is not None and spec.bystander is not None:
            other_points = other_points + rng.normal(0.0, spec.bystander.landmark_jitter_px, other_points.shape)
        return RenderedFrame(encoded.tobytes(), points, other_points)

    def _composite(self, spec: ClipSpec, placement: Bystander, frame: np.ndarray,
                   t: float) -> tuple[np.ndarray, np.ndarray]:
        """This (bystander) face pasted rigidly into ``frame``; returns the frame and its landmarks."""
        matrix = self.head_matrix(spec, t, placement.head, placement.scale, placement.centre)
        size = spec.frame_size
        face = cv2.warpAffine(self.photo, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = cv2.warpAffine(self.face_mask(), matrix, size, flags=cv2.INTER_LINEAR)[..., None]
        blended = frame.astype(np.float32) * (1.0 - mask) + face.astype(np.float32) * mask
        return blended.astype(np.uint8), self.mesh @ matrix[:, :2].T + matrix[:, 2]

    @staticmethod
    def _light_and_noise(spec: ClipSpec, frame: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
        phase = 2 * math.pi * t / spec.light_period_s
        gain = 1.0 + spec.light_gain * math.sin(phase)
        w = frame.shape[1]
        ramp = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :, None]
        light = gain * (1.0 + spec.light_gradient * math.sin(0.7 * phase + 1.0) * ramp)
        noise = rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(spec.noise_sigma)
        noisy = frame.astype(np.float32) * light + noise
        return np.clip(noisy, 0, 255).astype(np.uint8)


def eye_opening(mesh_xy: np.ndarray) -> float:
    """Mean distance between the upper and lower lid (FaceMesh 159/145 and 386/374), px."""
    return float((np.linalg.norm(mesh_xy[159] - mesh_xy[145]) + np.linalg.norm(mesh_xy[386] - mesh_xy[374])) / 2)
