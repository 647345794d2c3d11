"""PoseTrack21 JSON files: read and validate ground truth, read and write predictions.

One JSON file per sequence, in the official layout (the one the PoseTrack21 evaluation kit reads):

* ground truth: ``images[]`` (id, file_name, frame_id, vid_id, nframes, is_labeled,
  has_labeled_person, ignore_regions_x, ignore_regions_y), ``annotations[]`` (id, image_id,
  bbox ``[x, y, w, h]``, bbox_head, keypoints (51 = 17 x ``x, y, visibility``), track_id,
  person_id, category_id) and ``categories``;
* predictions: ``images[]`` with exactly the ground-truth image ids in ground-truth order, and
  ``annotations[]`` with image_id, keypoints (51 = 17 x ``x, y, score``), scores (17), track_id,
  bbox and category_id.

Keypoints follow the ``posetrack21`` convention (see :mod:`kprtrack.keypoints`). The kit treats a
joint as present iff ``x > 0 and y > 0``; absent joints are written as ``0, 0, 0``.

Every validation error is a :class:`PoseTrackFormatError` naming the file, the record (list and
index) and the field. Writes are atomic.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kprtrack.errors import KprtrackError
from kprtrack.io.atomic import atomic_write_text
from kprtrack.keypoints import POSETRACK21_NAMES, SKELETON
from kprtrack.structures import FrameRecord

NUM_KEYPOINTS = 17
#: the largest track id kprtrack reads (ids are stored as int64).
MAX_TRACK_ID = 2**63 - 1

#: The ``categories`` entry of PoseTrack21 files (skeleton edges are 1-based there).
CATEGORIES: list[dict[str, Any]] = [
    {
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": list(POSETRACK21_NAMES),
        "skeleton": [[a + 1, b + 1] for a, b in SKELETON],
    }
]

GT_IMAGE_FIELDS = (
    "id", "file_name", "frame_id", "vid_id", "nframes", "is_labeled", "has_labeled_person",
    "ignore_regions_x", "ignore_regions_y",
)  # fmt: skip
GT_ANNOTATION_FIELDS = ("id", "image_id", "bbox", "bbox_head", "keypoints", "track_id", "person_id", "category_id")
PRED_IMAGE_FIELDS = ("id",)
PRED_ANNOTATION_FIELDS = ("image_id", "keypoints", "track_id")


class PoseTrackFormatError(KprtrackError, ValueError):
    """A PoseTrack21 file is malformed.

    Attributes:
        path: the file.
        record: e.g. ``"annotations[12]"`` (or ``""`` for the whole file).
        field_name: the offending key (or ``""``).
    """

    def __init__(self, path: str | os.PathLike[str], message: str, record: str = "", field_name: str = "") -> None:
        self.path = str(path)
        self.record = record
        self.field_name = field_name
        where = self.path
        if record:
            where += f": {record}"
        if field_name:
            where += f".{field_name}"
        super().__init__(f"{where}: {message}")


def make_image_id(vid_id: int, frame_index: int) -> int:
    """PoseTrack image id: ``1`` + 6-digit video id + 4-digit frame index."""
    if not 0 <= vid_id < 1_000_000 or not 0 <= frame_index < 10_000:
        raise ValueError(f"video id {vid_id} / frame {frame_index} out of the PoseTrack id range")
    return int(f"1{vid_id:06d}{frame_index:04d}")


# ----------------------------------------------------------------------------- validation helpers
def is_json_int(v: Any) -> bool:
    """An integer of a JSON document (``True``/``False`` are not)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _check_numbers(path: Path, record: str, name: str, value: Any, length: int | None) -> None:
    if not isinstance(value, list):
        raise PoseTrackFormatError(path, f"expected a list of numbers, got {type(value).__name__}", record, name)
    if length is not None and len(value) != length:
        raise PoseTrackFormatError(path, f"expected {length} values, got {len(value)}", record, name)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PoseTrackFormatError(path, f"expected numbers, found {v!r}", record, name)
        if not math.isfinite(v):
            raise PoseTrackFormatError(path, "contains NaN or inf", record, name)


def check_track_id(path: Path, record: str, value: Any) -> None:
    """Raise :class:`PoseTrackFormatError` unless ``value`` is a track id (an integer in ``[0, MAX_TRACK_ID]``)."""
    if not is_json_int(value):
        raise PoseTrackFormatError(path, f"expected a non-negative integer, got {value!r}", record, "track_id")
    if value < 0:
        raise PoseTrackFormatError(path, f"negative track ids are not allowed, got {value}", record, "track_id")
    if value > MAX_TRACK_ID:
        raise PoseTrackFormatError(path, f"track id {value} does not fit 64 bits", record, "track_id")


