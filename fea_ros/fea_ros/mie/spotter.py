"""Streaming micro/macro-expression spotter, one state per tracked face.

Per frame and face: align the face (alignment.py), measure the optical flow from a reference crop (an earlier
frame's, averaged with the frames at rest just before it: reference.py) to the current crop, take the rigid head
motion out and average the flow in each facial region (flow.py). Each region's displacement is divided by that
face's own noise level (a running mean of the displacement while nothing happens), giving a z-score. A movement
starts when a region's z-score crosses ``threshold_sigma`` (an eye region's also when it stays above
``SUSTAIN_FRACTION`` of it for ``SUSTAIN_S``) against a reference frame in which that region was at rest
(``REST_FRACTION``); the reference crop is then frozen (so the signal is the displacement since before the
movement) and the movement ends when every region is back near rest. Onset and offset are where the signal
leaves and re-enters ``max(low_sigma, edge_fraction * peak)``. The event is emitted ``window_s`` after its
offset, so the delay from offset to publication is at most ``window_s`` plus one frame interval; a movement
lasting longer than ``max_event_s`` is closed and emitted at that point.

Blinks: frames where the eyes are closing (eye aspect ratio from the landmarks, or the blink action unit when
action units are given) and 0.1 s around them never serve as a reference. An eye region starts an event only
when its lid moves up against a reference with open eyes (an upper-lid raise; a blink moves it down), and never
during a blink; near a blink a brow region that goes down needs ``BLINK_BROW_FACTOR`` times the threshold, so an
AU4 that starts next to a blink is still found while the small pull of the lid on the brow is not (a brow that goes
up, AU1 or AU1+2, cannot be the lid's pull and needs the plain threshold: ``blink_scale``). Once a movement
has fallen below half its peak, a brow in it counts near a blink only what is left along the direction it started
moving in, so the lid's pull does not hold the movement open (``along_start``).

Faces that cannot be measured: a face with more than ``max_outside_fraction`` of its mesh points outside the
image, or whose stable points do not fit the alignment template (``max_alignment_residual``), is not measured
in that frame and its state starts afresh (as for a covered face); and a region motion that a similarity of the
whole face explains (the face sliding against its crop) never starts an event.
"""
from __future__ import annotations

import logging

import numpy as np

from fea_ros.core.config import MieConfig
from fea_ros.core.errors import ConfigError, InputError
from fea_ros.core.types import ActionUnits, Landmarks, MicroExpressionEvent
from fea_ros.mie.alignment import FaceAligner, outside_fraction
from fea_ros.mie.blinks import along_start, blink_scale, blinking, mark_blink
from fea_ros.mie.events import event_level, make_event, median
from fea_ros.mie.flow import (BROW_REGIONS, CHANNEL_NAMES, CHANNEL_REGIONS, EYE_REGIONS, REGION_NAMES,
                              BoxRefiner, FlowEstimator, RegionBoxes, channel_motion, region_boxes,
                              region_motion, similarity_residual)
from fea_ros.mie.reference import BLINK_REFERENCE_S, REFERENCE_MEAN_S, averaged_crop, sliding_reference
from fea_ros.mie.speech import SPEECH_WINDOW_S, LipActivity
from fea_ros.mie.track import BLINK_MARGIN_S, BROW_MASK, EYE_MASK, Record, Sample, Track, unit_rows

log = logging.getLogger(__name__)

#: face part of each channel: a second movement is one in a part that was not moving
_PART = tuple("upper" if any(r in BROW_REGIONS or r in EYE_REGIONS for r in regions) else "lower"
              for regions in CHANNEL_REGIONS)
