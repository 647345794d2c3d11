"""Evaluate a prediction folder against a PoseTrack21 ground-truth folder.

The one implementation behind ``kprtrack eval`` and ``tools/eval_posetrack21.py``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprtrack.eval.boxes import evaluate_boxes, sequence_data
from kprtrack.eval.clear_frames import posetrack21_counts, poseval_counts
from kprtrack.eval.clear_pose import ClearCounts, clear_metrics
from kprtrack.eval.hota_keypoints import KeypointHota, combine_counts, combine_sequences, evaluate_sequence
from kprtrack.eval.kit_view import kit_view
from kprtrack.eval.loading import find_sequences, load_sequence
from kprtrack.eval.options import EvalOptions

COMBINED = "COMBINED"


@dataclass
class Row:
    """Results of one sequence or of the combination.

    Attributes:
        hota: keypoint HOTA (HOTAeypoints) arrays.
        count: the kit's ``Count`` fields.
        clear_counts: pose CLEAR-MOT counts per joint.
        boxes: box metrics, or ``None`` when they were not computed.
    """

    hota: KeypointHota
    count: dict[str, int]
    clear_counts: ClearCounts
    boxes: dict[str, Any] | None = None

    def clear(self, protocol: str) -> dict[str, Any]:
        """Pose CLEAR-MOT metrics (fractions) of this row."""
        return {
            "protocol": protocol,
            **clear_metrics(self.clear_counts, "poseval" if protocol == "poseval" else "matches"),
        }


@dataclass
class EvalResult:
    """Everything one evaluation produced.

    Attributes:
        options: the options used.
        sequences: sequence name -> row, in the kit's (sorted) order.
        combined: the combined row.
        missing: sequences scored as empty predictions (``--allow-missing``).
        box_note: why box metrics are absent (``None`` when computed or not requested).
    """

    options: EvalOptions
    sequences: dict[str, Row]
    combined: Row
    missing: list[str] = field(default_factory=list)
    box_note: str | None = None

    def to_json(self, detailed: bool = False) -> dict[str, Any]:
        """``{"combined": {...}, "sequences": {name: {...}}}`` (see docs/eval.md); NaN becomes ``null``."""
        protocol = self.options.clear_protocol

        def block(row: Row) -> dict[str, Any]:
            out: dict[str, Any] = dict(row.hota.summary())
            out["per_alpha"] = row.hota.per_alpha()
            out["per_joint"] = row.hota.per_joint()
            if detailed:
                out["per_alpha_per_joint"] = {k: v.tolist() for k, v in row.hota.arrays.items()}
                out["first_alpha_per_joint"] = {k: v.tolist() for k, v in row.hota.first_alpha.items()}
            out["Count"] = dict(row.count)
            out["clear"] = row.clear(protocol)
            out["boxes"] = row.boxes
            return out

        doc = {"combined": block(self.combined), "sequences": {k: block(v) for k, v in self.sequences.items()}}
        return _json_safe(doc)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def evaluate_folders(
    gt_dir: str | os.PathLike[str], pred_dir: str | os.PathLike[str], options: EvalOptions | None = None
) -> EvalResult:
    """Evaluate every GT sequence (or ``options.sequences``) against the prediction folder.

    Args:
        gt_dir: folder of GT ``<sequence>.json`` files.
        pred_dir: folder of prediction files with the same names.
        options: see :class:`~kprtrack.eval.options.EvalOptions`.

    Raises:
        EvalInputError: a folder or prediction file is missing, or an unknown sequence is named.
        PoseTrackFormatError: a malformed file, naming the file, the record and the field.
    """
    options = options or EvalOptions()
    pairs = find_sequences(Path(gt_dir), Path(pred_dir), options.sequences, options.allow_missing)
    rows: dict[str, Row] = {}
    box_data: dict[str, dict] = {}
    box_note = None
    missing = []
    for name, gt_path, pred_path in pairs:
        seq = load_sequence(gt_path, pred_path)
        if pred_path is None:
            missing.append(name)
        view = kit_view(seq)
        counts = poseval_counts(seq) if options.clear_protocol == "poseval" else posetrack21_counts(view)
        rows[name] = Row(evaluate_sequence(view, options.missing_frame_fn), view.count(), counts)
        if options.boxes and box_note is None:
            if not seq.gt_has_boxes:
                box_note = f"box metrics skipped: {gt_path} has annotations without 'bbox'"
            elif not seq.pred_has_boxes:
                box_note = f"box metrics skipped: {pred_path} has annotations without 'bbox'"
            else:
                box_data[name] = sequence_data(seq)
    combined = Row(
        combine_sequences([r.hota for r in rows.values()]),
        combine_counts([r.count for r in rows.values()]),
        sum((r.clear_counts for r in rows.values()), ClearCounts()),
    )
    if options.boxes and box_note is None:
        per_seq, combined.boxes = evaluate_boxes(box_data)
        for name, fields in per_seq.items():
            rows[name].boxes = fields
    return EvalResult(options=options, sequences=rows, combined=combined, missing=missing, box_note=box_note)
