"""YOLOX postprocessing: score threshold, NMS and rescaling, as Megvii and as mmdet do it.

Rows are ``[x1, y1, x2, y2, obj, class_conf, class_pred]`` (float32), sorted by descending
``obj * class_conf``. The two conventions differ in *when* boxes are rescaled to the image:

* **megvii** (``yolox/utils/boxes.py postprocess``, then ``boxes / r`` in ``tools/demo.py``):
  threshold and NMS on letterboxed-input boxes, then divide by the single ratio ``r``.
* **mmdet** (``YOLOXHead.predict_by_feat`` with ``rescale=True``): divide by the per-axis scale factors
  *first*, then threshold and NMS in image pixels.

Unlike Megvii's ``postprocess`` nothing here writes into the tensor passed in.
"""

from __future__ import annotations

import torch
import torchvision


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """``(..., 4)`` centre/size -> corners, with the reference's arithmetic (``cx - w / 2`` ...)."""
    return torch.stack(
        [
            boxes[..., 0] - boxes[..., 2] / 2,
            boxes[..., 1] - boxes[..., 3] / 2,
            boxes[..., 0] + boxes[..., 2] / 2,
            boxes[..., 1] + boxes[..., 3] / 2,
        ],
        dim=-1,
    )


def _nms(rows: torch.Tensor, iou_threshold: float, class_agnostic: bool) -> torch.Tensor:
    scores = rows[:, 4] * rows[:, 5]
    if class_agnostic:
        keep = torchvision.ops.nms(rows[:, :4], scores, iou_threshold)
    else:
        keep = torchvision.ops.batched_nms(rows[:, :4], scores, rows[:, 6], iou_threshold)
    return rows[keep]


def candidate_rows(pred: torch.Tensor, num_classes: int, conf_threshold: float) -> torch.Tensor:
    """Rows of the anchors of one image whose ``obj * max class prob >= conf_threshold``.

    Args:
        pred: ``(A, 5 + C)`` decoded predictions ``[cx, cy, w, h, obj, probs]``.

    Returns:
        ``(n, 7)`` rows ``[x1, y1, x2, y2, obj, class_conf, class_pred]`` in anchor order.
    """
    class_conf, class_pred = torch.max(pred[:, 5 : 5 + num_classes], 1, keepdim=True)
    mask = pred[:, 4] * class_conf.squeeze(1) >= conf_threshold
    rows = torch.cat((cxcywh_to_xyxy(pred[:, :4]), pred[:, 4:5], class_conf, class_pred.to(pred.dtype)), 1)
    return rows[mask]


def postprocess_megvii(
    pred: torch.Tensor,
    num_classes: int,
    conf_threshold: float = 0.1,
    nms_threshold: float = 0.45,
    class_agnostic: bool = False,
) -> list[torch.Tensor]:
    """Megvii's ``postprocess``: per image threshold then (batched) NMS, boxes in input pixels.

    Args:
        pred: ``(B, A, 5 + C)`` decoded predictions.

    Returns:
        ``B`` tensors ``(n_i, 7)`` (empty ``(0, 7)`` when nothing passes).
    """
    out = []
    for image_pred in pred.float():
        rows = candidate_rows(image_pred, num_classes, conf_threshold)
        out.append(_nms(rows, nms_threshold, class_agnostic) if rows.shape[0] else rows)
    return out


def rescale_megvii(rows: torch.Tensor, ratio: float) -> torch.Tensor:
    """Boxes back to the original image: columns 0-3 divided by the single ratio (not clipped)."""
    out = rows.clone()
    out[:, :4] = rows[:, :4] / ratio
    return out