MIN_NOISE_PX = 0.02
END_SMOOTHING_S = 0.04
LID_DOMINANCE = 1.5
#: share of an eyelid's flow that shows in the brow region above it (DIS smooths over its patch size)
LID_BLEED = 0.5
LID_BLEED_INNER = 0.6  # the inner brow box reaches closer to the lid
#: rows of the (R, 2) region motion / channels of the same side: right, left
_BROW_ROWS = [REGION_NAMES.index(name) for name in BROW_REGIONS]
_LID_ROWS = [REGION_NAMES.index(name.replace("brow_inner", "eye").replace("brow", "eye")) for name in BROW_REGIONS]
_EYE_ROWS = [REGION_NAMES.index(name) for name in EYE_REGIONS]
#: the regions below the eyes (all but the brows and eyes): refined at full resolution in every frame
_LOWER_ROWS = [i for i, name in enumerate(REGION_NAMES) if name not in BROW_REGIONS + EYE_REGIONS]
_BROW_CHANNELS = [CHANNEL_NAMES.index(name) for name in BROW_REGIONS]
_BLEED = np.array([LID_BLEED_INNER if "inner" in name else LID_BLEED for name in BROW_REGIONS])
_EYE_CHANNELS = [CHANNEL_NAMES.index(name) for name in EYE_REGIONS]
_LID_CHANNELS = [CHANNEL_NAMES.index(REGION_NAMES[row]) for row in _LID_ROWS]
_NOT_EYE = ~EYE_MASK
#: region rows of a face part that moves as a whole, and its channels: judged against a fit without those rows
_OWN_FIT = [(np.isin(np.arange(len(REGION_NAMES)), rows), mask)
            for rows, mask in ((_EYE_ROWS, EYE_MASK), (_BROW_ROWS, BROW_MASK))]
_EYE_OR_BROW = EYE_MASK | BROW_MASK
#: channels of the lips alone (upper lip, lower lip, the two together): what speech moves
_LIP_MASK = np.array([all(r in ("upper_lip", "lower_lip") for r in regions) for regions in CHANNEL_REGIONS])
_NO_SCALE = np.ones(len(CHANNEL_NAMES))
_NOT_DECAYING = np.zeros(len(CHANNEL_NAMES))
#: a start also needs this fraction of the threshold after a similarity of the face is taken out (eye channels:
#: EYE_LOCAL_FRACTION; see _local for which regions the similarity is fitted to)
LOCAL_FRACTION = 0.5
EYE_LOCAL_FRACTION = 0.75
_LOCAL_SHARE = np.where(EYE_MASK, EYE_LOCAL_FRACTION, LOCAL_FRACTION)
#: a region starting to move after the event's level fell below this fraction of its peak is a second movement
SPLIT_FRACTION = 0.5
#: a movement only starts against a reference frame in which the starting channels were below this fraction of
#: the threshold: a reference taken at a movement's apex would make its way back to rest look like a movement
#: (and, frozen, keep the event open until max_event_s)
REST_FRACTION = 0.6
#: an eye channel also starts a movement when it stays above this fraction of the threshold for SUSTAIN_S (two
#: frames at 30 fps): an upper-lid raise moves the lid by about 1 px but lasts at least 0.1 s, while a lid going up
#: (the only way an eye channel may start one, never near a blink) rarely stays that high by chance. Not the brows:
#: they move with speech, and a face talking gave brow events this way (docs/mie.md, "Sustained start")
SUSTAIN_FRACTION = 0.6
SUSTAIN_S = 0.03
_SUSTAINABLE = EYE_MASK


