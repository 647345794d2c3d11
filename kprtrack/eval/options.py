"""Constants of the PoseTrack21 keypoint evaluation and the evaluator's options (defaults live here only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The kit's 19 HOTA thresholds, exactly as it builds them (``np.arange(0.05, 0.99, 0.05)``).
ALPHAS: np.ndarray = np.arange(0.05, 0.99, 0.05)

#: The 15 evaluated joints, in the kit's order (PoseTrack21 order with the ears removed).
JOINT_NAMES: tuple[str, ...] = (
    "Nose", "Neck", "Head", "LS", "RS", "LE", "RE", "LW", "RW", "LH", "RH", "LK", "RK", "LA", "RA",
)  # fmt: skip

#: ``JOINT_NAMES`` plus the aggregate column.
COLUMNS: tuple[str, ...] = (*JOINT_NAMES, "Total")

#: Indices of the PoseTrack21 ears, dropped by the kit.
EAR_INDICES: tuple[int, int] = (3, 4)

#: The 15 kept indices of the 17 PoseTrack21 joints.
KEPT_JOINTS: tuple[int, ...] = tuple(i for i in range(17) if i not in EAR_INDICES)

#: The kit's similarity divisor: ``sim = max(0, 1 - d / 0.5001)`` for head-normalised distance ``d``.
SIMILARITY_DIVISOR = 0.5001

#: PCKh threshold of the CLEAR-MOT matching (a joint pair is a candidate iff ``d <= 0.5``).
PCKH_THRESHOLD = 0.5

#: Box metrics: IoU threshold, and the polygon IoU above which an unmatched predicted box in an
#: ignore region is removed (the kit's MOT evaluation).
BOX_IOU_THRESHOLD = 0.5
BOX_IGNORE_IOU = 0.1

FN_MODES = ("sequence", "frame")
CLEAR_PROTOCOLS = ("posetrack21", "poseval")


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate.

    Attributes:
        allow_missing: score a sequence whose prediction file is missing as empty predictions
            (otherwise a missing file is an error).
        missing_frame_fn: what a labelled frame without any predicted person adds to the keypoint
            HOTA false negatives. ``"sequence"`` reproduces the kit: the GT joint counts of the
            whole sequence (the published numbers were made this way). ``"frame"`` adds only
            that frame's GT joints (the evident intent; deviates from the kit).
        clear_protocol: frame selection and joint rules of the pose CLEAR-MOT numbers.
            ``"posetrack21"``: the kit's labelled frames, joints and ignore regions.
            ``"poseval"``: reproduce poseval (PoseTrack 2017/2018 MOTA) exactly, quirks included.
        boxes: also compute box metrics (needs ``bbox`` on every GT and predicted person).
        sequences: evaluate only these sequence file names (``None``: every GT file).
    """

    allow_missing: bool = False
    missing_frame_fn: str = "sequence"
    clear_protocol: str = "posetrack21"
    boxes: bool = True
    sequences: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.missing_frame_fn not in FN_MODES:
            raise ValueError(f"missing_frame_fn must be one of {FN_MODES}, got {self.missing_frame_fn!r}")
        if self.clear_protocol not in CLEAR_PROTOCOLS:
            raise ValueError(f"clear_protocol must be one of {CLEAR_PROTOCOLS}, got {self.clear_protocol!r}")
