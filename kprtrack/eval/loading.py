"""Load a ground-truth and a prediction file of one sequence, validate them and align their frames.

Only what the evaluation reads is required (the official kit reads the same fields):

* GT ``images[]``: ``id`` (int), ``is_labeled``, ``ignore_regions_x``, ``ignore_regions_y``;
  GT ``annotations[]``: ``image_id``, ``keypoints`` (51 numbers), ``track_id``, ``bbox_head``,
  and ``bbox`` (optional: needed only for the box metrics).
* prediction ``images[]``: ``id``; prediction ``annotations[]``: ``image_id``, ``keypoints``,
  ``track_id``, and optionally ``scores`` (17 numbers, ignored) and ``bbox``.

Every problem raises :class:`~kprtrack.io.posetrack21.PoseTrackFormatError` naming the file, the
record (``images[i]`` / ``annotations[i]``) and the field, where the kit would crash with a bare
``KeyError``/``IndexError``/``AssertionError`` or silently misalign frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kprtrack.errors import KprtrackError
from kprtrack.io.posetrack21 import (
    PoseTrackFormatError,
    check_top_lists,
    check_track_id,
    is_json_int,
    read_json,
    require_keys,
)

NUM_RAW_JOINTS = 17


class EvalInputError(KprtrackError, ValueError):
    """A folder-level input problem (missing folder, missing prediction file, unknown sequence)."""


@dataclass
class Persons:
    """The persons of one frame, in file order.

    Attributes:
        keypoints: (n, 17, 3) float64, ``x, y, visibility`` (GT) or ``x, y, score`` (predictions).
        track_ids: (n,) int64.
        boxes: (n, 4) float64 ``[x, y, w, h]``; a row of NaN where the annotation has no ``bbox``.
        head_boxes: (n, 4) float64 ``bbox_head`` (GT only, else ``None``).
        records: (n,) int64 index of each person in the file's ``annotations`` list.
    """

    keypoints: np.ndarray
    track_ids: np.ndarray
    boxes: np.ndarray
    head_boxes: np.ndarray | None
    records: np.ndarray

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])

    @staticmethod
    def empty(with_heads: bool) -> Persons:
        """No person."""
        return Persons(
            keypoints=np.zeros((0, NUM_RAW_JOINTS, 3)),
            track_ids=np.zeros(0, np.int64),
            boxes=np.zeros((0, 4)),
            head_boxes=np.zeros((0, 4)) if with_heads else None,
            records=np.zeros(0, np.int64),
        )


@dataclass
class SequenceInput:
    """A validated, frame-aligned GT/prediction pair.

    Attributes:
        name: the sequence name (the GT file name, e.g. ``000342_mpii_test.json``).
        gt_path: the GT file.
        pred_path: the prediction file (``None`` when it was missing and scored as empty).
        image_ids: GT image ids in file order (prediction frames are aligned to them).
        is_labeled: (T,) bool.
        gt: per frame, the GT persons.
        pred: per frame, the predicted persons.
        gt_has_boxes: every GT annotation has a ``bbox``.
        pred_has_boxes: every prediction annotation has a ``bbox``.
        raw_regions: per frame, the GT ``(ignore_regions_x, ignore_regions_y)`` lists (validated
            structure; use :meth:`polygons`).
    """

    name: str
    gt_path: Path
    pred_path: Path | None
    image_ids: list[int]
    is_labeled: np.ndarray
    gt: list[Persons]
    pred: list[Persons]
    gt_has_boxes: bool
    pred_has_boxes: bool
    raw_regions: list[tuple[list[list[float]], list[list[float]]]]

    @property
    def num_frames(self) -> int:
        """Number of GT images."""
        return len(self.image_ids)

    def polygons(self, t: int) -> list[np.ndarray]:
        """The ignore polygons of frame ``t`` as (k, 2) float64 arrays (k >= 3).

        Raises:
            PoseTrackFormatError: a polygon has fewer than 3 points (the kit crashes on it).
        """
        xs, ys = self.raw_regions[t]
        out = []
        for r, (px, py) in enumerate(zip(xs, ys)):
            if len(px) < 3:
                raise PoseTrackFormatError(
                    self.gt_path,
                    f"ignore polygon {r} has {len(px)} points, at least 3 are needed",
                    f"images[{t}]",
                    f"ignore_regions_x[{r}]",
                )
            out.append(np.column_stack([np.asarray(px, np.float64), np.asarray(py, np.float64)]))
        return out


# ----------------------------------------------------------------------------- small checks
def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _numbers(path: Path, record: str, name: str, value: Any, length: int | None) -> list:
    if not isinstance(value, list):
        raise PoseTrackFormatError(path, f"expected a list of numbers, got {type(value).__name__}", record, name)
    if length is not None and len(value) != length:
        extra = " (17 joints x 3)" if length == 3 * NUM_RAW_JOINTS else ""
        raise PoseTrackFormatError(path, f"expected {length} values{extra}, got {len(value)}", record, name)
    for v in value:
        if not _is_number(v):
            raise PoseTrackFormatError(path, f"expected numbers, found {v!r}", record, name)
    return value


def _finite_rows(path: Path, array: np.ndarray, records: list[int], name: str) -> None:
    """Raise naming the first record whose row holds NaN or inf."""
    bad = ~np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise PoseTrackFormatError(path, "contains NaN or inf", f"annotations[{records[i]}]", name)


def _top_level(path: Path, data: Any) -> tuple[list, list]:
    check_top_lists(path, data, ("images", "annotations"))
    return data["images"], data["annotations"]


# ----------------------------------------------------------------------------- images
def _gt_images(path: Path, images: list) -> tuple[list[int], np.ndarray, list[tuple[list, list]]]:
    ids: list[int] = []
    seen: dict[int, int] = {}
    labeled = np.zeros(len(images), bool)
    regions = []
    for i, img in enumerate(images):
        rec = f"images[{i}]"
        require_keys(path, rec, img, ("id", "is_labeled", "ignore_regions_x", "ignore_regions_y"))
        if not is_json_int(img["id"]):
            raise PoseTrackFormatError(path, f"expected an integer id, got {img['id']!r}", rec, "id")
        if img["id"] in seen:
            raise PoseTrackFormatError(path, f"duplicate image id (also images[{seen[img['id']]}])", rec, "id")
        seen[img["id"]] = i
        ids.append(img["id"])
        flag = img["is_labeled"]
        if type(flag) not in (bool, int):
            raise PoseTrackFormatError(path, f"expected true/false, got {flag!r}", rec, "is_labeled")
        labeled[i] = bool(flag)
        rx, ry = img["ignore_regions_x"], img["ignore_regions_y"]
        if not isinstance(rx, list) or not isinstance(ry, list):
            raise PoseTrackFormatError(path, "expected a list of polygons", rec, "ignore_regions_x")
        if len(rx) != len(ry):
            raise PoseTrackFormatError(path, f"{len(rx)} x-polygons but {len(ry)} y-polygons", rec, "ignore_regions_y")
        for r, (px, py) in enumerate(zip(rx, ry)):
            _numbers(path, rec, f"ignore_regions_x[{r}]", px, None)
            _numbers(path, rec, f"ignore_regions_y[{r}]", py, len(px))
            if not np.isfinite(np.asarray(px + py, np.float64)).all():
                raise PoseTrackFormatError(path, "contains NaN or inf", rec, f"ignore_regions_x[{r}]")
        regions.append((rx, ry))
    return ids, labeled, regions


def _aligned_prediction_images(path: Path, images: list, gt_ids: list[int]) -> None:
    """Check that the prediction lists exactly the GT image ids in GT order (repeats collapse)."""
    gt_set = set(gt_ids)
    order: list[int] = []
    seen: set[int] = set()
    for i, img in enumerate(images):
        rec = f"images[{i}]"
        require_keys(path, rec, img, ("id",))
        if not is_json_int(img["id"]):
            raise PoseTrackFormatError(path, f"expected an integer id, got {img['id']!r}", rec, "id")
        if img["id"] not in gt_set:
            raise PoseTrackFormatError(path, f"unknown image id {img['id']} (not in the ground truth)", rec, "id")
        if img["id"] in seen:  # the kit de-duplicates repeated entries
            continue
        seen.add(img["id"])
        order.append(img["id"])
    if len(order) != len(gt_ids):
        missing = [g for g in gt_ids if g not in seen]
        shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise PoseTrackFormatError(
            path, f"prediction has {len(order)} images, ground truth has {len(gt_ids)}; missing image ids: {shown}"
        )
    for pos, (p, g) in enumerate(zip(order, gt_ids)):
        if p != g:
            raise PoseTrackFormatError(
                path,
                f"image id {p} at position {pos}, the ground truth has {g} there "
                "(prediction images must follow the ground-truth order)",
                "images",
            )


# ----------------------------------------------------------------------------- annotations
def _persons(
    path: Path, annotations: list, index: dict[int, int], num_frames: int, is_gt: bool
) -> tuple[list[Persons], bool]:
    """Validate annotations and group them per frame (file order within a frame).

    Returns:
        The persons of every frame, and whether every annotation has a ``bbox``.
    """
    required = ("image_id", "keypoints", "track_id", "bbox_head") if is_gt else ("image_id", "keypoints", "track_id")
    kps: list[list] = []
    heads: list[list] = []
    boxes: list[list] = []
    frame_of: list[int] = []
    tids: list[int] = []
    box_records: list[int] = []
    scores: list[list] = []
    score_records: list[int] = []
    seen: dict[tuple[int, int], int] = {}
    for i, ann in enumerate(annotations):
        rec = f"annotations[{i}]"
        require_keys(path, rec, ann, required)
        image_id = ann["image_id"]
        if not is_json_int(image_id) or image_id not in index:
            where = "images" if is_gt else "the prediction's images"
            raise PoseTrackFormatError(path, f"unknown image id {image_id!r} (not in {where})", rec, "image_id")
        kps.append(_numbers(path, rec, "keypoints", ann["keypoints"], 3 * NUM_RAW_JOINTS))
        tid = ann["track_id"]
        check_track_id(path, rec, tid)
        t = index[image_id]
        if (t, tid) in seen:
            raise PoseTrackFormatError(
                path, f"track_id {tid} appears twice in image {image_id} (also annotations[{seen[(t, tid)]}])",
                rec, "track_id",
            )  # fmt: skip
        seen[(t, tid)] = i
        tids.append(tid)
        frame_of.append(t)
        if is_gt:  # an empty head box (box-only persons, e.g. MOT ground truth) has size 0
            head = ann["bbox_head"]
            heads.append(_numbers(path, rec, "bbox_head", head, 4) if head != [] else [0.0] * 4)
        if "bbox" in ann:
            boxes.append(_numbers(path, rec, "bbox", ann["bbox"], 4))
            box_records.append(i)
        if not is_gt and "scores" in ann:
            scores.append(_numbers(path, rec, "scores", ann["scores"], NUM_RAW_JOINTS))
            score_records.append(i)

    n = len(annotations)
    records = list(range(n))
    kp_arr = np.asarray(kps, np.float64).reshape(n, NUM_RAW_JOINTS, 3)
    _finite_rows(path, kp_arr, records, "keypoints")
    head_arr = None
    if is_gt:
        head_arr = np.asarray(heads, np.float64).reshape(n, 4)
        _finite_rows(path, head_arr, records, "bbox_head")
    box_arr = np.full((n, 4), np.nan)
    if boxes:
        given = np.asarray(boxes, np.float64).reshape(-1, 4)
        _finite_rows(path, given, box_records, "bbox")
        box_arr[box_records] = given
    if scores:
        _finite_rows(path, np.asarray(scores, np.float64), score_records, "scores")

    frame_arr = np.asarray(frame_of, np.int64)
    order = np.argsort(frame_arr, kind="stable")
    bounds = np.searchsorted(frame_arr[order], np.arange(num_frames + 1))
    tid_arr = np.asarray(tids, np.int64)
    per_frame = []
    for t in range(num_frames):
        sel = order[bounds[t] : bounds[t + 1]]
        per_frame.append(
            Persons(
                keypoints=kp_arr[sel],
                track_ids=tid_arr[sel],
                boxes=box_arr[sel],
                head_boxes=head_arr[sel] if head_arr is not None else None,
                records=sel.astype(np.int64),
            )
        )
    return per_frame, len(box_records) == n


def load_sequence(gt_path: Path, pred_path: Path | None) -> SequenceInput:
    """Read, validate and align one sequence.

    Args:
        gt_path: the ground-truth file.
        pred_path: the prediction file, or ``None`` to score empty predictions.

    Raises:
        PoseTrackFormatError: a malformed file, naming the file, record and field.
    """
    gt_path = Path(gt_path)
    images, annotations = _top_level(gt_path, read_json(gt_path))
    image_ids, labeled, regions = _gt_images(gt_path, images)
    index = {img_id: t for t, img_id in enumerate(image_ids)}
    gt, gt_has_boxes = _persons(gt_path, annotations, index, len(image_ids), is_gt=True)
    if pred_path is None:
        pred = [Persons.empty(with_heads=False) for _ in image_ids]
        pred_has_boxes = True
    else:
        pred_path = Path(pred_path)
        p_images, p_annotations = _top_level(pred_path, read_json(pred_path))
        _aligned_prediction_images(pred_path, p_images, image_ids)
        pred, pred_has_boxes = _persons(pred_path, p_annotations, index, len(image_ids), is_gt=False)
    return SequenceInput(
        name=gt_path.name,
        gt_path=gt_path,
        pred_path=pred_path,
        image_ids=image_ids,
        is_labeled=labeled,
        gt=gt,
        pred=pred,
        gt_has_boxes=gt_has_boxes,
        pred_has_boxes=pred_has_boxes,
        raw_regions=regions,
    )


def find_sequences(
    gt_dir: Path, pred_dir: Path, names: tuple[str, ...] | None = None, allow_missing: bool = False
) -> list[tuple[str, Path, Path | None]]:
    """Pair GT files with prediction files of the same name, sorted by name (the kit's order).

    Every ``*.json`` file of ``gt_dir`` is a sequence (other files are skipped, where the kit
    would crash on them). Prediction files without a GT file are ignored.

    Args:
        gt_dir: the GT folder.
        pred_dir: the prediction folder.
        names: evaluate only these sequences (with or without ``.json``).
        allow_missing: a missing prediction file is scored as empty instead of an error.

    Returns:
        ``(name, gt_path, pred_path or None)`` per sequence.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    for label, folder in (("ground-truth", gt_dir), ("prediction", pred_dir)):
        if not folder.is_dir():
            raise EvalInputError(f"{label} folder not found: {folder}")
    available = sorted(p.name for p in gt_dir.iterdir() if p.suffix == ".json" and p.is_file())
    if not available:
        raise EvalInputError(f"no ground-truth sequence (*.json) in {gt_dir}")
    if names:
        wanted = []
        for n in names:
            full = n if n.endswith(".json") else f"{n}.json"
            if full not in available:
                raise EvalInputError(f"sequence {n!r} is not in {gt_dir}")
            if full not in wanted:
                wanted.append(full)
        available = sorted(wanted)
    out: list[tuple[str, Path, Path | None]] = []
    missing = []
    for name in available:
        pred = pred_dir / name
        if pred.is_file():
            out.append((name, gt_dir / name, pred))
        elif allow_missing:
            out.append((name, gt_dir / name, None))
        else:
            missing.append(name)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise EvalInputError(
            f"{len(missing)} prediction file(s) missing in {pred_dir}: {shown} "
            "(use --allow-missing to score them as empty predictions)"
        )
    return out
