"""The iBUG-68 (Multi-PIE / 300-W) landmark layout taken from the MediaPipe face mesh.

Starting point: the MediaPipe -> ROS4HRI mapping of PAL Robotics' hri_face_detect (Apache-2.0,
https://github.com/ros4hri/hri_face_detect, ``ros4hri_to_mp_landmarks_mapping`` in node_face_detect.py and
doc/mediapipe_face_mesh_2_ros4hri.md); ROS4HRI's FacialLandmarks indices 0..67 are the iBUG-68 ones.
Where iBUG defines a point on a contour that the ROS4HRI choice is not on, a mesh point on that contour is
used instead:

* jaw 0..16: iBUG puts them on the face outline (ear to chin to ear); ROS4HRI uses points inside the
  cheek. Here: the mesh's face-oval points, spaced to match iBUG's spacing;
* eyes 36..47: iBUG puts them on the eyelid margin; ROS4HRI uses the ring around the eye. Here: the
  eyelid points (the ones used for the eye-aspect ratio);
* lower outer lip 55..59: iBUG runs from the left mouth corner back to the right one (55 next to 54);
  ROS4HRI's table runs the other way. Here: iBUG order;
* inner lips 60..67: here the inner lip contour (78 ... 308), ROS4HRI uses the second lip ring.

"right"/"left" are the subject's; the subject's right side is on the image's left.
The same table is in docs/landmarks.md.
"""
from __future__ import annotations

import numpy as np

#: (iBUG index, name, mesh index used here, mesh index in ROS4HRI's hri_face_detect)
IBUG68_TABLE: tuple[tuple[int, str, int, int], ...] = (
    (0, "right jaw 0 (ear level)", 127, 34),
    (1, "right jaw 1", 234, 227),
    (2, "right jaw 2", 93, 137),
    (3, "right jaw 3", 132, 177),
    (4, "right jaw 4", 58, 215),
    (5, "right jaw 5", 172, 135),
    (6, "right jaw 6", 136, 170),
    (7, "right jaw 7", 149, 171),
    (8, "menton (chin)", 152, 175),
    (9, "left jaw 7", 378, 396),
    (10, "left jaw 6", 365, 395),
    (11, "left jaw 5", 397, 364),
    (12, "left jaw 4", 288, 435),
    (13, "left jaw 3", 361, 401),
    (14, "left jaw 2", 323, 366),
    (15, "left jaw 1", 454, 447),
    (16, "left jaw 0 (ear level)", 356, 264),
    (17, "right brow outer", 70, 70),
    (18, "right brow 1", 63, 63),
    (19, "right brow 2", 105, 105),
    (20, "right brow 3", 66, 66),
    (21, "right brow inner", 107, 107),
    (22, "left brow inner", 336, 336),
    (23, "left brow 3", 296, 296),
    (24, "left brow 2", 334, 334),
    (25, "left brow 1", 293, 293),
    (26, "left brow outer", 300, 300),
    (27, "sellion (nose root)", 6, 6),
    (28, "nose bridge 1", 197, 197),
    (29, "nose bridge 2", 4, 4),
    (30, "nose tip", 1, 1),
    (31, "nostril 1 (right)", 242, 242),
    (32, "nostril 2", 141, 141),
    (33, "nostril 3 (subnasale)", 94, 94),
    (34, "nostril 4", 370, 370),
    (35, "nostril 5 (left)", 462, 462),
    (36, "right eye outer corner", 33, 130),
    (37, "right eye upper lid 1", 160, 29),
    (38, "right eye upper lid 2", 158, 28),
    (39, "right eye inner corner", 133, 243),
    (40, "right eye lower lid 2", 153, 22),
    (41, "right eye lower lid 1", 144, 24),
    (42, "left eye inner corner", 362, 463),
    (43, "left eye upper lid 2", 385, 258),
    (44, "left eye upper lid 1", 387, 259),
    (45, "left eye outer corner", 263, 359),
    (46, "left eye lower lid 1", 373, 254),
    (47, "left eye lower lid 2", 380, 252),
    (48, "mouth outer right corner", 61, 61),
    (49, "upper lip outer 1", 40, 40),
    (50, "upper lip outer 2", 37, 37),
    (51, "upper lip outer 3 (centre)", 0, 0),
    (52, "upper lip outer 4", 267, 267),
    (53, "upper lip outer 5", 270, 270),
    (54, "mouth outer left corner", 291, 291),
    (55, "lower lip outer 5", 321, 91),
    (56, "lower lip outer 4", 314, 84),
    (57, "lower lip outer 3 (centre)", 17, 17),
    (58, "lower lip outer 2", 84, 314),
    (59, "lower lip outer 1", 91, 321),
    (60, "mouth inner right corner", 78, 62),
    (61, "upper lip inner 1", 81, 41),
    (62, "upper lip inner 2 (centre)", 13, 12),
    (63, "upper lip inner 3", 311, 271),
    (64, "mouth inner left corner", 308, 292),
    (65, "lower lip inner 3", 402, 403),
    (66, "lower lip inner 2 (centre)", 14, 15),
    (67, "lower lip inner 1", 178, 179),
)

#: mesh index of each iBUG-68 point, in iBUG order
IBUG68_FROM_MESH: np.ndarray = np.array([row[2] for row in IBUG68_TABLE], dtype=np.intp)
