"""Per-frame ground truth from the rendered geometry and the exact instance/parsing maps.

For every drawn person:

* **keypoints**: the 17 posetrack21 joints, rounded to 0.01 px. A joint outside the image is
  ``0, 0, 0``; ears are always ``0, 0, 0`` (unannotated placeholders, as in PoseTrack21). A joint
  inside the image is *visible* (``v = 1``) iff the pixel under it (``floor(x), floor(y)`` of the
  rounded coordinates) belongs to this person in the instance map, carries a parsing label the joint
  lies on (:data:`kprtrack.synth.parts.JOINT_PARTS`), and, for the nose, the face is turned towards
  the camera. Otherwise it keeps its coordinates with ``v = 0`` (occluded by another person or by
  itself).
* **bbox**: the full (amodal) extent of the person's silhouette, clipped to the image, which
  encloses every visible pixel; ``bbox_visible`` is the extent of the visible pixels only.
* **bbox_head**: the head circle including hair (never empty).

A person is annotated only with at least ``min_visible_pixels`` visible pixels and at least one
joint inside the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kprtrack.synth.motion import PlacedPerson
from kprtrack.synth.parts import JOINT_PART_TABLE
from kprtrack.synth.render import Drawn

_EARS = (3, 4)
#: The nose is hidden when the face turns further away than this (cosine of the facing angle).
NOSE_MIN_COS = -0.15


@dataclass(frozen=True)
class PersonAnnotation:
    """Ground truth of one person in one frame.

    Attributes:
        track_id: track id within the sequence.
        person_id: global identity.
        keypoints: ``(17, 3)`` float64 ``x, y, v``.
        bbox, bbox_visible, bbox_head: ``[x, y, w, h]`` in pixels.
        visible_pixels: number of pixels of the person in the instance map.
    """

    track_id: int
    person_id: int
    keypoints: np.ndarray
    bbox: list[float]
    bbox_visible: list[float]
    bbox_head: list[float]
    visible_pixels: int


def _r(v: float) -> float:
    return round(float(v), 2)


def annotate_person(
    person: PlacedPerson,
    drawn: Drawn,
    t: int,
    instances: np.ndarray,
    parsing: np.ndarray,
    min_visible_pixels: int,
) -> PersonAnnotation | None:
    """Ground truth of one drawn person, or ``None`` if it is not annotated in this frame.

    Args:
        person: the placed person (track id = ``person.plan.track_id``, instance value = track id + 1).
        drawn: its drawn geometry in frame ``t``.
        t: frame index.
        instances, parsing: ``(H, W)`` uint8 maps of the finished frame.
        min_visible_pixels: annotation threshold.
    """
    h, w = instances.shape
    value = person.plan.track_id + 1
    x1, y1, x2, y2 = drawn.extent
    cx1, cy1 = max(0, int(math.floor(x1))), max(0, int(math.floor(y1)))
    cx2, cy2 = min(w, int(math.ceil(x2)) + 1), min(h, int(math.ceil(y2)) + 1)
    if cx2 <= cx1 or cy2 <= cy1:
        return None
    mine = instances[cy1:cy2, cx1:cx2] == value
    count = int(np.count_nonzero(mine))
    if count < min_visible_pixels:
        return None
    kp = np.round(person.xy[t, :17], 2)
    inside = (kp[:, 0] >= 0.5) & (kp[:, 0] <= w - 0.5) & (kp[:, 1] >= 0.5) & (kp[:, 1] <= h - 0.5)
    inside[list(_EARS)] = False
    if not inside.any():
        return None
    px = np.clip(kp[:, 0].astype(np.int64), 0, w - 1)
    py = np.clip(kp[:, 1].astype(np.int64), 0, h - 1)
    on_me = instances[py, px] == value
    on_part = JOINT_PART_TABLE[np.arange(17), parsing[py, px]]
    visible = inside & on_me & on_part
    if math.cos(float(person.plan.theta[t])) <= NOSE_MIN_COS:
        visible[0] = False
    out = np.zeros((17, 3))
    out[inside, :2] = kp[inside]
    out[:, 2] = visible
    rows = np.flatnonzero(mine.any(1))
    cols = np.flatnonzero(mine.any(0))
    vx1, vy1, vx2, vy2 = cx1 + cols[0], cy1 + rows[0], cx1 + cols[-1] + 1, cy1 + rows[-1] + 1
    bx1, by1 = min(max(0.0, x1), vx1), min(max(0.0, y1), vy1)
    bx2, by2 = max(min(float(w), x2), vx2), max(min(float(h), y2), vy2)
    bx1, by1 = math.floor(bx1 * 100) / 100, math.floor(by1 * 100) / 100
    bx2, by2 = math.ceil(bx2 * 100) / 100, math.ceil(by2 * 100) / 100
    hx, hy, hr = drawn.head
    return PersonAnnotation(
        track_id=person.plan.track_id,
        person_id=person.plan.identity.person_id,
        keypoints=out,
        bbox=[_r(bx1), _r(by1), _r(bx2 - bx1), _r(by2 - by1)],
        bbox_visible=[float(vx1), float(vy1), float(vx2 - vx1), float(vy2 - vy1)],
        bbox_head=[_r(hx - hr), _r(hy - hr), _r(2 * hr), _r(2 * hr)],
        visible_pixels=count,
    )