def require_keys(path: Path, record: str, obj: Any, fields: Sequence[str]) -> None:
    """Raise :class:`PoseTrackFormatError` unless ``obj`` is an object with all of ``fields``."""
    if not isinstance(obj, dict):
        raise PoseTrackFormatError(path, f"expected an object, got {type(obj).__name__}", record)
    for name in fields:
        if name not in obj:
            raise PoseTrackFormatError(path, "missing key", record, name)


def check_top_lists(path: Path, data: Any, keys: Sequence[str]) -> None:
    """Raise :class:`PoseTrackFormatError` unless ``data`` is an object whose ``keys`` are lists."""
    if not isinstance(data, dict):
        raise PoseTrackFormatError(path, "expected a JSON object at the top level")
    for key in keys:
        if key not in data:
            raise PoseTrackFormatError(path, f"missing top-level key '{key}'")
        if not isinstance(data[key], list):
            raise PoseTrackFormatError(path, f"'{key}' must be a list")


def _check_image_ids(path: Path, images: list[dict]) -> dict[int, int]:
    index: dict[int, int] = {}
    for i, img in enumerate(images):
        if not is_json_int(img["id"]):
            raise PoseTrackFormatError(path, f"expected an integer id, got {img['id']!r}", f"images[{i}]", "id")
        if img["id"] in index:
            raise PoseTrackFormatError(
                path, f"duplicate image id {img['id']} (also images[{index[img['id']]}])", f"images[{i}]", "id"
            )
        index[img["id"]] = i
    return index


def _check_unique_tracks_per_image(path: Path, annotations: list[dict]) -> None:
    seen: dict[tuple[int, int], int] = {}
    for i, ann in enumerate(annotations):
        key = (ann["image_id"], ann["track_id"])
        if key in seen:
            raise PoseTrackFormatError(
                path,
                f"track_id {ann['track_id']} appears twice in image {ann['image_id']} (also annotations[{seen[key]}])",
                f"annotations[{i}]",
                "track_id",
            )
        seen[key] = i


def validate_ground_truth(data: Any, path: str | os.PathLike[str] = "<memory>") -> None:
    """Check a parsed ground-truth file; raise :class:`PoseTrackFormatError` on the first problem."""
    path = Path(path)
    check_top_lists(path, data, ("images", "annotations"))
    images, annotations = data["images"], data["annotations"]
    for i, img in enumerate(images):
        rec = f"images[{i}]"
        require_keys(path, rec, img, GT_IMAGE_FIELDS)
        rx, ry = img["ignore_regions_x"], img["ignore_regions_y"]
        if not isinstance(rx, list) or not isinstance(ry, list) or len(rx) != len(ry):
            raise PoseTrackFormatError(path, "ignore_regions_x and _y must be lists of equal length", rec)
        for r, (px, py) in enumerate(zip(rx, ry)):
            _check_numbers(path, rec, f"ignore_regions_x[{r}]", px, None)
            _check_numbers(path, rec, f"ignore_regions_y[{r}]", py, len(px))
            if len(px) < 3:
                raise PoseTrackFormatError(path, "a polygon needs at least 3 points", rec, f"ignore_regions_x[{r}]")
    ids = _check_image_ids(path, images)
    ann_ids: dict[Any, int] = {}
    for i, ann in enumerate(annotations):
        rec = f"annotations[{i}]"
        require_keys(path, rec, ann, GT_ANNOTATION_FIELDS)
        if ann["image_id"] not in ids:
            raise PoseTrackFormatError(path, f"unknown image id {ann['image_id']!r}", rec, "image_id")
        if ann["id"] in ann_ids:
            raise PoseTrackFormatError(
                path, f"duplicate annotation id (also annotations[{ann_ids[ann['id']]}])", rec, "id"
            )
        ann_ids[ann["id"]] = i
        _check_numbers(path, rec, "keypoints", ann["keypoints"], 3 * NUM_KEYPOINTS)
        _check_numbers(path, rec, "bbox", ann["bbox"], 4)
        if ann["bbox_head"] != []:  # box-only persons (e.g. MOT ground truth) may have no head box
            _check_numbers(path, rec, "bbox_head", ann["bbox_head"], 4)
        check_track_id(path, rec, ann["track_id"])
    _check_unique_tracks_per_image(path, annotations)


