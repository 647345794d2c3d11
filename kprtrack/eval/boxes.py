"""Person-box tracking metrics (HOTA, MOTA, IDF1, IDSW) with the ``trackeval`` package.

GT boxes are the ``bbox`` of every GT person on the labelled frames (box-only persons included),
predicted boxes the ``bbox`` of the predicted persons there; similarity is the box IoU and a
match needs IoU >= 0.5. Ignore regions follow the kit's MOT evaluation: in a frame with GT,
predictions and polygons, a predicted box left unmatched by an IoU >= 0.5 assignment is removed
when its polygon IoU with a region exceeds 0.1.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from kprtrack.eval.loading import SequenceInput
from kprtrack.eval.options import BOX_IGNORE_IOU, BOX_IOU_THRESHOLD
from kprtrack.eval.regions import make_polygons, region_box_iou

EPS = np.finfo(float).eps

#: Box result fields (fractions, except the counts).
BOX_FIELDS: tuple[str, ...] = (
    "HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA",
    "MOTA", "MOTP", "IDF1", "IDR", "IDP", "IDSW", "TP", "FN", "FP", "Frag", "MT", "ML", "Dets", "GT_Dets",
)  # fmt: skip


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (n, 4) and (m, 4) ``[x, y, w, h]`` boxes -> (n, m); 0 where the union is empty."""
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None)
    area_b = np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None)
    union = area_a[:, None] + area_b[None] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _ignored_predictions(iou: np.ndarray, boxes: np.ndarray, polygons: list) -> np.ndarray:
    """Indices of unmatched predicted boxes overlapping an ignore region (the kit's MOT rule)."""
    scores = np.where(iou < BOX_IOU_THRESHOLD - EPS, 0.0, iou)
    rows, cols = linear_sum_assignment(-scores)
    matched = set(cols[scores[rows, cols] > EPS].tolist())
    unmatched = [k for k in range(boxes.shape[0]) if k not in matched]
    return np.array(
        [k for k in unmatched if any(region_box_iou(poly, boxes[k]) > BOX_IGNORE_IOU for poly in polygons)], np.int64
    )


def sequence_data(seq: SequenceInput) -> dict:
    """The ``trackeval`` data dict of one sequence (labelled frames only)."""
    gt_ids, pr_ids, sims = [], [], []
    for t in np.flatnonzero(seq.is_labeled):
        gt, pr = seq.gt[int(t)], seq.pred[int(t)]
        iou = box_iou(gt.boxes, pr.boxes)
        keep = np.arange(len(pr))
        if len(gt) and len(pr):
            polygons = make_polygons(seq.polygons(int(t)))
            if polygons:
                keep = np.setdiff1d(keep, _ignored_predictions(iou, pr.boxes, polygons))
        gt_ids.append(gt.track_ids)
        pr_ids.append(pr.track_ids[keep])
        sims.append(iou[:, keep])
    all_gt = np.concatenate(gt_ids) if gt_ids else np.zeros(0, np.int64)
    all_pr = np.concatenate(pr_ids) if pr_ids else np.zeros(0, np.int64)
    gt_uni, pr_uni = np.unique(all_gt), np.unique(all_pr)
    return {
        "num_timesteps": len(gt_ids),
        "num_gt_ids": int(gt_uni.size),
        "num_tracker_ids": int(pr_uni.size),
        "num_gt_dets": int(all_gt.size),
        "num_tracker_dets": int(all_pr.size),
        "gt_ids": [np.searchsorted(gt_uni, g).astype(int) for g in gt_ids],
        "tracker_ids": [np.searchsorted(pr_uni, p).astype(int) for p in pr_ids],
        "similarity_scores": sims,
        "seq": seq.name,
    }


def _metrics() -> tuple:
    from trackeval.metrics import CLEAR, HOTA, Identity

    cfg = {"THRESHOLD": BOX_IOU_THRESHOLD, "PRINT_CONFIG": False}
    return HOTA(), CLEAR(cfg), Identity(cfg)


def _summary(hota: dict, clear: dict, ident: dict, num_dets: int, num_gt_dets: int) -> dict:
    out: dict = {k: float(np.mean(hota[k])) for k in ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr")}
    out["LocA"] = float(np.mean(hota["LocA"]))
    out["MOTA"] = float(clear["MOTA"])
    out["MOTP"] = float(clear["MOTP"])
    out.update({k: float(ident[k]) for k in ("IDF1", "IDR", "IDP")})
    out.update({"IDSW": int(clear["IDSW"]), "TP": int(clear["CLR_TP"]), "FN": int(clear["CLR_FN"])})
    out.update({"FP": int(clear["CLR_FP"]), "Frag": int(clear["Frag"]), "MT": int(clear["MT"]), "ML": int(clear["ML"])})
    out.update({"Dets": num_dets, "GT_Dets": num_gt_dets})
    return out


def evaluate_boxes(data: dict[str, dict]) -> tuple[dict[str, dict], dict]:
    """Box metrics per sequence and combined (trackeval's combination: counts pooled).

    Args:
        data: sequence name -> :func:`sequence_data` (in the kit's sorted order).

    Returns:
        ``({sequence name: fields}, combined fields)``, fields as in ``BOX_FIELDS``.
    """
    hota_m, clear_m, id_m = _metrics()
    per_seq: dict[str, dict] = {}
    raw: dict[str, tuple[dict, dict, dict]] = {}
    for name, d in data.items():
        raw[name] = (hota_m.eval_sequence(d), clear_m.eval_sequence(d), id_m.eval_sequence(d))
        per_seq[name] = _summary(*raw[name], d["num_tracker_dets"], d["num_gt_dets"])
    combined = _summary(
        hota_m.combine_sequences({k: v[0] for k, v in raw.items()}),
        clear_m.combine_sequences({k: v[1] for k, v in raw.items()}),
        id_m.combine_sequences({k: v[2] for k, v in raw.items()}),
        sum(d["num_tracker_dets"] for d in data.values()),
        sum(d["num_gt_dets"] for d in data.values()),
    )
    return per_seq, combined
