"""Planning the synthetic benchmark's clips: which movements, where, in which categories.

Each expressive movement belongs to one face group and one side class, drawn in known proportions over the
whole benchmark (``category_mix``): eye-region actions (upper-lid raise AU5, brow lowerer AU4, inner-brow raise
AU1, brow raise AU1+2) with a blink next to the movement's onset, eye-region actions without one, and
lower-face actions (lip-corner pull, lip press, nose wrinkle, chin raise); a third act on one side of the face
only. Half of the MaE are long (2-3.6 s) with a hold at the apex. Clips are JPEG (quality 60-85) or
lossless, and a third have a bystander: a second face, partly outside the frame, that only moves rigidly (those
clips are 480 x 320, the others 320 x 320).

The blink next to an eye-region action starts within 0.1 s of the action's onset, except for an upper-lid
raise: there the blink *ends* within 0.1 s of the raise's onset. A blink relaxes the levator palpebrae (the
muscle of AU5) while the orbicularis oculi closes the lid, so a lid cannot be raised under a closing blink; it
can start to rise as the lid reopens (the levator reopens it), or right after. A raise that starts 0.1 s before
a short blink ends still has up to 40 % of a 0.1 s micro raise under a lid more than half closed. (Before, the
blink started near the raise's onset as for the brows, and hid a quarter to three quarters of each micro lid
raise under a more than half-closed lid: 3 of 25 were found on seeds 1-7, BENCHMARKS.md.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fea_ros.mie.synthetic import SIDED_ACTIONS, Bystander, ClipSpec, HeadMotion, Movement

EYE_REGION_ACTIONS = ("upper_lid_raise", "brow_lower", "inner_brow_raise", "brow_raise")
LOWER_FACE_ACTIONS = ("lip_corner_pull", "lip_press", "nose_wrinkle", "chin_raise")
GROUPS = ("eye+blink", "eye", "lower face")
#: the categories `fea-ros bench mie` reports recall for (a movement is in one group, one side class, one
#: compression class, and long MaE with a hold are a category of their own)
CATEGORIES = GROUPS + ("bilateral", "unilateral", "jpeg", "lossless", "long MaE hold")
#: an eyelid cannot travel as far as a mouth corner: upper-lid raises are drawn at this fraction of the amplitude
AMPLITUDE_SCALE = {"upper_lid_raise": 0.5}
BLINK_NEAR_ONSET_S = 0.1
#: actions whose nearby blink ends (rather than starts) within BLINK_NEAR_ONSET_S of their onset (docstring)
AFTER_BLINK_ACTIONS = ("upper_lid_raise",)
MICRO_S, MICRO_PX = (0.10, 0.45), (1.5, 4.0)
MACRO_S, MACRO_PX, LONG_MACRO_S = (0.6, 2.0), (5.0, 12.0), (2.0, 3.6)


@dataclass(frozen=True)
class Category:
    group: str  # one of GROUPS
    unilateral: bool
    long_macro: bool = False  # only read for MaE


def category_mix(n: int, rng: np.random.Generator, eye_with_blink: float = 1 / 3, eye_alone: float = 1 / 6,
                 unilateral: float = 1 / 3, long_macro: float = 0.5) -> list[Category]:
    """``n`` categories in exactly these proportions (rounded), in random order."""
    n_blink, n_eye = round(n * eye_with_blink), round(n * eye_alone)
    groups = ["eye+blink"] * n_blink + ["eye"] * n_eye + ["lower face"] * (n - n_blink - n_eye)
    sides = [True] * round(n * unilateral) + [False] * (n - round(n * unilateral))
    longs = [True] * round(n * long_macro) + [False] * (n - round(n * long_macro))
    for values in (groups, sides, longs):
        rng.shuffle(values)
    return [Category(g, s, l) for g, s, l in zip(groups, sides, longs)]


def _free_slot(rng: np.random.Generator, busy: list[tuple[float, float]], length: float, start: float,
               end: float, clearance: float) -> float | None:
    """A random start time for an interval of ``length`` in [start, end] keeping ``clearance`` from ``busy``."""
    for _ in range(200):
        t0 = float(rng.uniform(start, max(start, end - length)))
        if all(t0 + length + clearance <= b0 or t0 >= b1 + clearance for b0, b1 in busy):
            return t0
    return None


def _expression(rng: np.random.Generator, kind: str, category: Category, t: float) -> Movement:
    pool: tuple[str, ...] = EYE_REGION_ACTIONS if category.group != "lower face" else LOWER_FACE_ACTIONS
    if category.unilateral:
        pool = tuple(a for a in pool if a in SIDED_ACTIONS)
    action = str(rng.choice(pool))
    side = str(rng.choice(("right", "left"))) if category.unilateral else ""
    tags = [category.group, "unilateral" if category.unilateral else "bilateral"]
    if kind == "MICRO":
        length, amplitude, apex_at, hold = (rng.uniform(*MICRO_S), rng.uniform(*MICRO_PX), rng.uniform(0.35, 0.6),
                                            0.0)
    elif category.long_macro:
        length, amplitude, apex_at = rng.uniform(*LONG_MACRO_S), rng.uniform(*MACRO_PX), rng.uniform(0.25, 0.45)
        hold = rng.uniform(0.3, 0.6) * length
        tags.append("long MaE hold")
    else:
        length, amplitude, apex_at = rng.uniform(*MACRO_S), rng.uniform(*MACRO_PX), rng.uniform(0.25, 0.45)
        hold = rng.uniform(0.0, 0.35) * length
    amplitude *= AMPLITUDE_SCALE.get(action, 1.0)
    return Movement(action, t, t + apex_at * (length - hold), t + length, float(amplitude), kind, float(hold),
                    side, tuple(tags))


def _head(rng: np.random.Generator, duration_s: float, busy: list[tuple[float, float]], scale: float = 1.0,
          occupy: bool = True) -> HeadMotion:
    jerks = []
    for _ in range(max(1, int(duration_s / 10.0))):
        length = float(rng.uniform(0.2, 0.5))
        t0 = _free_slot(rng, busy, length, 0.8, duration_s - 0.5, clearance=0.3)
        if t0 is not None:
            jerks.append((t0, length, float(rng.uniform(-12, 12)) * scale, float(rng.uniform(-8, 8)) * scale))
            if occupy:
                busy.append((t0, t0 + length))
    return HeadMotion(translation_px=(float(rng.uniform(6, 15)) * scale, float(rng.uniform(4, 10)) * scale),
                      rotation_deg=float(rng.uniform(4.0, 8.0)), scale=float(rng.uniform(0.03, 0.08)),
                      phases=rng.uniform(0, 2 * math.pi, (4, 3)), jerks=jerks)


def plan_clip(name: str, rng: np.random.Generator, fps: float, duration_s: float, kinds: list[str],
              categories: list[Category], interocular_px: float, eye_opening_px: float,
              frame_size: tuple[int, int] = (480, 320), photo_interocular_px: float = 80.0, lossless: bool = False,
              bystander_photo: str | None = None) -> ClipSpec:
    """Random but reproducible clip with one expressive movement per entry of ``kinds`` ("MICRO"/"MACRO").

    MiE 1.5-4 px / 0.1-0.45 s, MaE 5-12 px / 0.6-2 s (long ones 2-3.6 s with a 30-60 % hold); blinks about every
    4 s plus one next to each "eye+blink" movement's onset (module docstring); head motion with quick shifts;
    JPEG quality 60-85 unless ``lossless``; a rigid bystander at the right edge when ``bystander_photo`` is given.
    """
    if len(kinds) != len(categories):
        raise ValueError(f"clip {name}: {len(kinds)} movements but {len(categories)} categories")
    if bystander_photo is None:
        frame_size = (min(frame_size[0], frame_size[1]), frame_size[1])  # no room needed beside the subject
    w, h = frame_size
    movements: list[Movement] = []
    t = 1.2  # the spotter's warm-up
    for kind, category in zip(kinds, categories):
        t += float(rng.uniform(0.9, 2.0))
        movement = _expression(rng, kind, category, t)
        movements.append(movement)
        t = movement.offset_s
        if category.group == "eye+blink":
            length = float(rng.uniform(0.2, 0.35))
            near = movement.onset_s + float(rng.uniform(-BLINK_NEAR_ONSET_S, BLINK_NEAR_ONSET_S))
            t0 = max(0.8, near - length if movement.action in AFTER_BLINK_ACTIONS else near)
            movements.append(Movement("blink", t0, t0 + 0.4 * length, t0 + length, float(0.9 * eye_opening_px)))
    if t + 1.0 > duration_s:
        raise ValueError(f"clip {name}: {len(kinds)} movements need {t + 1.0:.1f} s, more than {duration_s} s")
    busy = [(m.onset_s, m.offset_s) for m in movements]
    for _ in range(max(1, int(duration_s / 4.0))):
        length = float(rng.uniform(0.2, 0.35))
        slot = _free_slot(rng, busy, length, 0.8, duration_s - 0.5, clearance=0.3)
        if slot is not None:
            movements.append(Movement("blink", slot, slot + 0.4 * length, slot + length,
                                      float(0.9 * eye_opening_px)))
            busy.append((slot, slot + length))
    head = _head(rng, duration_s, busy)
    scale = interocular_px / photo_interocular_px
    bystander = None
    if bystander_photo is not None:
        # about as large as the subject, centred near the right edge so that a third to a half of it is cut off
        other_iod = interocular_px * float(rng.uniform(0.85, 1.1))
        centre = (w - float(rng.uniform(0.0, 0.35)) * other_iod, h / 2.0 + float(rng.uniform(-20, 20)))
        bystander = Bystander(bystander_photo, centre, other_iod / photo_interocular_px,
                              _head(rng, duration_s, busy, scale=1.5, occupy=False),
                              landmark_jitter_px=float(rng.uniform(0.3, 0.7)))
    quality = 0 if lossless else int(rng.integers(60, 86))
    return ClipSpec(name=name, fps=fps, duration_s=duration_s, movements=movements, head=head, scale=scale,
                    frame_size=frame_size, noise_sigma=float(rng.uniform(1.5, 3.0)), jpeg_quality=quality,
                    light_gain=float(rng.uniform(0.06, 0.15)), light_gradient=float(rng.uniform(0.04, 0.12)),
                    light_period_s=float(rng.uniform(8.0, 20.0)),
                    landmark_jitter_px=float(rng.uniform(0.3, 0.7)), seed=int(rng.integers(0, 2 ** 31)),
                    bystander=bystander, subject_centre=(0.4 * w, h / 2.0) if bystander else None)


def movement_categories(movement: Movement, lossless: bool) -> tuple[str, ...]:
    """The benchmark categories of an expressive movement in a clip (its own tags plus the compression)."""
    return movement.tags + ("lossless" if lossless else "jpeg",)