def validate_predictions(
    data: Any, path: str | os.PathLike[str] = "<memory>", gt_image_ids: Sequence[int] | None = None
) -> None:
    """Check a parsed prediction file; with ``gt_image_ids`` also check the image list equals it."""
    path = Path(path)
    check_top_lists(path, data, ("images", "annotations"))
    images, annotations = data["images"], data["annotations"]
    for i, img in enumerate(images):
        require_keys(path, f"images[{i}]", img, PRED_IMAGE_FIELDS)
    ids = _check_image_ids(path, images)
    if gt_image_ids is not None:
        pred_ids = [img["id"] for img in images]
        if len(pred_ids) != len(gt_image_ids):
            raise PoseTrackFormatError(
                path, f"prediction has {len(pred_ids)} images, ground truth has {len(gt_image_ids)}"
            )
        for pos, (p, g) in enumerate(zip(pred_ids, gt_image_ids)):
            if p != g:
                raise PoseTrackFormatError(
                    path, f"image id {p} at position {pos}, ground truth has {g} there", f"images[{pos}]", "id"
                )
    for i, ann in enumerate(annotations):
        rec = f"annotations[{i}]"
        require_keys(path, rec, ann, PRED_ANNOTATION_FIELDS)
        if ann["image_id"] not in ids:
            raise PoseTrackFormatError(path, f"unknown image id {ann['image_id']!r}", rec, "image_id")
        _check_numbers(path, rec, "keypoints", ann["keypoints"], 3 * NUM_KEYPOINTS)
        if "scores" in ann:
            _check_numbers(path, rec, "scores", ann["scores"], NUM_KEYPOINTS)
        if "bbox" in ann:
            _check_numbers(path, rec, "bbox", ann["bbox"], 4)
        check_track_id(path, rec, ann["track_id"])
    _check_unique_tracks_per_image(path, annotations)


# ----------------------------------------------------------------------------- sequences
@dataclass
class PoseTrackSequence:
    """One PoseTrack21 sequence file (ground truth or predictions).

    Attributes:
        name: the file name (the kit's sequence name, e.g. ``000342_mpii_test.json``).
        images: the ``images`` list, in file order.
        annotations: the ``annotations`` list.
        categories: the ``categories`` list (may be empty for predictions).
    """

    name: str
    images: list[dict[str, Any]]
    annotations: list[dict[str, Any]]
    categories: list[dict[str, Any]] = field(default_factory=lambda: [dict(c) for c in CATEGORIES])

    @property
    def image_ids(self) -> list[int]:
        """Image ids in file order."""
        return [img["id"] for img in self.images]

    def annotations_by_image(self) -> dict[int, list[dict[str, Any]]]:
        """Image id -> its annotations (every image present, possibly with an empty list)."""
        out: dict[int, list[dict[str, Any]]] = {img["id"]: [] for img in self.images}
        for ann in self.annotations:
            out[ann["image_id"]].append(ann)
        return out

    def to_records(self) -> list[FrameRecord]:
        """One :class:`FrameRecord` per image (file order), keypoints in the posetrack21 convention.

        Boxes come from ``bbox`` (``[x, y, w, h]`` -> xyxy) when present, else from the keypoints;
        scores are the annotation ``score`` if any, else 1; track ids are the annotation track ids.
        """
        by_image = self.annotations_by_image()
        records = []
        for frame_index, img in enumerate(self.images):
            anns = by_image[img["id"]]
            kps = np.array([a["keypoints"] for a in anns], np.float32).reshape(-1, NUM_KEYPOINTS, 3)
            boxes = np.array([_annotation_box(a, k) for a, k in zip(anns, kps)], np.float32).reshape(-1, 4)
            scores = np.array([float(a.get("score", 1.0)) for a in anns], np.float32)
            tids = np.array([a["track_id"] for a in anns], np.int64)
            records.append(
                FrameRecord(
                    boxes=boxes,
                    scores=scores,
                    keypoints=kps,
                    track_ids=tids,
                    frame_index=frame_index,
                    keypoint_format="posetrack21",
                )
            )
        return records


