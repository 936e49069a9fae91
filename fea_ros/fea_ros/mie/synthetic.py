"""Synthetic face clips with known facial movements, for the spotting benchmark and the tests.

A still photo of a face is animated frame by frame: smooth local displacement fields placed at landmark regions
(brow raise, brow lowering, lip-corner pull, lip press, nose wrinkle, chin raise, and blinks), each scaled by an
onset-apex-offset time profile; then the whole face is moved by a head similarity motion (translation, rotation,
scale drift, occasional quick head shifts), lit by a slowly changing gain and gradient, given sensor noise and
JPEG-compressed. The truth (intervals and types) is known exactly; the landmarks of every frame are the photo's
mesh moved by the same displacement and head motion, plus jitter.
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
    "blink": [((159, 158, 160), (0.0, 1.0), (0.21, 0.07)), ((386, 385, 387), (0.0, 1.0), (0.21, 0.07))],
}
EXPRESSION_ACTIONS = tuple(name for name in ACTIONS if name != "blink")


@dataclass
class Movement:
    action: str
    onset_s: float
    apex_s: float
    offset_s: float
    amplitude_px: float  # peak displacement in frame px (for a blink: how far the upper lid comes down)
    kind: str = ""  # "MICRO" | "MACRO" for expressions, "" for blinks
    hold_s: float = 0.0  # time held at the apex before the fall

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
        self._fields = {name: self._unit_field(name) for name in ACTIONS}

    def _unit_field(self, action: str) -> np.ndarray:
        """(H, W, 2) photo-px displacement for amplitude 1 (in interocular-normalised photo units)."""
        field_ = np.zeros(self._grid_x.shape + (2,), np.float32)
        for anchors, direction, (sx, sy) in ACTIONS[action]:
            centre = self.mesh[list(anchors)].mean(axis=0)
            dx, dy = self._grid_x - centre[0], self._grid_y - centre[1]
            u = dx * self.x_axis[0] + dy * self.x_axis[1]
            v = dx * self.y_axis[0] + dy * self.y_axis[1]
            if action == "blink":
                # an eyelid closes between fixed eye corners: no displacement at +-sx from the lid centre
                across = np.clip(1.0 - (u / (sx * self.interocular)) ** 2, 0.0, None) ** 2
                gauss = across * np.exp(-0.5 * (v / (sy * self.interocular)) ** 2)
            else:
                gauss = np.exp(-0.5 * ((u / (sx * self.interocular)) ** 2 + (v / (sy * self.interocular)) ** 2))
            vector = direction[0] * self.x_axis + direction[1] * self.y_axis
            field_[..., 0] += gauss * vector[0]
            field_[..., 1] += gauss * vector[1]
        return field_

    def head_matrix(self, spec: ClipSpec, t: float) -> np.ndarray:
        """2x3 photo -> frame transform at time t (face centre placed at the frame centre)."""
        dx, dy, angle, scale = spec.head.at(t)
        centre = self.mesh[[33, 133, 362, 263, 13, 14]].mean(axis=0)
        w, h = spec.frame_size
        matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, spec.scale * scale)
        matrix[:, 2] += np.array([w / 2.0 + dx, h / 2.0 + dy]) - centre
        return matrix

    def displacement(self, spec: ClipSpec, t: float) -> np.ndarray:
        total = np.zeros_like(self._fields["blink"])
        for movement in spec.movements:
            weight = movement.weight(t)
            if weight > 0:
                # amplitude is in frame px; the field lives in photo px
                total += self._fields[movement.action] * np.float32(weight * movement.amplitude_px / spec.scale)
        return total

    def render(self, spec: ClipSpec, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``index`` (BGR uint8, JPEG round-tripped) and its landmarks (N, 2) frame px."""
        encoded, points = self.render_jpeg(spec, index, rng)
        frame = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
        assert frame is not None, "OpenCV could not decode the JPEG it just encoded"
        return frame, points

    def render_jpeg(self, spec: ClipSpec, index: int, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
        """Frame ``index`` as a JPEG file's bytes at the clip's quality, and its landmarks (N, 2) frame px."""
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
        frame = self._light_and_noise(spec, frame, t, rng)
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
        mesh = self.mesh.copy()
        if np.any(displacement):
            xi = np.clip(np.round(mesh[:, 0]).astype(int), 0, displacement.shape[1] - 1)
            yi = np.clip(np.round(mesh[:, 1]).astype(int), 0, displacement.shape[0] - 1)
            mesh += displacement[yi, xi]
        points = mesh @ matrix[:, :2].T + matrix[:, 2]
        points += rng.normal(0.0, spec.landmark_jitter_px, points.shape)
        return encoded.tobytes(), points

    @staticmethod
    def _light_and_noise(spec: ClipSpec, frame: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
        phase = 2 * math.pi * t / spec.light_period_s
        gain = 1.0 + spec.light_gain * math.sin(phase)
        w = frame.shape[1]
        ramp = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :, None]
        light = gain * (1.0 + spec.light_gradient * math.sin(0.7 * phase + 1.0) * ramp)
        noisy = frame.astype(np.float32) * light + rng.normal(0.0, spec.noise_sigma, frame.shape).astype(np.float32)
        return np.clip(noisy, 0, 255).astype(np.uint8)


def _free_slot(rng: np.random.Generator, busy: list[tuple[float, float]], length: float, start: float,
               end: float, clearance: float) -> float | None:
    """A random start time for an interval of ``length`` in [start, end] keeping ``clearance`` from ``busy``."""
    for _ in range(200):
        t0 = float(rng.uniform(start, max(start, end - length)))
        if all(t0 + length + clearance <= b0 or t0 >= b1 + clearance for b0, b1 in busy):
            return t0
    return None


def plan_clip(name: str, rng: np.random.Generator, fps: float, duration_s: float, n_micro: int, n_macro: int,
              interocular_px: float, eye_opening_px: float, frame_size: tuple[int, int] = (320, 320),
              photo_interocular_px: float = 80.0) -> ClipSpec:
    """Random but reproducible clip: MiE 1.5-4 px / 0.1-0.45 s, MaE 5-12 px / 0.6-3 s, blinks, head motion."""
    kinds = ["MICRO"] * n_micro + ["MACRO"] * n_macro
    rng.shuffle(kinds)
    movements: list[Movement] = []
    t = 1.2  # the spotter's warm-up
    for kind in kinds:
        t += float(rng.uniform(0.9, 2.0))
        if kind == "MICRO":
            length, amplitude, apex_at, hold = rng.uniform(0.10, 0.45), rng.uniform(1.5, 4.0), rng.uniform(0.35, 0.6), 0.0
        else:
            length, amplitude, apex_at = rng.uniform(0.6, 3.0), rng.uniform(5.0, 12.0), rng.uniform(0.25, 0.45)
            hold = rng.uniform(0.0, 0.35) * length
        action = str(rng.choice(EXPRESSION_ACTIONS))
        movements.append(Movement(action, t, t + apex_at * (length - hold), t + length, float(amplitude), kind,
                                  float(hold)))
        t += length
    if t + 1.0 > duration_s:
        raise ValueError(f"clip {name}: {len(kinds)} movements need {t + 1.0:.1f} s, more than {duration_s} s")
    busy = [(m.onset_s, m.offset_s) for m in movements]
    for _ in range(max(1, int(duration_s / 4.0))):
        length = float(rng.uniform(0.2, 0.35))
        t0 = _free_slot(rng, busy, length, 0.8, duration_s - 0.5, clearance=0.3)
        if t0 is not None:
            movements.append(Movement("blink", t0, t0 + 0.4 * length, t0 + length,
                                      float(0.9 * eye_opening_px)))
            busy.append((t0, t0 + length))
    jerks = []
    for _ in range(max(1, int(duration_s / 10.0))):
        length = float(rng.uniform(0.2, 0.5))
        t0 = _free_slot(rng, busy, length, 0.8, duration_s - 0.5, clearance=0.3)
        if t0 is not None:
            jerks.append((t0, length, float(rng.uniform(-12, 12)), float(rng.uniform(-8, 8))))
            busy.append((t0, t0 + length))
    head = HeadMotion(translation_px=(float(rng.uniform(6, 15)), float(rng.uniform(4, 10))),
                      rotation_deg=float(rng.uniform(4.0, 8.0)), scale=float(rng.uniform(0.03, 0.08)),
                      phases=rng.uniform(0, 2 * math.pi, (4, 3)), jerks=jerks)
    return ClipSpec(name=name, fps=fps, duration_s=duration_s, movements=movements, head=head,
                    scale=interocular_px / photo_interocular_px, frame_size=frame_size,
                    noise_sigma=float(rng.uniform(1.5, 3.0)), jpeg_quality=int(rng.integers(70, 93)),
                    light_gain=float(rng.uniform(0.06, 0.15)), light_gradient=float(rng.uniform(0.04, 0.12)),
                    light_period_s=float(rng.uniform(8.0, 20.0)),
                    landmark_jitter_px=float(rng.uniform(0.3, 0.7)), seed=int(rng.integers(0, 2 ** 31)))


def eye_opening(mesh_xy: np.ndarray) -> float:
    """Mean distance between the upper and lower lid (FaceMesh 159/145 and 386/374), px."""
    return float((np.linalg.norm(mesh_xy[159] - mesh_xy[145]) + np.linalg.norm(mesh_xy[386] - mesh_xy[374])) / 2)
