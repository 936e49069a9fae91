"""Which earlier frame a face's flow is measured against, and the crop it gives.

The reference is the frame ``flow_offset_s`` before the current one while the face is at rest (the spotter freezes
it once a movement starts). Blink frames never serve: right after a blink the last open-eye frame before it does.
Its crop is averaged with those of the frames at rest just before it, so one frame's codec and sensor noise
weighs less in every flow measured against it.
"""
from __future__ import annotations

import numpy as np

from fea_ros.mie.track import Sample, Track

#: how much older than flow_offset_s the open-eye frame before a blink may be to serve as the reference
BLINK_REFERENCE_S = 0.6
#: the reference crop is the mean of the frames at rest over this long up to it (four frames at 30 fps): the JPEG
#: blocking, sensor noise and landmark jitter of a single frame then weigh less in every flow measured against it
#: (the spotter keeps its frames this long before the sliding reference)
REFERENCE_MEAN_S = 0.1


def sliding_reference(track: Track, stamp_ns: int, flow_offset_s: float) -> Sample | None:
    """The frame ``flow_offset_s`` before ``stamp_ns`` (or the oldest one kept), never a blink frame nor one from
    before the last event."""
    target = stamp_ns - int(flow_offset_s * 1e9)
    # a frame taken during a blink would make every later frame look like an eye opening
    usable = [sample for sample in track.samples if sample.stamp_ns >= track.floor_ns and not sample.blink]
    older = [sample for sample in usable if sample.stamp_ns <= target]
    if older:
        return older[-1]
    # right after a blink every frame of the last flow_offset_s was a blink frame: compare with the last
    # open-eye frame before it, so a movement that started under the blink (an AU5 or AU4 next to it) is
    # still seen against the face before it
    before = track.before_blink
    if before is not None and before.stamp_ns >= track.floor_ns \
            and stamp_ns - before.stamp_ns <= (flow_offset_s + BLINK_REFERENCE_S) * 1e9:
        return before
    return usable[0] if usable else None


def averaged_crop(track: Track, reference: Sample, rest_level: float) -> np.ndarray:
    """The reference's crop averaged with those of the frames in the REFERENCE_MEAN_S before it that were at rest
    (every channel's start statistic below ``rest_level``: a frame from a movement's tail would keep the next
    movement from returning to zero), outside blinks and after the last event; computed once per reference."""
    if reference.averaged is None:
        earliest = max(reference.stamp_ns - int(REFERENCE_MEAN_S * 1e9), track.floor_ns)
        crops = [reference.crop]
        for sample in reversed(track.samples):  # newest first: stop at the first frame too old
            if sample.stamp_ns < earliest:
                break
            if sample.stamp_ns < reference.stamp_ns and not sample.blink and sample.effective is not None \
                    and float(sample.effective.max()) < rest_level:
                crops.append(sample.crop)
        # a sum in uint16 and one float32 division: half the time of np.mean's float64, and the same pixels
        # (np.rint rounds half to even as np.round does; k / n of a few frames is never near a tie by accident)
        reference.averaged = (np.rint(np.sum(crops, axis=0, dtype=np.uint16) / np.float32(len(crops)))
                              .astype(np.uint8) if len(crops) > 1 else reference.crop)
    return reference.averaged
