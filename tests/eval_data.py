"""Tiny synthetic PoseTrack21 GT/prediction documents for the evaluation tests."""

from __future__ import annotations

import json
from pathlib import Path

# joint offsets of a standing stick figure (PoseTrack21 order; the ears are unannotated in GT)
OFFSETS = (
    (0, -60), (0, -40), (0, -85), (0, 0), (0, 0), (-25, -30), (25, -30), (-35, 0), (35, 0),
    (-40, 30), (40, 30), (-15, 40), (15, 40), (-15, 90), (15, 90), (-15, 140), (15, 140),
)  # fmt: skip
HEAD = (40.0, 50.0)  # head box w, h -> head size 0.6 * 64.03 = 38.4 px


def keypoints(cx: float, cy: float, ears: bool = False, shift: float = 0.0) -> list[float]:
    """51 values ``x, y, v`` of the stick figure centred at (cx, cy), shifted by ``shift`` px in x."""
    out: list[float] = []
    for j, (dx, dy) in enumerate(OFFSETS):
        if j in (3, 4) and not ears:
            out += [0, 0, 0]
        else:
            out += [round(cx + dx + shift, 2), round(cy + dy, 2), 1]
    return out


def image_id(vid: int, t: int) -> int:
    """PoseTrack image id convention."""
    return int(f"1{vid:06d}{t:04d}")


def gt_doc(
    vid: int,
    frames: list[list[tuple[int, float, float]]],
    labeled: list[bool] | None = None,
    regions: dict[int, tuple[list, list]] | None = None,
) -> dict:
    """A GT document; ``frames[t]`` lists ``(track_id, cx, cy)`` of the people in frame t."""
    labeled = labeled or [True] * len(frames)
    regions = regions or {}
    images, anns = [], []
    for t, people in enumerate(frames):
        rx, ry = regions.get(t, ([], []))
        images.append(
            {
                "id": image_id(vid, t), "file_name": f"images/val/{vid:06d}_mpii_test/{t:06d}.jpg",
                "frame_id": image_id(vid, t), "vid_id": vid, "nframes": len(frames), "is_labeled": labeled[t],
                "has_labeled_person": bool(people), "ignore_regions_x": rx, "ignore_regions_y": ry,
            }
        )  # fmt: skip
        for tid, cx, cy in people:
            anns.append(
                {
                    "id": len(anns), "image_id": image_id(vid, t), "track_id": tid, "person_id": tid,
                    "category_id": 1, "keypoints": keypoints(cx, cy),
                    "bbox": [cx - 60, cy - 100, 120, 260], "bbox_head": [cx - 20, cy - 95, *HEAD],
                }
            )  # fmt: skip
    return {"images": images, "annotations": anns, "categories": []}


def pred_doc(gt: dict, frames: list[list[tuple[int, float, float]]], shift: float = 0.0) -> dict:
    """A prediction document on the GT's images; ``frames[t]`` lists ``(track_id, cx, cy)``."""
    images = [{"id": img["id"], "file_name": img["file_name"], "frame_id": img["frame_id"]} for img in gt["images"]]
    anns = []
    for img, people in zip(gt["images"], frames):
        for tid, cx, cy in people:
            kps = keypoints(cx, cy, ears=True, shift=shift)
            for j in range(17):
                kps[3 * j + 2] = 0.9
            anns.append(
                {"image_id": img["id"], "track_id": tid, "keypoints": kps, "scores": [0.9] * 17,
                 "bbox": [cx - 60 + shift, cy - 100, 120, 260], "category_id": 1}
            )  # fmt: skip
    return {"images": images, "annotations": anns}


def two_people(num_frames: int = 6) -> list[list[tuple[int, float, float]]]:
    """Two people walking apart, ids 1 and 2."""
    return [[(1, 200 + 5 * t, 300), (2, 600 - 5 * t, 320)] for t in range(num_frames)]


def write_case(root: Path, gt: dict[str, dict], pred: dict[str, dict]) -> tuple[Path, Path]:
    """Write ``gt/<name>`` and ``pred/<name>`` files; returns the two folders."""
    gdir, pdir = root / "gt", root / "pred"
    gdir.mkdir(parents=True, exist_ok=True)
    pdir.mkdir(parents=True, exist_ok=True)
    for name, doc in gt.items():
        (gdir / name).write_text(json.dumps(doc))
    for name, doc in pred.items():
        (pdir / name).write_text(json.dumps(doc))
    return gdir, pdir
