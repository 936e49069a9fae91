"""A spotting baseline in the style of the MEGC 2020 MDMD method (main directional mean optical flow).

Offline, per video (it needs the whole video's feature curve): for each frame i, optical flow from frame i-k to
frame i on the aligned face crop; the crop is cut into 6 x 6 blocks; in each block the flow vectors are put into
four direction bins and the block's value is the mean magnitude of the vectors in the fullest bin (its "main
direction"); the frame's feature is the mean of the top third of the block values. Frames whose feature exceeds
``T = mean + p (max - mean)`` form runs; a run (shifted back by k/2, since the flow spans k frames) is an interval.
As in the MEGC 2020 baseline it runs twice: with the MiE k (CAS(ME)^2: 12 frames at 30 fps = 0.4 s), keeping
short intervals as MiE, and with the MaE k (39 frames = 1.3 s), keeping the longer ones as MaE. k is converted
from seconds to frames, so the same settings serve any frame rate.

The original used Dlib/DRMF landmarks and RLOF flow; here the same landmark alignment as the spotter and
Farneback flow, so the comparison is about the detection method, not the face crop.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fea_ros.mie.evaluation import MACRO, MICRO


@dataclass
class MdmdConfig:
    micro_k_s: float = 0.4  # 12 frames at 30 fps
    macro_k_s: float = 1.3  # 39 frames at 30 fps
    p: float = 0.3  # threshold position between the mean and the max of the feature curve
    grid: int = 6
    micro_max_s: float = 0.5


def block_main_direction_means(flow: np.ndarray, grid: int) -> np.ndarray:
    """(grid*grid,) mean magnitude of the flow vectors in each block's most populated direction quadrant."""
    flow = flow - np.median(flow.reshape(-1, 2), axis=0)  # the global shift left after alignment
    h, w = flow.shape[:2]
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    quadrant = ((np.arctan2(flow[..., 1], flow[..., 0]) + np.pi) // (np.pi / 2)).astype(int) % 4
    values = np.empty(grid * grid)
    for by in range(grid):
        for bx in range(grid):
            ys, xs = slice(by * h // grid, (by + 1) * h // grid), slice(bx * w // grid, (bx + 1) * w // grid)
            q = quadrant[ys, xs].ravel()
            m = magnitude[ys, xs].ravel()
            counts = np.bincount(q, minlength=4)
            main = int(np.argmax(counts))
            values[by * grid + bx] = m[q == main].mean() if counts[main] else 0.0
    return values


def mdmd_feature_curve(crops: list[np.ndarray], k: int, grid: int = 6) -> np.ndarray:
    curve = np.zeros(len(crops))
    top = max(1, grid * grid // 3)
    for i in range(k, len(crops)):
        flow = cv2.calcOpticalFlowFarneback(crops[i - k], crops[i], None, 0.5, 3, 9, 3, 5, 1.1, 0)
        blocks = np.sort(block_main_direction_means(flow, grid))[::-1]
        curve[i] = blocks[:top].mean()
    return curve


def spot_runs(curve: np.ndarray, p: float, k: int) -> list[tuple[int, int]]:
    """Runs of frames above mean + p (max - mean), shifted back by k/2: (first, last) frame indices."""
    valid = curve[k:] if len(curve) > k else curve
    if valid.size == 0:
        return []
    threshold = valid.mean() + p * (valid.max() - valid.mean())
    above = np.concatenate([[False], curve > threshold, [False]])
    starts = np.flatnonzero(~above[:-1] & above[1:])
    ends = np.flatnonzero(above[:-1] & ~above[1:]) - 1
    shift = k // 2
    return [(max(0, int(s) - shift), max(0, int(e) - shift)) for s, e in zip(starts, ends)]


def mdmd_spot(crops: list[np.ndarray], fps: float, config: MdmdConfig | None = None
              ) -> list[tuple[int, int, str]]:
    """(onset frame, offset frame, MICRO|MACRO) for one video of aligned grey crops."""
    config = config or MdmdConfig()
    micro_max_frames = config.micro_max_s * fps
    intervals = []
    micro_k = max(1, int(round(config.micro_k_s * fps)))
    for onset, offset in spot_runs(mdmd_feature_curve(crops, micro_k, config.grid), config.p, micro_k):
        if offset - onset + 1 <= micro_max_frames:
            intervals.append((onset, offset, MICRO))
    macro_k = max(1, int(round(config.macro_k_s * fps)))
    for onset, offset in spot_runs(mdmd_feature_curve(crops, macro_k, config.grid), config.p, macro_k):
        if offset - onset + 1 > micro_max_frames:
            intervals.append((onset, offset, MACRO))
    return intervals