def _annotation_box(ann: Mapping[str, Any], kps: np.ndarray) -> list[float]:
    bbox = ann.get("bbox")
    if bbox is not None and len(bbox) == 4:
        x, y, w, h = (float(v) for v in bbox)
        return [x, y, x + max(w, 0.0), y + max(h, 0.0)]
    present = (kps[:, 0] > 0) & (kps[:, 1] > 0)
    if not present.any():
        return [0.0, 0.0, 0.0, 0.0]
    pts = kps[present, :2]
    return [*pts.min(0).tolist(), *pts.max(0).tolist()]


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; a syntax error, a binary file or absurd nesting is a :class:`PoseTrackFormatError`.

    Raises:
        FileNotFoundError: the file does not exist.
        PoseTrackFormatError: the file is not valid JSON (naming it, with line and column).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PoseTrack21 file not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PoseTrackFormatError(path, f"not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise PoseTrackFormatError(path, "not a PoseTrack21 file (JSON nested too deeply)") from exc


def read_ground_truth(path: str | os.PathLike[str]) -> PoseTrackSequence:
    """Read and validate a ground-truth sequence file."""
    path = Path(path)
    data = read_json(path)
    validate_ground_truth(data, path)
    return PoseTrackSequence(path.name, data["images"], data["annotations"], data.get("categories", []))


def read_predictions(path: str | os.PathLike[str], gt: PoseTrackSequence | None = None) -> PoseTrackSequence:
    """Read and validate a prediction file (against ``gt``'s image list when given)."""
    path = Path(path)
    data = read_json(path)
    validate_predictions(data, path, gt.image_ids if gt is not None else None)
    return PoseTrackSequence(path.name, data["images"], data["annotations"], data.get("categories", []))


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def write_ground_truth(path: str | os.PathLike[str], sequence: PoseTrackSequence) -> None:
    """Validate and write a ground-truth sequence atomically."""
    data = {"images": sequence.images, "annotations": sequence.annotations, "categories": sequence.categories}
    validate_ground_truth(data, path)
    atomic_write_text(path, _dump(data))


def _r(v: float) -> float:
    return round(float(v), 2)


def prediction_annotations(image_id: int, record: FrameRecord) -> list[dict[str, Any]]:
    """Annotations of one frame's tracked rows (``track_ids >= 0``), keypoints written as given.

    The record's keypoints must be in the posetrack21 convention; convert first otherwise.
    """
    if record.keypoint_format != "posetrack21":
        raise ValueError(
            f"predictions must be in the posetrack21 keypoint convention, got {record.keypoint_format!r} "
            "(use kprtrack.keypoints.convert_keypoints)"
        )
    if record.track_ids is None:
        raise ValueError("record has no track_ids: run a tracker first")
    anns = []
    for box, score, kps, tid in zip(record.boxes, record.scores, record.keypoints, record.track_ids):
        if tid < 0:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        anns.append(
            {
                "image_id": int(image_id),
                "keypoints": [_r(v) for v in kps.reshape(-1)],
                "scores": [_r(v) for v in kps[:, 2]],
                "track_id": int(tid),
                "bbox": [_r(x1), _r(y1), _r(x2 - x1), _r(y2 - y1)],
                "score": _r(score),
                "category_id": 1,
            }
        )
    return anns


def predictions_document(
    images: Sequence[Mapping[str, Any]], records: Mapping[int, FrameRecord] | Iterable[tuple[int, FrameRecord]]
) -> dict[str, Any]:
    """Build a prediction file's content.

    Args:
        images: the ground-truth (or video) ``images`` list; written in this order with id,
            file_name and frame_id.
        records: image id -> tracked record (images without a record get no annotation).
    """
    pairs = records.items() if isinstance(records, Mapping) else records
    known = {img["id"] for img in images}
    annotations: list[dict[str, Any]] = []
    for image_id, record in pairs:
        if image_id not in known:
            raise ValueError(f"record for unknown image id {image_id}")
        annotations.extend(prediction_annotations(image_id, record))
    out_images = [
        {k: img[k] for k in ("id", "file_name", "frame_id", "vid_id", "nframes", "is_labeled") if k in img}
        for img in images
    ]
    return {"images": out_images, "annotations": annotations, "categories": [dict(c) for c in CATEGORIES]}


def write_predictions(
    path: str | os.PathLike[str],
    images: Sequence[Mapping[str, Any]],
    records: Mapping[int, FrameRecord] | Iterable[tuple[int, FrameRecord]],
) -> dict[str, Any]:
    """Build, validate and atomically write a prediction file; returns its content."""
    data = predictions_document(images, records)
    validate_predictions(data, path, [img["id"] for img in images])
    atomic_write_text(path, _dump(data))
    return data


def video_images(vid_id: int, num_frames: int, name: str = "video") -> list[dict[str, Any]]:
    """An ``images`` list for a plain video with no ground truth (every frame labelled).

    Image ids follow the PoseTrack convention (:func:`make_image_id`) for the first 10,000 frames;
    a longer video continues counting from the first frame's id (``id(0) + t``), which keeps the ids
    of one file unique and increasing where the 4-digit frame field would overflow.
    """
    first = make_image_id(vid_id, 0)

    def image_id(t: int) -> int:
        return make_image_id(vid_id, t) if t < 10_000 else first + t

    return [
        {
            "id": image_id(t),
            "file_name": f"images/{name}/{t:06d}.jpg",
            "frame_id": image_id(t),
            "vid_id": vid_id,
            "nframes": num_frames,
            "is_labeled": True,
        }
        for t in range(num_frames)
    ]


class PredictionWriter:
    """Collect a video's tracked records compactly and write one prediction file at the end.

    Only the tracked rows' boxes, scores, keypoints and ids are kept, as small numpy arrays
    (about 250 bytes a person), and the JSON is streamed to disk atomically when :meth:`close`
    is called, so a long video never holds its whole JSON document in memory.

    Args:
        path: destination file.
        images: the ``images`` entries of the video's frames, in order.
    """

    def __init__(self, path: str | os.PathLike[str], images: Sequence[Mapping[str, Any]]) -> None:
        self.path = Path(path)
        self.images = list(images)
        self._ids = {img["id"] for img in self.images}
        self._rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.num_annotations = 0

    def add(self, image_id: int, record: FrameRecord) -> None:
        """Keep the tracked rows of ``record`` (posetrack21 keypoints) for image ``image_id``."""
        if image_id not in self._ids:
            raise ValueError(f"record for unknown image id {image_id}")
        if record.keypoint_format != "posetrack21":
            raise ValueError(f"predictions must use the posetrack21 convention, got {record.keypoint_format!r}")
        if record.track_ids is None:
            raise ValueError("record has no track_ids: run a tracker first")
        keep = record.track_ids >= 0
        if not keep.any():
            return
        self._rows.append(
            (int(image_id), record.boxes[keep], record.scores[keep], record.keypoints[keep], record.track_ids[keep])
        )
        self.num_annotations += int(keep.sum())

    def truncate(self, num_images: int) -> None:
        """Keep only the first ``num_images`` images and their records (a run that stopped early)."""
        kept = {img["id"] for img in self.images[:num_images]}
        self.images = self.images[:num_images]
        self._ids = kept
        self._rows = [row for row in self._rows if row[0] in kept]
        self.num_annotations = sum(len(row[4]) for row in self._rows)

    def track_lengths(self) -> dict[int, int]:
        """Number of frames each track id was written in so far."""
        counts: dict[int, int] = {}
        for _, _, _, _, ids in self._rows:
            for tid in ids.tolist():
                counts[tid] = counts.get(tid, 0) + 1
        return counts

    def records(self, min_track_length: int = 0) -> Iterable[tuple[int, FrameRecord]]:
        """``(position in images, record)`` of every frame with kept annotations.

        Args:
            min_track_length: drop tracks present in fewer frames than this.
        """
        lengths = self.track_lengths() if min_track_length > 1 else {}
        position = {img["id"]: i for i, img in enumerate(self.images)}
        for image_id, boxes, scores, kps, ids in self._rows:
            keep = np.array([lengths.get(t, 0) >= min_track_length for t in ids.tolist()]) if lengths else None
            record = FrameRecord(
                boxes, scores, kps, track_ids=ids, frame_index=position[image_id], keypoint_format="posetrack21"
            )
            yield image_id, (record[keep] if keep is not None else record)

    def close(self, min_track_length: int = 0) -> int:
        """Write the file (atomically, streaming annotation by annotation).

        Args:
            min_track_length: drop tracks present in fewer frames than this.

        Returns:
            The number of annotations written.
        """
        from kprtrack.io.atomic import atomic_open

        doc = predictions_document(self.images, [])
        n = 0
        with atomic_open(self.path, "w") as f:
            f.write('{"images":' + json.dumps(doc["images"], separators=(",", ":")) + ',"annotations":[')
            for image_id, record in self.records(min_track_length):
                for ann in prediction_annotations(image_id, record):
                    f.write(("," if n else "") + json.dumps(ann, separators=(",", ":")))
                    n += 1
            f.write('],"categories":' + json.dumps(doc["categories"], separators=(",", ":")) + "}")
        return n
