#!/usr/bin/env python3
"""What reading a bag costs before the pipeline: CDR deserialisation vs image decode, per message.

    python fea_ros/scripts/bag_decode_cost.py [BAG] [--rounds N]

Reads every image message of the bag (default: the bundled 3-face sample) through BagImageReader (mcap/sqlite
read + rosbags CDR deserialisation) and turns it into BGR with message_to_bgr (JPEG decode for
CompressedImage), timing both with the CPU clock of this thread; prints one line per round. It tells whether
a cheaper CDR decode could speed up `fea-ros replay`: only if the first number is a sizeable share of the
pipeline's CPU time per frame (fea-ros bench, CPU ms/frame).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from fea_ros.bag.reader import BagImageReader
from fea_ros.core.image_msg import message_to_bgr

DEFAULT_BAG = Path(__file__).resolve().parents[1] / "samples" / "bags" / "faces3_mcap"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", nargs="?", type=Path, default=DEFAULT_BAG)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for round_number in range(1, args.rounds + 1):
        wall, count, read_s, decode_s = time.perf_counter(), 0, 0.0, 0.0
        with BagImageReader(args.bag) as reader:
            messages = iter(reader)
            while True:
                start = time.thread_time()
                message = next(messages, None)
                read_s += time.thread_time() - start
                if message is None:
                    break
                start = time.thread_time()
                image = message_to_bgr(message.message)
                decode_s += time.thread_time() - start
                count += 1
        wall = time.perf_counter() - wall
        print(f"round {round_number}: {count} messages ({reader.msgtype}, {image.shape[1]}x{image.shape[0]}), "
              f"per message: read + CDR {read_s / count * 1e3:.2f} ms CPU, to BGR {decode_s / count * 1e3:.2f} ms CPU, "
              f"wall {wall / count * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