def postprocess_mmdet(
    pred: torch.Tensor,
    num_classes: int,
    box_scales_xy: list[tuple[float, float]] | None,
    conf_threshold: float = 0.01,
    nms_threshold: float = 0.65,
    class_agnostic: bool = False,
) -> list[torch.Tensor]:
    """mmdet's ``predict_by_feat``: rescale (when ``box_scales_xy`` is given) *before* threshold and NMS.

    Args:
        pred: ``(B, A, 5 + C)`` decoded predictions.
        box_scales_xy: per image ``(w_scale, h_scale)``, or ``None`` to stay in input pixels.

    Returns:
        ``B`` tensors ``(n_i, 7)``.
    """
    out = []
    for i, image_pred in enumerate(pred.float()):
        rows = candidate_rows(image_pred, num_classes, conf_threshold)
        if box_scales_xy is not None:
            sx, sy = box_scales_xy[i]
            rows = rows.clone()
            rows[:, :4] = rows[:, :4] / rows.new_tensor([sx, sy, sx, sy])
        out.append(_nms(rows, nms_threshold, class_agnostic) if rows.shape[0] else rows)
    return out


def _nms_pair_margin(rows: torch.Tensor, iou_threshold: float, class_agnostic: bool) -> float:
    """Min ``|IoU - threshold|`` over the pairs a greedy NMS compares against a kept box."""
    if rows.shape[0] < 2:
        return float("inf")
    order = (rows[:, 4] * rows[:, 5]).argsort(descending=True)
    rows = rows[order].double()
    iou = torchvision.ops.box_iou(rows[:, :4], rows[:, :4])
    n = rows.shape[0]
    suppressed = torch.zeros(n, dtype=torch.bool)
    best = float("inf")
    for a in range(n):
        if suppressed[a]:
            continue
        later = torch.arange(a + 1, n)
        later = later[~suppressed[later]]
        if not class_agnostic:
            later = later[rows[later, 6] == rows[a, 6]]
        if later.numel() == 0:
            continue
        best = min(best, float((iou[a, later] - iou_threshold).abs().min()))
        suppressed[later[iou[a, later] > iou_threshold]] = True
    return best


def decision_margins(
    pred: torch.Tensor,
    num_classes: int,
    conf_threshold: float,
    nms_threshold: float,
    box_scale_xy: tuple[float, float] | None = None,
) -> dict[str, float]:
    """How far one image's detections are from their decision boundaries (a fixture's robustness check).

    Args:
        pred: ``(A, 5 + C)`` decoded output of one image.
        box_scale_xy: mmdet's per-axis factors, to include the NMS run in image pixels.

    Returns:
        ``num_candidates``; ``conf_margin`` (min over anchors of ``|score - conf_threshold|``);
        ``cls_top2_margin`` (min best-minus-second class prob over candidates); ``nms_iou_margin``
        (min ``|IoU - nms_threshold|`` over the pairs class-aware and class-agnostic NMS compare);
        ``score_gap_min`` (min gap between candidate scores). ``inf`` where nothing is compared.
    """
    pred = pred.float()
    probs = pred[:, 5 : 5 + num_classes]
    scores = pred[:, 4] * probs.max(1).values
    cand = scores >= conf_threshold
    out = {"num_candidates": float(cand.sum()), "conf_margin": float((scores - conf_threshold).abs().min())}
    top2 = probs[cand].topk(min(2, num_classes), dim=1).values
    inf = float("inf")
    out["cls_top2_margin"] = float((top2[:, 0] - top2[:, 1]).min()) if top2.shape[0] and num_classes > 1 else inf
    gaps = scores[cand].sort().values.diff()
    out["score_gap_min"] = float(gaps.min()) if gaps.numel() else inf
    rows = candidate_rows(pred, num_classes, conf_threshold)
    variants = [rows]
    if box_scale_xy is not None:
        scaled = rows.clone()
        sx, sy = box_scale_xy
        scaled[:, :4] = rows[:, :4] / rows.new_tensor([sx, sy, sx, sy])
        variants.append(scaled)
    out["nms_iou_margin"] = min(
        _nms_pair_margin(r, nms_threshold, agnostic) for r in variants for agnostic in (False, True)
    )
    return out
