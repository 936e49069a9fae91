"""Which frames the spotter's reference crop is averaged over (fea_ros/mie/reference.py)."""
from __future__ import annotations

import numpy as np

from fea_ros.mie.alignment import FaceAligner
from fea_ros.mie.flow import CHANNEL_NAMES, RegionBoxes
from fea_ros.mie.reference import averaged_crop, sliding_reference
from fea_ros.mie.track import Sample, Track

FRAME_NS = 30_000_000  # frames 30 ms apart: none falls on the edge of REFERENCE_MEAN_S (0.1 s)
REST = 2.4  # REST_FRACTION x threshold_sigma of the defaults


def _sample(index: int, value: int, level: float = 0.0, blink: bool = False) -> Sample:
    boxes = RegionBoxes(boxes=np.zeros((1, 4), int), centres=np.zeros((1, 2)), reference=[])
    return Sample(stamp_ns=index * FRAME_NS, crop=np.full((8, 8), value, np.uint8), regions=boxes,
                  interocular_px=60.0, blink=blink, effective=np.full(len(CHANNEL_NAMES), level))


def _track(samples: list[Sample]) -> Track:
    track = Track(aligner=FaceAligner(), first_ns=0)
    track.samples.extend(samples)
    return track


def test_the_reference_crop_is_the_mean_of_the_frames_at_rest_up_to_it():
    samples = [_sample(i, 100 + 4 * i) for i in range(12)]
    track = _track(samples)
    reference = sliding_reference(track, samples[-1].stamp_ns, 0.3)
    assert reference is samples[1]  # the last frame at least 0.3 s before the newest one
    # frames 6, 7 and 8 are in the 0.1 s before frame 9; frame 5 is not
    assert averaged_crop(track, samples[9], REST)[0, 0] == (124 + 128 + 132 + 136) / 4


def test_frames_moving_blinking_or_before_the_last_event_are_left_out_of_the_mean():
    samples = [_sample(0, 10), _sample(1, 20), _sample(2, 30, blink=True), _sample(3, 40, level=3.0),
               _sample(4, 50)]
    track = _track(samples)
    reference = samples[4]
    # frame 1 is within 0.1 s; frame 2 blinks and frame 3 was moving (above the rest level)
    assert averaged_crop(track, reference, REST)[0, 0] == 35  # mean of frames 1 and 4
    reference.averaged = None
    track.floor_ns = samples[2].stamp_ns  # an event ended at frame 2: nothing before it
    assert averaged_crop(track, reference, REST) is reference.crop


def test_the_averaged_crop_is_computed_once_per_reference():
    samples = [_sample(0, 10), _sample(1, 20)]
    track = _track(samples)
    first = averaged_crop(track, samples[1], REST)
    samples[0].crop[:] = 200  # a later change to an older frame does not move a reference already in use
    assert averaged_crop(track, samples[1], REST) is first and first[0, 0] == 15
