"""Stage 2: stable face ids across frames.

Each track predicts where its face will be (constant velocity of the box), detections are assigned to
tracks by the Hungarian method on a cost of (1 - IoU) plus the normalised keypoint distance, and a pair
whose IoU is below ``min_iou`` is never matched. A new track is tentative until it has been seen in
``confirm_frames`` frames; a tentative track that misses a frame is dropped (a one-frame false positive
never gets an id that is reported), a confirmed one after ``drop_frames`` consecutive misses.

Ids are "f1", "f2", ... in order of creation, so the same input always gives the same ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from fea_ros.core.config import TrackingConfig
from fea_ros.core.detection import box_iou
from fea_ros.core.types import Detection, Track

#: weight of the keypoint term in the matching cost; keypoints separate overlapping faces, which IoU cannot
KEYPOINT_WEIGHT = 0.5
#: cost of an impossible pair, far above any feasible cost (at most 1 + KEYPOINT_WEIGHT)
INFEASIBLE = 1e6
#: a missed face may be found again this far (in face sizes) from where it was or was predicted to be:
#: START + GROWTH per missed frame, at most MAX
MISSED_RADIUS_START = 0.4
MISSED_RADIUS_GROWTH = 0.1
MISSED_RADIUS_MAX = 1.5
#: ... if the new box is no more than this much larger or smaller
MAX_SIZE_RATIO = 1.5


@dataclass
class _TrackState:
    track: Track
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre px per frame
    seen_now: bool = False

    def predicted_detection(self) -> tuple[np.ndarray, np.ndarray]:
        """Box and keypoints moved by the velocity times the frames since the face was last seen."""
        shift = np.zeros(2) if self.seen_now else self.velocity * (self.track.misses + 1)
        det = self.track.detection
        return det.box + np.tile(shift, 2), det.keypoints + shift


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _inside(point: np.ndarray, box: np.ndarray) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


class FaceTracker:
    """Assigns detections to tracks frame by frame; all state is in this object."""

    def __init__(self, config: TrackingConfig, max_tracks: int | None = None) -> None:
        self.config = config
        #: no new track starts while this many are alive (detection.max_faces): a face followed through its
        #: mesh is not counted by the detector, so the detector's own limit is not enough
        self.max_tracks = max_tracks
        self._states: list[_TrackState] = []
        self._next_id = 1
        #: track id -> the detector's detection assigned to it in the last update (followed tracks included)
        self.matched: dict[str, Detection] = {}

    def reset(self) -> None:
        self._states = []
        self._next_id = 1
        self.matched = {}

    @property
    def tracks(self) -> list[Track]:
        """Every live track (tentative and confirmed), in creation order."""
        return [s.track for s in self._states]

    def cost_matrix(self, states: list[_TrackState], detections: list[Detection]) -> np.ndarray:
        cost = np.full((len(states), len(detections)), INFEASIBLE)
        if not states or not detections:
            return cost
        det_boxes = np.stack([d.box for d in detections])
        det_centres = (det_boxes[:, :2] + det_boxes[:, 2:]) / 2
        det_sizes = (det_boxes[:, 2:] - det_boxes[:, :2]).max(axis=1)
        for row, state in enumerate(states):
            box, keypoints = state.predicted_detection()
            last = state.track.detection.box
            # A face that stopped while hidden is where it was last seen, not where its velocity points.
            iou = np.maximum(box_iou(box, det_boxes), box_iou(last, det_boxes))
            size = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
            feasible = iou >= self.config.min_iou
            misses = state.track.misses
            if misses:
                # A hidden face's velocity is a guess (boxes shrink and shift as it is covered), so after
                # a miss a face of the same size near its predicted or last position may also continue it,
                # within a radius that grows with the time it was hidden.
                distance = np.minimum(np.linalg.norm(det_centres - _centre(box), axis=1),
                                      np.linalg.norm(det_centres - _centre(last), axis=1)) / size
                radius = min(MISSED_RADIUS_START + MISSED_RADIUS_GROWTH * misses, MISSED_RADIUS_MAX)
                ratio = det_sizes / size
                feasible |= (distance <= radius) & (ratio >= 1 / MAX_SIZE_RATIO) & (ratio <= MAX_SIZE_RATIO)
            for col in np.flatnonzero(feasible):
                spread = float(np.linalg.norm(detections[col].keypoints - keypoints, axis=1).mean()) / size
                cost[row, col] = (1.0 - iou[col]) + KEYPOINT_WEIGHT * min(spread, 1.0)
        return cost

    def update(self, detections: list[Detection],
               continued: dict[str, Detection] | None = None) -> list[Track]:
        """Advance one frame; returns the tracks seen in this frame (tentative ones included).

        ``continued`` gives tracks already followed in this frame by other means (the face mesh run on
        the crop predicted from the previous landmarks): they keep that detection and are not matched,
        but a detector box that overlaps one of them is absorbed instead of starting a duplicate track.
        """
        continued = continued or {}
        self.matched = {}
        for state in self._states:
            state.seen_now = False
        followed = [s for s in self._states if s.track.track_id in continued]
        for state in followed:
            self._hit(state, continued[state.track.track_id])
        free = [s for s in self._states if s.track.track_id not in continued]
        unmatched = list(range(len(detections)))
        if detections and (free or followed):
            candidates = free + followed
            cost = self.cost_matrix(candidates, detections)
            rows, cols = linear_sum_assignment(cost)
            for row, col in zip(rows, cols):
                if cost[row, col] >= INFEASIBLE:
                    continue
                unmatched.remove(col)
                self.matched[candidates[row].track.track_id] = detections[col]
                if row < len(free):
                    self._hit(free[row], detections[col])
        seen_boxes = [s.track.detection.box for s in self._states if s.seen_now]
        for col in unmatched:
            if self.max_tracks is not None and len(self._states) >= self.max_tracks:
                break
            if any(_inside(_centre(detections[col].box), box) for box in seen_boxes):
                continue  # a second box on a face already tracked in this frame, not a new face
            self.matched[self._start(detections[col])] = detections[col]
        survivors = []
        for state in self._states:
            track = state.track
            track.age += 1
            if not state.seen_now:
                track.misses += 1
                if not track.confirmed or track.misses >= self.config.drop_frames:
                    continue
            survivors.append(state)
        self._states = survivors
        return [s.track for s in self._states if s.seen_now]

    def refine(self, track_id: str, detection: Detection) -> None:
        """Replace the detection of a track seen in this frame by a better one of the same face."""
        for state in self._states:
            if state.track.track_id == track_id and state.seen_now:
                state.track.detection = detection

    def _hit(self, state: _TrackState, detection: Detection) -> None:
        track = state.track
        steps = track.misses + 1
        new_velocity = (_centre(detection.box) - _centre(track.detection.box)) / steps
        # A light low-pass keeps one noisy box from throwing the prediction off.
        state.velocity = 0.5 * state.velocity + 0.5 * new_velocity if track.hits > 1 else new_velocity
        track.detection = detection
        track.hits += 1
        track.misses = 0
        track.confirmed = track.confirmed or track.hits >= self.config.confirm_frames
        state.seen_now = True

    def _start(self, detection: Detection) -> str:
        track = Track(track_id=f"f{self._next_id}", detection=detection, age=-1, hits=1, misses=0,
                      confirmed=self.config.confirm_frames <= 1)
        self._next_id += 1
        self._states.append(_TrackState(track=track, seen_now=True))
        return track.track_id