class MieSpotter:
    """``update()`` once per frame and tracked face; it returns the events that ended ``window_s`` ago."""

    def __init__(self, config: MieConfig | None = None) -> None:
        self.config = config or MieConfig()
        c = self.config
        if c.flow_offset_s <= 0 or c.window_s < 0 or c.max_event_s <= c.micro_max_s:
            raise ConfigError("mie.flow_offset_s must be > 0, mie.window_s >= 0 and mie.max_event_s > "
                              "mie.micro_max_s")
        if c.threshold_sigma <= c.low_sigma:
            raise ConfigError(f"mie.threshold_sigma ({c.threshold_sigma}) must exceed mie.low_sigma "
                              f"({c.low_sigma})")
        # no variational refinement in DIS (0.4 of its 0.9 ms per crop, scripts/flow_cost.py): the eye boxes and
        # the face below them are refined at full resolution instead (BoxRefiner); with both, a few more small
        # movements were found on the benchmark, for 1.3 x the CPU time of this (docs/mie.md, Flow)
        self._flow = FlowEstimator(refinement_iterations=0)
        self._refiner = BoxRefiner()
        self._tracks: dict[str, Track] = {}

    def reset(self) -> None:
        self._tracks.clear()

    def drop(self, face_id: str) -> None:
        self._tracks.pop(face_id, None)

    @property
    def face_ids(self) -> tuple[str, ...]:
        return tuple(self._tracks)

    def update(self, face_id: str, stamp_ns: int, image_bgr: np.ndarray, landmarks: Landmarks | None,
               action_units: ActionUnits | None = None) -> list[MicroExpressionEvent]:
        if landmarks is None:
            return []
        c = self.config
        if outside_fraction(landmarks.points, image_bgr.shape) > c.max_outside_fraction:
            # cut by the image edge: the crop would hold replicated border pixels that move with the head
            self._tracks.pop(face_id, None)
            return []
        track = self._tracks.get(face_id)
        if track is not None and stamp_ns <= track.last_ns:
            track = None  # time went backwards (bag loop): start this face afresh
        if track is None:
            # the lips' frames at rest are kept as far back as the oldest reference can lie, plus the window
            lips = LipActivity(SPEECH_WINDOW_S + c.flow_offset_s + BLINK_REFERENCE_S)
            track = Track(FaceAligner(self.config.crop_px), stamp_ns, lips=lips)
            self._tracks[face_id] = track
        track.last_ns = stamp_ns
        try:
            face = track.aligner.align(image_bgr, landmarks.points)
        except InputError as exc:
            log.debug("face %s skipped by the MiE spotter at %d ns: %s", face_id, stamp_ns, exc)
            return []
        if face.residual > c.max_alignment_residual:
            # turned out of plane or badly meshed: the crop does not show the same face geometry
            self._tracks.pop(face_id, None)
            return []
        blink = blinking(track, face.points, action_units, c.blink_ear_ratio)
        if blink:
            mark_blink(track, stamp_ns)
        eyes_busy = blink or (stamp_ns - track.last_blink_ns) * 1e-9 <= BLINK_MARGIN_S
        sample = Sample(stamp_ns, face.crop, region_boxes(face.points, face.interocular_px, face.crop.shape[0]),
                         face.interocular_px, eyes_busy)
        au = None
        if action_units is not None:
            track.au_numbers = tuple(action_units.au_numbers)
            au = np.asarray(action_units.intensities, dtype=np.float64)
        reference = track.frozen or sliding_reference(track, stamp_ns, c.flow_offset_s)
        track.samples.append(sample)
        self._trim(track, stamp_ns)
        if reference is None:
            return []
        reference_crop = averaged_crop(track, reference, REST_FRACTION * c.threshold_sigma)
        flow = self._flow(reference_crop, sample.crop)
        motion = region_motion(flow, reference.regions)
        if track.noise is None:
            first = channel_motion(motion)
            track.noise = np.maximum(np.hypot(first[:, 0], first[:, 1]), MIN_NOISE_PX)
        speed = np.hypot(motion[:, 0], motion[:, 1])
        eye_z = speed[_EYE_ROWS] / track.noise[_EYE_CHANNELS]
        # an eyelid coming down much more than the brows move is a blink starting before the eye aspect ratio
        # shows it (a lid going up is an upper-lid raise)
        closing = float((eye_z * (motion[_EYE_ROWS, 1] > 0)).max())
        brow_z = float((speed[_BROW_ROWS] / track.noise[_BROW_CHANNELS]).max())
        lids_dominate = closing >= c.threshold_sigma and closing > LID_DOMINANCE * brow_z
        near_blink = bool(eyes_busy or reference.blink or lids_dominate)
        # what DIS saw of the lids: its smoothing is what drags the brows along (below)
        lid_flow = motion[_LID_ROWS].copy()
        if not near_blink:
            # an upper-lid raise moves the lid by a fraction of a crop pixel, which the half-resolution flow
            # blurs: the eye boxes' motion is refined at full resolution (not near a blink, whose closing lid
            # changes the eye's appearance in a way no translation explains)
            motion[_EYE_ROWS] += self._refiner(reference_crop, sample.crop, flow, reference.regions.boxes[_EYE_ROWS])
        # below the eyes too: a one-sided lip-corner pull or nose wrinkle moves a fraction of its box by a
        # fraction of a crop pixel
        motion[_LOWER_ROWS] += self._refiner(reference_crop, sample.crop, flow,
                                             reference.regions.boxes[_LOWER_ROWS])
        if lids_dominate and not sample.blink:
            # a blink the flow sees before (or without) the landmarks: its frames are no reference either
            mark_blink(track, stamp_ns)
        # the flow is smooth over a few pixels, so a moving lid (a blink, an upper-lid raise) drags the flow of
        # the brow just above it along; that part (a fixed share of the lid's motion) is not the brow's own
        # (a brow that leads drags the lid instead: then nothing is taken off)
        # (only for a lid that really moves: at rest the subtraction would just add the lid's noise)
        lid_led = (speed[_LID_ROWS] > speed[_BROW_ROWS]) & (
            speed[_LID_ROWS] >= c.threshold_sigma * track.noise[_LID_CHANNELS])
        # (region_motion returned a fresh array: it is changed in place)
        raw = channel_motion(motion) if near_blink else None
        motion[_BROW_ROWS] -= (_BLEED * lid_led)[:, None] * lid_flow
        vectors = channel_motion(motion)
        magnitude = np.hypot(vectors[:, 0], vectors[:, 1])
        if raw is not None and track.frozen is not None and track.active is not None and track.direction is not None \
                and event_level(track.history[-1].z, track.active) < SPLIT_FRACTION * track.peak_z:
            # a blink as a movement decays (below half its peak): the brows in it count only what is left along the
            # direction they started moving in, so the lid's pull does not hold the movement open (along_start)
            magnitude = np.where(track.active & BROW_MASK, along_start(raw, vectors, track.direction), magnitude)
        z = magnitude / track.noise
        if raw is not None:
            allowed, scale = _NOT_EYE, blink_scale(raw, vectors)
        else:
            # a lid that moved up against an open-eye reference is an upper-lid raise (a blink moves it down)
            allowed = _NOT_EYE | (EYE_MASK & (vectors[:, 1] < 0) & (-vectors[:, 1] >= np.abs(vectors[:, 0])))
            scale = _NO_SCALE
        # a disturbance of the whole face (a blink shifting the mesh, a fast head shift) raises every channel;
        # only what a channel rises above that common level counts
        common = max(0.0, median(z[_NOT_EYE]) - 1.0)
        effective = (z - common) / scale
        candidate = float(effective[allowed].max())
        sample.effective = effective
        track.history.append(Record(stamp_ns, z, motion, candidate, near_blink, au, common, scale))
        warm = (stamp_ns - track.first_ns) * 1e-9 >= c.warmup_s
        if track.frozen is None:
            # a blink is not the eye region's noise: learning from it would raise the level an upper-lid
            # raise or a brow movement must reach
            self._learn_noise(track, magnitude, stamp_ns, _EYE_OR_BROW if near_blink else None)
            above = allowed & _SUSTAINABLE & (effective >= SUSTAIN_FRACTION * c.threshold_sigma)
            starting, need = self._starting(track, stamp_ns, allowed & (effective >= c.threshold_sigma), above)
            settled = reference.effective is None or bool(
                (reference.effective[starting] < REST_FRACTION * c.threshold_sigma).all())
            track.lips.add(stamp_ns, float(effective[_LIP_MASK].max()))
            if warm and starting.any() and settled \
                    and self._local(motion, reference.regions, track.noise, starting, need) \
                    and not (bool(_LIP_MASK[starting].all()) and self._talking(track, reference.stamp_ns)):
                track.frozen = reference
                track.detected_ns = stamp_ns
                self._arm(track, starting, vectors)
            return []
        return self._follow(face_id, track, stamp_ns)

    def _starting(self, track: Track, stamp_ns: int, crossing: np.ndarray, above: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The channels that start a movement in this frame, and the level each had to reach.

        ``crossing``: the channels at the threshold; ``above``: the eye channels above SUSTAIN_FRACTION of it,
        which start one once they have stayed there for SUSTAIN_S.
        """
        since = track.above_since if track.above_since is not None else np.full(len(above), -1, dtype=np.int64)
        track.above_since = np.where(above, np.where(since >= 0, since, stamp_ns), -1)
        sustained = above & (stamp_ns - track.above_since >= int(SUSTAIN_S * 1e9))
        threshold = self.config.threshold_sigma
        return crossing | sustained, np.where(crossing, threshold, SUSTAIN_FRACTION * threshold)

    def _talking(self, track: Track, reference_ns: int) -> bool:
        """Whether the lips kept moving at rest in the second before the reference (speech.py).

        A face talking moves its lips all the time: a movement of the lips alone is then speech, not an event.
        The frames after the (settled) reference are the movement's own rise and are not counted.
        """
        share = self.config.speech_share
        return 0 < share <= track.lips.share(reference_ns)

    def _local(self, motion: np.ndarray, regions: RegionBoxes, noise: np.ndarray, starting: np.ndarray,
               need: np.ndarray) -> bool:
        """Whether a starting channel stays above (a share of) the level it reached, ``need``, once a similarity
        of the face is taken out.

        What a similarity explains is the face sliding against its crop, not a movement of the face.
        """
        local = np.linalg.norm(channel_motion(similarity_residual(motion, regions.centres)), axis=1) / noise
        # the eyes and the brows each against a similarity of the rest of the face: both lids rising, or both
        # brows lowering and drawing together, would pull a fit over all regions along with them
        for rows, channels in _OWN_FIT:
            own = channel_motion(similarity_residual(motion, regions.centres, ~rows))[channels]
            local[channels] = np.linalg.norm(own, axis=1) / noise[channels]
        # (the channels that start it: a part's own fit reads the other parts' movements as its own)
        return bool((starting & (local >= _LOCAL_SHARE * need)).any())

    @staticmethod
    def _arm(track: Track, active: np.ndarray, vectors: np.ndarray) -> None:
        track.below_since_ns = None
        track.peak_z = 0.0
        track.level = None
        track.raw_below_ns = None
        track.trough = float("inf")
        track.active = np.asarray(active, dtype=bool)
        track.started = active.copy()
        track.direction = unit_rows(vectors)
        track.above_since = None  # a new count after the movement

    def _trim(self, track: Track, stamp_ns: int) -> None:
        keep_samples = int((self.config.flow_offset_s + REFERENCE_MEAN_S) * 1e9)
        while len(track.samples) > 2 and stamp_ns - track.samples[1].stamp_ns > keep_samples:
            track.samples.popleft()
        keep_history = int((self.config.max_event_s + self.config.flow_offset_s + 1.0) * 1e9)
        while track.history and stamp_ns - track.history[0].stamp_ns > keep_history:
            track.history.popleft()

    def _learn_noise(self, track: Track, magnitude: np.ndarray, stamp_ns: int, hold: np.ndarray | None) -> None:
        """Running mean of each channel's displacement at rest; channels in ``hold`` keep their level."""
        noise = track.noise
        if len(track.history) < 2 or noise is None:
            return
        dt = (stamp_ns - track.history[-2].stamp_ns) * 1e-9
        track.noise_updates += 1
        # a plain running mean until the time constant is reached, so the first frames do not dominate
        alpha = max(1.0 - np.exp(-max(dt, 0.0) / self.config.noise_time_constant_s), 1.0 / track.noise_updates)
        # outliers (the start of a slow movement) enter at most at twice the current level
        clipped = np.minimum(magnitude, 2.0 * noise)
        updated = np.maximum((1 - alpha) * noise + alpha * clipped, MIN_NOISE_PX)
        track.noise = updated if hold is None else np.where(hold, noise, updated)

    def _follow(self, face_id: str, track: Track, stamp_ns: int) -> list[MicroExpressionEvent]:
        c = self.config
        current = track.history[-1]
        if track.active is None:  # _follow runs only during an event, which always has its channels
            return []
        scale = current.scale if current.scale is not None else 1.0
        # (a channel of a movement that a split closed is still decaying against the same reference: it joins
        # only once it rises above where it was then)
        effective = (current.z - current.common) / scale
        joining = (effective >= np.maximum(c.threshold_sigma, track.decaying)) & ~EYE_MASK
        # a region that had not moved yet, crossing the threshold while the event decays, is a new movement
        # (a region of a face part that is already moving is the same movement spreading)
        moving_parts = {_PART[i] for i in np.flatnonzero(track.active)}
        newcomers = joining & ~track.active & np.array([part not in moving_parts for part in _PART])
        vectors = channel_motion(current.motion)
        track.join(joining, vectors)
        # only the channels that moved decide when the movement is over: the maximum of all the others
        # would keep crossing a low level by chance
        level = event_level(current.z, track.active)
        if level > track.peak_z:
            track.peak_z, track.trough = level, float("inf")
        elif level < track.trough:
            track.trough, track.trough_ns = level, stamp_ns
        edge = max(c.low_sigma, c.edge_fraction * track.peak_z)
        # the end is judged on a lightly smoothed level, so single noisy frames (many at 100-200 fps) do not
        # keep an event open
        dt = (stamp_ns - track.history[-2].stamp_ns) * 1e-9 if len(track.history) > 1 else 0.0
        alpha = 1.0 - np.exp(-dt / END_SMOOTHING_S) if track.level is not None else 1.0
        track.level = level if track.level is None else (1 - alpha) * track.level + alpha * level
        if level >= edge:
            track.raw_below_ns = None
        elif track.raw_below_ns is None:
            track.raw_below_ns = stamp_ns
        if track.level < edge:
            if track.below_since_ns is None:
                # the offset is where the raw signal went down, not where the smoothed one followed
                raw = track.raw_below_ns if track.raw_below_ns is not None else stamp_ns
                # never so far back that the delay bound (window_s after the offset) is already past
                track.below_since_ns = max(raw, stamp_ns - int(c.window_s * 1e9))
        else:
            track.below_since_ns = None
        window_ns = int(c.window_s * 1e9)
        # a second movement rising out of the first one's decay, before it got back to rest
        split = bool(newcomers.any()) and track.trough <= SPLIT_FRACTION * track.peak_z
        ended = track.below_since_ns is not None and stamp_ns - track.below_since_ns >= window_ns
        forced = (stamp_ns - track.detected_ns) * 1e-9 >= c.max_event_s
        if not (ended or forced or split):
            return []
        if ended and track.below_since_ns is not None:
            offset_ns = track.below_since_ns
        elif split:
            offset_ns = max(track.trough_ns, stamp_ns - window_ns)
        else:
            offset_ns = stamp_ns
        event = make_event(c, face_id, track, offset_ns, edge, stamp_ns)
        events = [event] if event is not None else []
        if split:
            # the reference stays (the face had not settled); the next onset is traced back no further
            # than the trough between the two movements
            track.floor_ns = offset_ns
            track.detected_ns = stamp_ns
            decaying = np.maximum(track.decaying, np.where(track.active & ~newcomers, effective, 0.0))
            self._arm(track, newcomers, vectors)
            track.decaying = decaying
            return events
        track.frozen = None
        track.decaying = _NOT_DECAYING
        track.below_since_ns = None
        # the next reference is a frame after this event settled, never one from its tail; a movement cut at
        # max_event_s re-arms at once (the reference is the current frame)
        track.floor_ns = stamp_ns
        return events
