"""Difficulty report of a generated data set, computed from its PoseTrack21 ground truth.

Per split: identities, tracks, frames, persons per labelled frame, the share of multi-person boxes
(annotated boxes that contain a present keypoint of another annotated person of the same frame),
the share of occluded joints (visibility 0 among present joints, ears excluded), and re-entries
(a track annotated again after at least :data:`REENTRY_GAP` frames without annotation).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kprtrack.io.posetrack21 import PoseTrackSequence, read_ground_truth

#: Frames without annotation after which a track's return counts as a re-entry.
REENTRY_GAP = 10

_JOINTS = np.array([0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])


def multi_person_flags(boxes: np.ndarray, keypoints: Sequence[np.ndarray]) -> np.ndarray:
    """Which boxes contain a keypoint of another person.

    Args:
        boxes: ``(N, 4)`` boxes ``x1, y1, x2, y2``.
        keypoints: ``N`` arrays ``(K_i, 2)``: the present keypoints of each person.

    Returns:
        ``(N,)`` bool: box ``i`` contains (borders included) at least one keypoint of a person ``j != i``.
    """
    n = len(boxes)
    flags = np.zeros(n, bool)
    if n < 2:
        return flags
    owner = np.concatenate([np.full(len(k), i) for i, k in enumerate(keypoints)])
    pts = np.concatenate([np.asarray(k, np.float64).reshape(-1, 2) for k in keypoints])
    if len(pts) == 0:
        return flags
    b = np.asarray(boxes, np.float64)
    inside = (
        (pts[None, :, 0] >= b[:, None, 0])
        & (pts[None, :, 0] <= b[:, None, 2])
        & (pts[None, :, 1] >= b[:, None, 1])
        & (pts[None, :, 1] <= b[:, None, 3])
    )
    inside &= owner[None, :] != np.arange(n)[:, None]
    return inside.any(1)


@dataclass
class SplitStats:
    """Difficulty figures of one split (see the module docstring)."""

    split: str
    sequences: int
    identities: int
    identities_in_several_sequences: int
    tracks: int
    frames: int
    labeled_frames: int
    annotations: int
    persons_per_frame: float
    multi_person_share: float
    occluded_joint_share: float
    reentries: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def sequence_counts(seq: PoseTrackSequence) -> dict[str, Any]:
    """Raw counts of one ground-truth sequence (summed into :class:`SplitStats`)."""
    by_image = seq.annotations_by_image()
    labeled = [img for img in seq.images if img.get("is_labeled")]
    n_ann = multi = present = occluded = 0
    last_seen: dict[int, int] = {}
    reentries = 0
    for pos, img in enumerate(seq.images):
        if not img.get("is_labeled"):
            continue
        anns = by_image[img["id"]]
        if not anns:
            continue
        boxes, kps = [], []
        for a in anns:
            x, y, w, h = a["bbox"]
            boxes.append([x, y, x + w, y + h])
            k = np.asarray(a["keypoints"], np.float64).reshape(17, 3)[_JOINTS]
            ok = (k[:, 0] > 0) & (k[:, 1] > 0)
            kps.append(k[ok, :2])
            present += int(ok.sum())
            occluded += int((ok & (k[:, 2] == 0)).sum())
            tid = a["track_id"]
            if tid in last_seen and pos - last_seen[tid] > REENTRY_GAP:
                reentries += 1
            last_seen[tid] = pos
        n_ann += len(anns)
        multi += int(multi_person_flags(np.asarray(boxes), kps).sum())
    return {
        "frames": len(seq.images),
        "labeled_frames": len(labeled),
        "annotations": n_ann,
        "multi": multi,
        "present": present,
        "occluded": occluded,
        "reentries": reentries,
        "tracks": len({a["track_id"] for a in seq.annotations}),
        "person_ids": {a["person_id"] for a in seq.annotations},
    }


def split_stats(split: str, sequences: Sequence[PoseTrackSequence]) -> SplitStats:
    """Aggregate the counts of a split's sequences."""
    counts = [sequence_counts(s) for s in sequences]
    total = {k: sum(c[k] for c in counts) for k in ("frames", "labeled_frames", "annotations", "multi")}
    total.update({k: sum(c[k] for c in counts) for k in ("present", "occluded", "reentries", "tracks")})
    ids: set[int] = set().union(*(c["person_ids"] for c in counts)) if counts else set()
    several = sum(1 for pid in ids if sum(pid in c["person_ids"] for c in counts) > 1)
    return SplitStats(
        split=split,
        sequences=len(sequences),
        identities=len(ids),
        identities_in_several_sequences=several,
        tracks=total["tracks"],
        frames=total["frames"],
        labeled_frames=total["labeled_frames"],
        annotations=total["annotations"],
        persons_per_frame=total["annotations"] / max(1, total["labeled_frames"]),
        multi_person_share=total["multi"] / max(1, total["annotations"]),
        occluded_joint_share=total["occluded"] / max(1, total["present"]),
        reentries=total["reentries"],
    )


def dataset_stats(root: str | os.PathLike[str]) -> dict[str, SplitStats]:
    """Statistics of every split under ``root/posetrack_data``.

    Raises:
        FileNotFoundError: no ``posetrack_data`` folder or no sequence file in it.
    """
    base = Path(root) / "posetrack_data"
    if not base.is_dir():
        raise FileNotFoundError(f"no posetrack_data folder under {root}")
    out: dict[str, SplitStats] = {}
    for split_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        files = sorted(split_dir.glob("*.json"))
        if files:
            out[split_dir.name] = split_stats(split_dir.name, [read_ground_truth(f) for f in files])
    if not out:
        raise FileNotFoundError(f"no ground-truth files under {base}/<split>/*.json")
    return out


_ROWS = (
    ("sequences", "sequences", "{:d}"),
    ("identities", "identities", "{:d}"),
    ("identities_in_several_sequences", "identities in >1 sequence", "{:d}"),
    ("tracks", "tracks", "{:d}"),
    ("frames", "frames", "{:d}"),
    ("labeled_frames", "labelled frames", "{:d}"),
    ("annotations", "person annotations", "{:d}"),
    ("persons_per_frame", "persons / labelled frame", "{:.2f}"),
    ("multi_person_share", "multi-person boxes", "{:.1%}"),
    ("occluded_joint_share", "occluded joints", "{:.1%}"),
    ("reentries", f"re-entries (gap >= {REENTRY_GAP + 1} frames)", "{:d}"),
)


def format_stats(stats: dict[str, SplitStats]) -> str:
    """A text table, one column per split."""
    splits = list(stats)
    label_w = max(len(r[1]) for r in _ROWS)
    lines = [" " * label_w + "".join(f"{s:>12s}" for s in splits)]
    for key, label, fmt in _ROWS:
        cells = "".join(f"{fmt.format(getattr(stats[s], key)):>12s}" for s in splits)
        lines.append(f"{label:<{label_w}s}{cells}")
    return "\n".join(lines)
