"""Dense optical flow on the aligned crop and per-region motion with the rigid head motion taken out.

The flow runs from a reference crop (an earlier frame) to the current crop. The forehead and nose-bridge
regions carry no expression motion here, so a similarity motion fitted to their flow is what alignment left
over (landmark jitter, residual head motion); it is subtracted from every region's mean flow.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: FaceMesh landmark indices of each measured region (subject's left/right)
REGIONS: dict[str, tuple[int, ...]] = {
    "brow_right": (70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
    "brow_left": (300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
    # the inner thirds of the brows on their own: AU1 and AU4 move mostly these, and in the whole-brow box the
    # still outer part dilutes them
    "brow_inner_right": (107, 66, 55, 65),
    "brow_inner_left": (336, 296, 285, 295),
    "eye_right": (33, 160, 158, 133, 153, 144, 159, 145),
    "eye_left": (362, 385, 387, 263, 373, 380, 386, 374),
    # the middle of each upper lid alone: an upper-lid raise moves this, and in the whole-eye box the fixed
    # corners and lower lid dilute it
    "lid_right": (161, 160, 159, 158, 157),
    "lid_left": (384, 385, 386, 387, 388),
    # the two nasal wings apart: a one-sided nose wrinkle moves one, and in a box over both the still side halves it
    "nose_right": (48, 115, 220, 64),
    "nose_left": (278, 344, 440, 294),
    "mouth_corner_right": (61, 146, 91, 185, 40),
    "mouth_corner_left": (291, 375, 321, 409, 270),
    "upper_lip": (0, 37, 267, 13, 82, 312),
    "lower_lip": (17, 84, 314, 14, 87, 317),
    "chin": (152, 175, 199, 200, 377, 148),
}
REGION_NAMES: tuple[str, ...] = tuple(REGIONS)
EYE_REGIONS = ("eye_right", "eye_left", "lid_right", "lid_left")
BROW_REGIONS = ("brow_right", "brow_left", "brow_inner_right", "brow_inner_left")
REFERENCE_REGIONS: dict[str, tuple[int, ...]] = {
    "forehead": (10, 151, 108, 337),
    "nose_bridge": (6, 197, 195),
}
#: padding around each region's landmarks, as a fraction of the inter-ocular distance
REGION_PAD = 0.08
REFERENCE_PAD = 0.06


@dataclass
class RegionBoxes:
    boxes: np.ndarray  # (R, 4) int x0, y0, x1, y1 (exclusive) in crop px, REGION_NAMES order
    centres: np.ndarray  # (R, 2) float
    reference: list[tuple[int, int, int, int]]


_ALL_INDICES = np.concatenate([REGIONS[name] for name in REGION_NAMES] + list(REFERENCE_REGIONS.values()))
_STARTS = np.cumsum([0] + [len(REGIONS[name]) for name in REGION_NAMES]
                    + [len(v) for v in REFERENCE_REGIONS.values()])[:-1]
_PADS = np.array([REGION_PAD] * len(REGION_NAMES) + [REFERENCE_PAD] * len(REFERENCE_REGIONS))[:, None]


def region_boxes(crop_points: np.ndarray, interocular_px: float, side: int) -> RegionBoxes:
    points = crop_points[_ALL_INDICES]
    pad = _PADS * interocular_px
    low = np.clip(np.floor(np.minimum.reduceat(points, _STARTS, axis=0) - pad), 0, side - 1).astype(int)
    high = np.clip(np.ceil(np.maximum.reduceat(points, _STARTS, axis=0) + pad).astype(int) + 1, 1, side)
    high = np.maximum(high, low + 1)
    all_boxes = np.hstack([low, high])
    n = len(REGION_NAMES)
    boxes = all_boxes[:n]
    centres = (boxes[:, :2] + boxes[:, 2:] - 1) / 2.0
    reference = [(int(x0), int(y0), int(x1), int(y1)) for x0, y0, x1, y1 in all_boxes[n:]]
    return RegionBoxes(boxes, centres, reference)


class FlowEstimator:
    """DIS optical flow (OpenCV) on small grey crops; under 1 ms for 128 x 128 on one CPU core.

    The FAST preset stops at a quarter of the resolution, which flattens sub-pixel motion of small regions;
    half resolution keeps most of it at a third of the full-resolution cost. The variational refinement pass
    (``refinement_iterations``) smooths the flow further for about 0.4 ms more per crop; the spotter runs
    without it and refines the boxes that need it at full resolution instead (BoxRefiner).
    """

    def __init__(self, finest_scale: int = 1, refinement_iterations: int = 1, descent_iterations: int = 8) -> None:
        self._dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._dis.setFinestScale(finest_scale)
        self._dis.setVariationalRefinementIterations(refinement_iterations)
        # 8 gradient-descent steps per patch instead of the preset's 16: on the 128 px face crops the flow
        # changes by about 0.01 px on average (well under the regions' noise) for about 15 % less time
        self._dis.setGradientDescentIterations(descent_iterations)

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> np.ndarray:
        # None: DIS allocates the flow. OpenCV's stubs type the argument as a required array, but handing DIS
        # an array crashed it (segfault inside calc in the pipeline, opencv-python-headless 4.14)
        return self._dis.calc(reference, current, None)  # type: ignore[call-overload]


def fit_rigid_motion(flow: np.ndarray, boxes: list[tuple[int, int, int, int]], step: int = 2) -> np.ndarray:
    """Least-squares similarity motion (u = a x - b y + tx, v = b x + a y + ty) of the flow inside ``boxes``.

    Sampled every ``step`` pixels. Returns (a, b, tx, ty); zeros when the boxes hold too few samples. The sums
    the fit needs are taken per box from row and column totals (no coordinate grids are built).
    """
    n = sx = sy = sxx = su = sv = sxu = syu = sxv = syv = 0.0
    for x0, y0, x1, y1 in boxes:
        patch = flow[y0:y1:step, x0:x1:step]
        if patch.size == 0:
            continue
        xs = np.arange(x0, x1, step, dtype=np.float64)[:patch.shape[1]]
        ys = np.arange(y0, y1, step, dtype=np.float64)[:patch.shape[0]]
        rows, cols = patch.shape[:2]
        columns = patch.sum(axis=0, dtype=np.float64)  # (cols, 2)
        lines = patch.sum(axis=1, dtype=np.float64)  # (rows, 2)
        n += rows * cols
        sx += rows * xs.sum()
        sy += cols * ys.sum()
        sxx += rows * (xs ** 2).sum() + cols * (ys ** 2).sum()
        su += columns[:, 0].sum()
        sv += columns[:, 1].sum()
        sxu += xs @ columns[:, 0]
        sxv += xs @ columns[:, 1]
        syu += ys @ lines[:, 0]
        syv += ys @ lines[:, 1]
    if n < 8:
        return np.zeros(4)
    x_mean, y_mean, u_mean, v_mean = sx / n, sy / n, su / n, sv / n
    spread = sxx - n * (x_mean ** 2 + y_mean ** 2)
    cross_a = (sxu - n * x_mean * u_mean) + (syv - n * y_mean * v_mean)
    cross_b = (sxv - n * x_mean * v_mean) - (syu - n * y_mean * u_mean)
    a = cross_a / spread if spread > 0 else 0.0
    b = cross_b / spread if spread > 0 else 0.0
    tx = u_mean - (a * x_mean - b * y_mean)
    ty = v_mean - (b * x_mean + a * y_mean)
    return np.array([a, b, tx, ty])


def region_motion(flow: np.ndarray, regions: RegionBoxes) -> np.ndarray:
    """Mean flow of each region minus the rigid motion at its centre: (R, 2) crop px."""
    sums = cv2.integral(flow, sdepth=cv2.CV_64F)  # (H+1, W+1, 2): each box sum from four corners
    x0, y0, x1, y1 = regions.boxes.T
    totals = sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]
    means = totals / ((x1 - x0) * (y1 - y0))[:, None]
    a, b, tx, ty = fit_rigid_motion(flow, regions.reference)
    cx, cy = regions.centres[:, 0], regions.centres[:, 1]
    rigid = np.stack([a * cx - b * cy + tx, b * cx + a * cy + ty], axis=1)
    return means - rigid


def similarity_residual(motion: np.ndarray, centres: np.ndarray, fit: np.ndarray | None = None) -> np.ndarray:
    """(R, 2) region motion minus the least-squares similarity motion of the regions in ``fit`` (default all).

    What a similarity of the whole face explains is global misalignment (a face that slid against its crop),
    not a local movement; a movement of one or two regions keeps most of its motion here. A movement of several
    regions at once (both lids) pulls a fit over all regions along; fitted without them, it keeps all of it.
    """
    rows = np.ones(len(motion), bool) if fit is None else np.asarray(fit, bool)
    origin, mean = centres[rows].mean(axis=0), motion[rows].mean(axis=0)
    x, y = centres[:, 0] - origin[0], centres[:, 1] - origin[1]
    u, v = motion[:, 0] - mean[0], motion[:, 1] - mean[1]
    spread = float((x[rows] ** 2 + y[rows] ** 2).sum())
    if spread <= 0:
        return motion - mean
    a = float((x * u + y * v)[rows].sum()) / spread
    b = float((x * v - y * u)[rows].sum()) / spread
    return np.stack([u - (a * x - b * y), v - (b * x + a * y)], axis=1)


def _build_channels() -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], np.ndarray]:
    """Signals measured per frame: each region's own motion, and mirror-symmetric pairs.

    A bilateral movement (both brows, both mouth corners, the lips pressing together) moves the two sides
    alike in mirror image; averaging them halves the noise power, so such a movement is seen at a lower
    amplitude than on either side alone.
    """
    index = {name: i for i, name in enumerate(REGION_NAMES)}
    names: list[str] = []
    members: list[tuple[str, ...]] = []
    rows: list[np.ndarray] = []

    def row(terms: list[tuple[str, int, float]]) -> np.ndarray:
        r = np.zeros(2 * len(REGION_NAMES))
        for region, axis, weight in terms:
            r[2 * index[region] + axis] = weight
        return r

    for name in REGION_NAMES:
        names.append(name)
        members.append((name,))
        rows.append(np.stack([row([(name, 0, 1.0)]), row([(name, 1, 1.0)])]))
    for name, right, left in (("brows", "brow_right", "brow_left"),
                              ("inner_brows", "brow_inner_right", "brow_inner_left"),
                              ("lids", "lid_right", "lid_left"),
                              ("nose", "nose_right", "nose_left"),
                              ("mouth_corners", "mouth_corner_right", "mouth_corner_left")):
        names.append(name)
        members.append((right, left))
        rows.append(np.stack([row([(right, 0, 0.5), (left, 0, -0.5)]), row([(right, 1, 0.5), (left, 1, 0.5)])]))
    names.append("lips")
    members.append(("upper_lip", "lower_lip"))
    rows.append(np.stack([row([("upper_lip", 1, -0.5), ("lower_lip", 1, 0.5)]), np.zeros(2 * len(REGION_NAMES))]))
    return tuple(names), tuple(members), np.stack(rows)


CHANNEL_NAMES, CHANNEL_REGIONS, _CHANNEL_MATRIX = _build_channels()


def channel_motion(motion: np.ndarray) -> np.ndarray:
    """(C, 2) channel vectors from the (R, 2) region motion, CHANNEL_NAMES order."""
    return _CHANNEL_MATRIX @ motion.reshape(-1)


class BoxRefiner:
    """One Lucas-Kanade step per box at full crop resolution on what the flow left over.

    DIS stops at half resolution, so the sub-pixel motion of a thin structure (an upper eyelid, a fraction of a
    pixel in the crop) is blurred by its patches and the upsampling into the still skin around it. Warping the
    current crop back along the flow and solving, per box, for the one translation that best explains what is
    left uses every pixel of the box at full resolution. The step is linear, valid for what the flow missed
    (well under a pixel); on a uniform shift of the whole crop it is less precise than DIS's mean (it adds noise
    and overshoots), so the spotter uses it for the eye boxes (small lid raises) and the regions below them (small
    one-sided lip-corner pulls, nose wrinkles, chin raises) that DIS misses, not for the brows (whose boxes
    pick up the lid) or the reference boxes of the rigid fit. Only the window around the boxes is computed.
    """

    def __init__(self, damping: float = 1.0) -> None:
        if not damping > 0:
            # without it a box of even grey (no gradient) has a singular system: its correction would be NaN
            raise ValueError(f"BoxRefiner damping must be > 0 (got {damping})")
        self.damping = damping  # grey levels^2 per px: keeps a box with an edge in one direction only stable

    def __call__(self, reference: np.ndarray, current: np.ndarray, flow: np.ndarray,
                 boxes: np.ndarray) -> np.ndarray:
        """(B, 2) corrections of the mean flow of ``boxes`` (B, 4: x0, y0, x1, y1 exclusive, crop px)."""
        h, w = reference.shape
        boxes = np.asarray(boxes)
        # a pixel around the boxes for the gradient filter
        wx0, wy0 = max(int(boxes[:, 0].min()) - 1, 0), max(int(boxes[:, 1].min()) - 1, 0)
        wx1, wy1 = min(int(boxes[:, 2].max()) + 1, w), min(int(boxes[:, 3].max()) + 1, h)
        window = flow[wy0:wy1, wx0:wx1]
        xs = np.arange(wx0, wx1, dtype=np.float32)[None, :] + window[..., 0]
        ys = np.arange(wy0, wy1, dtype=np.float32)[:, None] + window[..., 1]
        # the current crop in float first, so the warp keeps its sub-grey-level interpolation
        warped = cv2.remap(current.astype(np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ref = reference[wy0:wy1, wx0:wx1].astype(np.float32)
        # no smoothing first: it would take the lid's fine detail with it (smoothing by 1 px found fewer small
        # lid raises on the tuning seeds), at the price of a step that overshoots a shift by up to about half
        gx = cv2.Sobel(ref, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
        gy = cv2.Sobel(ref, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
        error = ref - warped
        # box sums from integral images (OpenCV's integral takes up to 4 channels)
        structure = cv2.integral(cv2.merge([gx * gx, gx * gy, gy * gy]), sdepth=cv2.CV_64F)
        mismatch = cv2.integral(cv2.merge([gx * error, gy * error]), sdepth=cv2.CV_64F)
        x0, y0, x1, y1 = (boxes - np.array([wx0, wy0, wx0, wy0])).T
        totals = np.hstack([sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]
                            for sums in (structure, mismatch)])  # (B, 5)
        n = ((x1 - x0) * (y1 - y0)).astype(np.float64)
        a = totals[:, 0] + self.damping * n
        b = totals[:, 1]
        d = totals[:, 2] + self.damping * n
        det = a * d - b * b
        ex, ey = totals[:, 3], totals[:, 4]
        return np.stack([(d * ex - b * ey) / det, (a * ey - b * ex) / det], axis=1)
