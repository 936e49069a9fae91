"""A spotting baseline in the style of the MEGC 2020 MDMD method (main directional maximal difference).

Offline, per video (it needs the whole video's feature curve), after He et al.'s MEGC 2020 baseline code:
for each frame i, optical flow from frame i-k to i and from i-k to i+k on the aligned face crop; the crop is cut
into 6 x 6 blocks; in each block the vectors of the first flow are put into four direction quadrants, and for
the vectors of the fullest quadrant (the block's main direction) the difference |flow(i-k, i)| - |flow(i-k, i+k)|
is taken - large when frame i is the apex of a movement that is over by i+k; a block's value is the mean of
the top third of those differences, the frame's feature F(i) the mean of the top third of the blocks. The
contrast C(i) = F(i) - (F(i-m) + F(i+m)) / 2 with m = k-1 is thresholded at T = mean(C) + p (max(C) - mean(C));
runs of frames above T are the intervals, kept only when their length fits the class (the original's
delete_short/delete_long in MDMD_results/result_helper.py: 7-16 frames for MiE, 17 or more for MaE on
CAS(ME)^2 at 30 fps, here in seconds). It runs twice, with the MiE k (CAS(ME)^2: 12 frames at 30 fps =
0.4 s) giving MiE intervals and with the MaE k (39 frames = 1.3 s) giving MaE intervals; k is converted from
seconds to frames, so the same settings serve any frame rate.

The original used Dlib/DRMF-cropped faces and RLOF flow; here the same landmark alignment as the spotter and
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
    p: float = 0.01  # threshold position between mean and max of the contrast curve (best overall F1 on seed 1)
    micro_min_s: float = 7 / 30  # MiE runs shorter than this are dropped (7 frames at 30 fps)
    micro_max_s: float = 16 / 30  # ... and longer than this (16 frames)
    macro_min_s: float = 17 / 30  # MaE runs shorter than this are dropped (17 frames)
    grid: int = 6


def block_main_direction_means(flow: np.ndarray, grid: int, later: np.ndarray | None = None) -> np.ndarray:
    """(grid*grid,) per block: mean of the top third of |flow| - |later| over the flow's main-direction quadrant.

    Without ``later`` it is the mean of the top third of |flow| in the main direction.
    """
    h, w = flow.shape[:2]
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    if later is not None:
        magnitude = magnitude - np.hypot(later[..., 0], later[..., 1])
    quadrant = ((np.arctan2(flow[..., 1], flow[..., 0]) + np.pi) // (np.pi / 2)).astype(int) % 4
    values = np.empty(grid * grid)
    for by in range(grid):
        for bx in range(grid):
            ys, xs = slice(by * h // grid, (by + 1) * h // grid), slice(bx * w // grid, (bx + 1) * w // grid)
            q = quadrant[ys, xs].ravel()
            m = magnitude[ys, xs].ravel()
            counts = np.bincount(q, minlength=4)
            main = int(np.argmax(counts))
            selected = np.sort(m[q == main])[::-1]
            values[by * grid + bx] = selected[:max(1, round(len(selected) / 3))].mean()
    return values


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # None: OpenCV allocates the flow (its stubs type the argument as a required array; see mie/flow.py)
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)  # type: ignore[call-overload]


def mdmd_feature_curve(crops: list[np.ndarray], k: int, grid: int = 6) -> np.ndarray:
    """F(i) for every frame (0 where i-k or i+k is outside the video)."""
    curve = np.zeros(len(crops))
    top = max(1, round(grid * grid / 3))
    for i in range(k, len(crops) - k):
        blocks = block_main_direction_means(_flow(crops[i - k], crops[i]), grid, _flow(crops[i - k], crops[i + k]))
        curve[i] = np.sort(blocks)[::-1][:top].mean()
    return curve


def spot_runs(curve: np.ndarray, p: float, k: int) -> list[tuple[int, int]]:
    """Runs of frames whose contrast C(i) = F(i) - (F(i-m) + F(i+m)) / 2, m = k-1, exceeds
    mean(C) + p (max(C) - mean(C)): (first, last) frame indices."""
    m = max(k - 1, 1)
    first, last = k + m, len(curve) - k - m
    if last <= first:
        return []
    frames = np.arange(first, last)
    contrast = curve[frames] - (curve[frames - m] + curve[frames + m]) / 2.0
    threshold = contrast.mean() + p * (contrast.max() - contrast.mean())
    above = np.concatenate([[False], contrast > threshold, [False]])
    starts = np.flatnonzero(~above[:-1] & above[1:])
    ends = np.flatnonzero(above[:-1] & ~above[1:]) - 1
    return [(int(frames[s]), int(frames[e])) for s, e in zip(starts, ends)]


def mdmd_spot(crops: list[np.ndarray], fps: float, config: MdmdConfig | None = None
              ) -> list[tuple[int, int, str]]:
    """(onset frame, offset frame, MICRO|MACRO) for one video of aligned grey crops."""
    config = config or MdmdConfig()
    intervals = []
    lengths = {MICRO: (config.micro_min_s, config.micro_max_s), MACRO: (config.macro_min_s, float("inf"))}
    for k_s, kind in ((config.micro_k_s, MICRO), (config.macro_k_s, MACRO)):
        k = max(1, int(round(k_s * fps)))
        shortest, longest = lengths[kind]
        runs = spot_runs(mdmd_feature_curve(crops, k, config.grid), config.p, k)
        intervals += [(a, b, kind) for a, b in runs_of_length(runs, fps, shortest, longest)]
    return intervals


def runs_of_length(runs: list[tuple[int, int]], fps: float, shortest_s: float, longest_s: float
                   ) -> list[tuple[int, int]]:
    """The (first, last) frame runs lasting shortest_s..longest_s, counted in frames as the original does."""
    return [(a, b) for a, b in runs if shortest_s * fps - 1e-6 <= b - a + 1 <= longest_s * fps + 1e-6]
