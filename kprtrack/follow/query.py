"""From clicks to a query: which detection the user means, and the KPR prompts that describe them.

* **Selection** (:func:`select_target`): among the detections whose box holds every positive click,
  the one whose estimated joints lie closest to the clicks. Negative clicks do not change the choice
  (in a crowded box the pose model often puts some of the target's joints on the occluder, right where
  a user clicks to exclude them); each one excludes the other detection whose joints lie closest to it.
* **Prompts** (:func:`click_prompts`): each positive click becomes one positive prompt keypoint of the
  target (snapped to a joint index by a one-to-one assignment to the target's estimated joints, or to
  a standing-person template when the pose gave none); each negative click becomes a negative prompt
  keypoint, added to the other detections' joints inside the box (the pipeline's usual negatives).
* **Query** (:func:`build_query`): the target's embedding computed with those prompts, plus the
  embeddings of the excluded people.

With an embedder that takes no prompts (``use_prompts: false`` or a global appearance model), the
prompts are passed through the :class:`~kprtrack.stages.Embedder` protocol and simply ignored: the
clicks then only select the person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from kprtrack.follow.clicks import Clicks, NoPersonAtClickError
from kprtrack.stages import Embedder
from kprtrack.structures import FrameRecord

#: How the target's positive prompt is built: ``clicks+pose`` (the estimated joints, clicked joints
#: moved onto the clicks), ``clicks`` (the clicked joints only) or ``pose`` (the estimated joints only:
#: the clicks just select the person, as every other detection is prompted).
PROMPT_MODES = ("clicks+pose", "clicks", "pose")

#: Joints of a standing person in box coordinates (x, y in [0, 1]; COCO/PoseTrack21 indices, the
#: head joints 0-4 near the top): where a click is assumed to be when the pose model gave no joint.
STANDING_TEMPLATE = np.array(
    [
        [0.50, 0.07], [0.50, 0.10], [0.50, 0.02], [0.42, 0.07], [0.58, 0.07],
        [0.30, 0.20], [0.70, 0.20], [0.22, 0.37], [0.78, 0.37], [0.18, 0.52], [0.82, 0.52],
        [0.38, 0.52], [0.62, 0.52], [0.38, 0.74], [0.62, 0.74], [0.38, 0.95], [0.62, 0.95],
    ],
    np.float64,
)  # fmt: skip

#: Tolerance around a box for a click to count as inside it (fraction of the box size).
BOX_MARGIN = 0.05


@dataclass(frozen=True)
class Selection:
    """The detection the clicks point at.

    Attributes:
        row: the target's row in the frame's record.
        excluded: rows the negative clicks point at (never the target).
        candidates: rows whose box holds every positive click.
    """

    row: int
    excluded: tuple[int, ...]
    candidates: tuple[int, ...]


@dataclass(frozen=True)
class Query:
    """What the follower looks for.

    Attributes:
        frame: the clicked frame's index.
        row: the target's row in that frame's record.
        box: ``(4,)`` float32 xyxy box of the target.
        keypoints: ``(17, 3)`` float32 positive prompt (frame pixels, the pose stage's convention).
        negatives: ``(n, 17, 3)`` float32 negative prompt skeletons (frame pixels).
        embeddings: ``(P, D)`` float32 embedding of the target with these prompts.
        visibility: ``(P,)`` bool.
        excluded_embeddings: ``(E, P, D)`` float32 embeddings of the excluded people.
        excluded_visibility: ``(E, P)`` bool.
        prompts_used: whether the embedder fed the prompts to its model.
    """

    frame: int
    row: int
    box: np.ndarray
    keypoints: np.ndarray
    negatives: np.ndarray
    embeddings: np.ndarray
    visibility: np.ndarray
    excluded_embeddings: np.ndarray
    excluded_visibility: np.ndarray
    prompts_used: bool


def _joint_distances(points: np.ndarray, keypoints: np.ndarray, box: np.ndarray, min_conf: float) -> np.ndarray:
    """``(M, 17)`` distances from points to the joints, in box heights (absent joints: ``inf``)."""
    height = max(float(box[3] - box[1]), 1.0)
    d = np.hypot(points[:, None, 0] - keypoints[None, :, 0], points[:, None, 1] - keypoints[None, :, 1]) / height
    return np.where(keypoints[None, :, 2] > min_conf, d, np.inf)


def _template_joints(box: np.ndarray) -> np.ndarray:
    """``(17, 3)`` the standing template placed in ``box`` (confidence 1)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    xy = STANDING_TEMPLATE * [x2 - x1, y2 - y1] + [x1, y1]
    return np.concatenate([xy, np.ones((17, 1))], axis=1)


def _inside(points: np.ndarray, boxes: np.ndarray, margin: float = BOX_MARGIN) -> np.ndarray:
    """``(N, M)`` whether each point lies in each box grown by ``margin`` of its size."""
    w = (boxes[:, 2] - boxes[:, 0]) * margin
    h = (boxes[:, 3] - boxes[:, 1]) * margin
    x, y = points[None, :, 0], points[None, :, 1]
    return (
        (x >= (boxes[:, 0] - w)[:, None])
        & (x <= (boxes[:, 2] + w)[:, None])
        & (y >= (boxes[:, 1] - h)[:, None])
        & (y <= (boxes[:, 3] + h)[:, None])
    )


def _click_cost(points: np.ndarray, keypoints: np.ndarray, box: np.ndarray, min_conf: float) -> float:
    """Mean distance (box heights) from each point to the person's nearest joint (template if no joint)."""
    d = _joint_distances(points, keypoints, box, min_conf)
    if not np.isfinite(d).any():
        d = _joint_distances(points, _template_joints(box), box, 0.0)
    return float(d.min(axis=1).mean())


def select_target(record: FrameRecord, clicks: Clicks, min_conf: float = 0.3) -> Selection:
    """The detection the positive clicks point at.

    Args:
        record: the clicked frame's detections (boxes and keypoints).
        clicks: the user's clicks on that frame.
        min_conf: joints at or below this confidence are ignored.

    Raises:
        NoPersonAtClickError: no detection's box holds every positive click.
    """
    boxes = np.asarray(record.boxes, np.float64)
    kps = np.asarray(record.keypoints, np.float64)
    where = ", ".join(f"({x:g}, {y:g})" for x, y in clicks.positives)
    if len(record) == 0:
        raise NoPersonAtClickError(f"no person detected in frame {clicks.frame}")
    holds = _inside(clicks.positives, boxes).all(axis=1)
    candidates = [int(i) for i in np.flatnonzero(holds)]
    if not candidates:
        raise NoPersonAtClickError(
            f"no detected person at {where} in frame {clicks.frame} ({len(record)} people detected there; "
            "click on a person's body)"
        )
    row = min(candidates, key=lambda i: (_click_cost(clicks.positives, kps[i], boxes[i], min_conf), i))
    excluded: set[int] = set()
    for point in clicks.negatives:
        on = [int(i) for i in np.flatnonzero(_inside(point[None], boxes)[:, 0]) if i != row]
        if on:
            excluded.add(min(on, key=lambda i: (_click_cost(point[None], kps[i], boxes[i], min_conf), i)))
    return Selection(row, tuple(sorted(excluded)), tuple(candidates))


def click_prompts(
    record: FrameRecord, row: int, clicks: Clicks, mode: str = "clicks+pose", min_conf: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """The target's positive prompt keypoints and its negative prompt skeletons.

    Args:
        record: the clicked frame's detections.
        row: the target's row.
        clicks: the clicks.
        mode: one of :data:`PROMPT_MODES`.
        min_conf: estimated joints at or below this confidence do not attract clicks.

    Returns:
        ``keypoints (17, 3)`` float32 and ``negatives (n, 17, 3)`` float32, frame pixels. Clicked joints
        get confidence 1; each negative click is a skeleton with one joint (the negative prompt channel
        does not depend on the joint).
    """
    from kprtrack.reid.embedder import select_negatives

    if mode not in PROMPT_MODES:
        raise ValueError(f"prompt mode: expected one of {', '.join(PROMPT_MODES)}, got {mode!r}")
    box = np.asarray(record.boxes[row], np.float64)
    estimated = np.asarray(record.keypoints[row], np.float64)
    keypoints = estimated.copy() if mode != "clicks" else np.zeros((17, 3))
    if mode != "pose":
        d = _joint_distances(clicks.positives, estimated, box, min_conf)
        if not np.isfinite(d).any():
            d = _joint_distances(clicks.positives, _template_joints(box), box, 0.0)
        d = np.where(np.isfinite(d), d, 1e6)  # one click per joint: absent joints only when needed
        clicked, joints = linear_sum_assignment(d)
        keypoints[joints, :2] = clicks.positives[clicked]
        keypoints[joints, 2] = 1.0
    negatives = [select_negatives(record.boxes, record.keypoints)[row].astype(np.float64)]
    if len(clicks.negatives):
        marks = np.zeros((len(clicks.negatives), 17, 3))
        marks[:, 0, :2] = clicks.negatives
        marks[:, 0, 2] = 1.0
        negatives.append(marks)
    return keypoints.astype(np.float32), np.concatenate(negatives).astype(np.float32).reshape(-1, 17, 3)


def build_query(
    embedder: Embedder,
    frame: np.ndarray,
    record: FrameRecord,
    clicks: Clicks,
    mode: str = "clicks+pose",
) -> Query:
    """Select the clicked person and embed them with the click prompts.

    Args:
        embedder: the pipeline's appearance embedder.
        frame: the clicked RGB frame.
        record: its detections with keypoints (embeddings are computed here when absent).
        clicks: the clicks on it.
        mode: one of :data:`PROMPT_MODES`.

    Raises:
        NoPersonAtClickError: see :func:`select_target`.
    """
    selection = select_target(record, clicks)
    row = selection.row
    keypoints, negatives = click_prompts(record, row, clicks, mode)
    emb, vis = embedder.embed(frame, record.boxes[row : row + 1], keypoints[None], [negatives])
    excluded = list(selection.excluded)
    if excluded:
        if record.embeddings is not None and record.visibility is not None:
            ex_emb, ex_vis = record.embeddings[excluded], record.visibility[excluded]
        else:
            ex_emb, ex_vis = embedder.embed(frame, record.boxes, record.keypoints)
            ex_emb, ex_vis = ex_emb[excluded], ex_vis[excluded]
    else:
        ex_emb = np.zeros((0, *np.shape(emb)[1:]), np.float32)
        ex_vis = np.zeros((0, np.shape(vis)[1]), bool)
    return Query(
        frame=clicks.frame,
        row=row,
        box=np.asarray(record.boxes[row], np.float32),
        keypoints=keypoints,
        negatives=negatives,
        embeddings=np.asarray(emb[0], np.float32),
        visibility=np.asarray(vis[0], bool),
        excluded_embeddings=np.asarray(ex_emb, np.float32),
        excluded_visibility=np.asarray(ex_vis, bool),
        prompts_used=bool(getattr(embedder, "use_prompts", False)),
    )
