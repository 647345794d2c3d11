"""Human-parsing labels (KPR's ``eight`` part order) and which parts each joint lies on.

Parsing maps give every pixel of a person one of the labels below, in the order KPR's part
classifier uses for its ``eight`` configuration, so the maps can serve as its targets directly.
Instance maps give every pixel the ``track_id + 1`` of the scripted person drawn there, 0 for
background and :data:`CROWD` for unannotated spectators (who lie inside ignore regions).
"""

from __future__ import annotations

import numpy as np

BACKGROUND, HEAD, LEFT_ARM, RIGHT_ARM, TORSO, LEFT_LEG, RIGHT_LEG, LEFT_FEET, RIGHT_FEET = range(9)

#: Label value -> name (index = label).
PART_NAMES: tuple[str, ...] = (
    "background", "head", "left_arm", "right_arm", "torso", "left_leg", "right_leg", "left_feet", "right_feet",
)  # fmt: skip

#: Instance-map value of unannotated crowd pixels.
CROWD = 255

#: posetrack21 joint index -> parsing labels on which the joint counts as visible. Ears (3, 4) are
#: unannotated placeholders and have none.
JOINT_PARTS: tuple[frozenset[int], ...] = (
    frozenset({HEAD}),  # nose
    frozenset({HEAD}),  # head_bottom
    frozenset({HEAD}),  # head_top
    frozenset(),  # left_ear (placeholder)
    frozenset(),  # right_ear (placeholder)
    frozenset({TORSO, LEFT_ARM}),  # left_shoulder
    frozenset({TORSO, RIGHT_ARM}),  # right_shoulder
    frozenset({LEFT_ARM}),  # left_elbow
    frozenset({RIGHT_ARM}),  # right_elbow
    frozenset({LEFT_ARM}),  # left_wrist
    frozenset({RIGHT_ARM}),  # right_wrist
    frozenset({TORSO, LEFT_LEG}),  # left_hip
    frozenset({TORSO, RIGHT_LEG}),  # right_hip
    frozenset({LEFT_LEG}),  # left_knee
    frozenset({RIGHT_LEG}),  # right_knee
    frozenset({LEFT_LEG, LEFT_FEET}),  # left_ankle
    frozenset({RIGHT_LEG, RIGHT_FEET}),  # right_ankle
)

#: Boolean lookup table ``(17, 9)``: ``JOINT_PART_TABLE[j, label]`` is True iff ``label in JOINT_PARTS[j]``.
JOINT_PART_TABLE: np.ndarray = np.array([[lab in parts for lab in range(9)] for parts in JOINT_PARTS], dtype=bool)

#: Joints annotated in the ground truth (all but the ears).
ANNOTATED_JOINTS: tuple[int, ...] = (0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)

#: BGR colour of each label for visualisation.
PART_COLORS_BGR: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (60, 200, 255), (255, 120, 40), (40, 40, 255), (80, 200, 80),
    (255, 60, 200), (200, 60, 255), (255, 220, 120), (120, 120, 255),
)  # fmt: skip
