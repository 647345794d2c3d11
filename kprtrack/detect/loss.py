"""The YOLOX training loss (Megvii's ``YOLOXHead.get_losses``), with SimOTA label assignment.

Per image, candidate anchors are those whose centre lies within 1.5 strides of a ground-truth centre
(``get_geometry_constraint``); SimOTA scores every (gt, candidate) pair with
``BCE(sqrt(sigmoid(cls) * sigmoid(obj)), one-hot) + 3 * -log(IoU + 1e-8) + 1e6 * (outside)``, gives each
gt its ``k = clamp(int(sum of its top-10 IoUs), min=1)`` cheapest anchors and resolves anchors claimed by
several gts in favour of the cheapest. The loss, normalised by the number of foreground anchors, is
``5 * IoU loss (1 - IoU^2) + objectness BCE (all anchors) + class BCE (IoU-weighted one-hot targets)
+ L1 on the raw box regression`` -- the last only when ``use_l1`` is on, which the official trainer does
for the last 15 (no-augmentation) epochs.

Targets follow Megvii's label layout: ``(B, M, 5)`` rows ``[class, cx, cy, w, h]`` in input pixels,
zero rows as padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kprtrack.detect.model import flatten_levels, level_grids

#: weight of the IoU loss (``reg_weight`` in Megvii's head).
REG_WEIGHT = 5.0
#: radius (in strides) of the centre region an anchor must lie in to be a candidate.
CENTER_RADIUS = 1.5


@dataclass
class LossOutput:
    """One loss evaluation.

    Attributes:
        total: scalar to back-propagate.
        iou: ``5 * IoU loss``. obj: objectness BCE. cls: class BCE. l1: L1 loss (0 without ``use_l1``).
        num_fg_per_gt: foreground anchors per ground-truth box (Megvii's ``num_fg``).
    """

    total: torch.Tensor
    iou: torch.Tensor
    obj: torch.Tensor
    cls: torch.Tensor
    l1: torch.Tensor
    num_fg_per_gt: float

    def as_dict(self) -> dict[str, float]:
        """Plain floats for logging."""
        return {
            "total_loss": float(self.total.detach()),
            "iou_loss": float(self.iou.detach()),
            "conf_loss": float(self.obj.detach()),
            "cls_loss": float(self.cls.detach()),
            "l1_loss": float(self.l1.detach()),
            "num_fg": self.num_fg_per_gt,
        }


def iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU ``(N, M)`` of centre/size boxes ``a (N, 4)`` and ``b (M, 4)`` (``bboxes_iou(xyxy=False)``)."""
    tl = torch.max(a[:, None, :2] - a[:, None, 2:] / 2, b[:, :2] - b[:, 2:] / 2)
    br = torch.min(a[:, None, :2] + a[:, None, 2:] / 2, b[:, :2] + b[:, 2:] / 2)
    area_a = torch.prod(a[:, 2:], 1)
    area_b = torch.prod(b[:, 2:], 1)
    inside = (tl < br).type(tl.type()).prod(dim=2)
    area_i = torch.prod(br - tl, 2) * inside
    return area_i / (area_a[:, None] + area_b - area_i)


def iou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Element-wise ``1 - IoU^2`` of matched centre/size boxes ``(N, 4)`` (Megvii's ``IOUloss``)."""
    tl = torch.max(pred[:, :2] - pred[:, 2:] / 2, target[:, :2] - target[:, 2:] / 2)
    br = torch.min(pred[:, :2] + pred[:, 2:] / 2, target[:, :2] + target[:, 2:] / 2)
    area_p = torch.prod(pred[:, 2:], 1)
    area_g = torch.prod(target[:, 2:], 1)
    inside = (tl < br).type(tl.type()).prod(dim=1)
    area_i = torch.prod(br - tl, 1) * inside
    iou = area_i / (area_p + area_g - area_i + 1e-16)
    return 1 - iou**2


@dataclass
class Assignment:
    """SimOTA result for one image over all ``A`` anchors.

    Attributes:
        fg_mask: ``(A,)`` bool foreground anchors.
        matched_gt: ``(F,)`` index of the gt of each foreground anchor (in anchor order).
        matched_classes: ``(F,)`` class of that gt.
        matched_ious: ``(F,)`` IoU between the anchor's predicted box and its gt.
    """

    fg_mask: torch.Tensor
    matched_gt: torch.Tensor
    matched_classes: torch.Tensor
    matched_ious: torch.Tensor


@torch.no_grad()
def simota_assign(
    gt_boxes: torch.Tensor,
    gt_classes: torch.Tensor,
    pred_boxes: torch.Tensor,
    cls_logits: torch.Tensor,
    obj_logits: torch.Tensor,
    grid: torch.Tensor,
    strides: torch.Tensor,
    num_classes: int,
) -> Assignment:
    """Assign anchors of one image to its ground truth (``get_assignments`` + ``simota_matching``).

    Args:
        gt_boxes: ``(G, 4)`` cx, cy, w, h; ``G >= 1``.
        gt_classes: ``(G,)`` class ids.
        pred_boxes: ``(A, 4)`` decoded predicted boxes.
        cls_logits: ``(A, C)``. obj_logits: ``(A, 1)``.
        grid: ``(A, 2)`` anchor cell ``(x, y)``. strides: ``(A, 1)``.
    """
    num_gt = gt_boxes.shape[0]
    centers = (grid + 0.5) * strides  # (A, 2)
    radius = strides[:, 0] * CENTER_RADIUS  # (A,)
    delta = torch.stack(
        [
            centers[None, :, 0] - (gt_boxes[:, 0:1] - radius),
            centers[None, :, 1] - (gt_boxes[:, 1:2] - radius),
            (gt_boxes[:, 0:1] + radius) - centers[None, :, 0],
            (gt_boxes[:, 1:2] + radius) - centers[None, :, 1],
        ],
        2,
    )  # (G, A, 4)
    in_centers = delta.min(dim=-1).values > 0.0
    fg_mask = in_centers.sum(dim=0) > 0
    geometry = in_centers[:, fg_mask]
    n_cand = int(fg_mask.sum())
    if n_cand == 0:
        empty = torch.zeros(0, dtype=torch.long, device=gt_boxes.device)
        return Assignment(fg_mask, empty, gt_classes[empty], gt_boxes.new_zeros(0))

    ious = iou_cxcywh(gt_boxes, pred_boxes[fg_mask])
    gt_onehot = F.one_hot(gt_classes.to(torch.int64), num_classes).float()
    ious_cost = -torch.log(ious + 1e-8)
    with torch.autocast(device_type=gt_boxes.device.type, enabled=False):
        probs = (cls_logits[fg_mask].float().sigmoid() * obj_logits[fg_mask].float().sigmoid()).sqrt()
        cls_cost = F.binary_cross_entropy(
            probs.unsqueeze(0).repeat(num_gt, 1, 1), gt_onehot.unsqueeze(1).repeat(1, n_cand, 1), reduction="none"
        ).sum(-1)
    cost = cls_cost + 3.0 * ious_cost + 1e6 * (~geometry)

    matching = torch.zeros_like(cost, dtype=torch.uint8)
    topk_ious, _ = torch.topk(ious, min(10, n_cand), dim=1)
    dynamic_ks = torch.clamp(topk_ious.sum(1).int(), min=1)
    for g in range(num_gt):
        _, pos = torch.topk(cost[g], k=int(dynamic_ks[g]), largest=False)
        matching[g][pos] = 1
    per_anchor = matching.sum(0)
    if per_anchor.max() > 1:
        multiple = per_anchor > 1
        _, cheapest = torch.min(cost[:, multiple], dim=0)
        matching[:, multiple] *= 0
        matching[cheapest, multiple] = 1
    fg_in_cand = per_anchor > 0
    fg_mask = fg_mask.clone()
    fg_mask[fg_mask.clone()] = fg_in_cand
    matched_gt = matching[:, fg_in_cand].argmax(0)
    matched_ious = (matching * ious).sum(0)[fg_in_cand]
    return Assignment(fg_mask, matched_gt, gt_classes[matched_gt], matched_ious)


class YOLOXLoss(nn.Module):
    """YOLOX training loss over the head's per-level logits.

    Args:
        num_classes: classes of the head.
        strides: stride of each level.
        use_l1: add the L1 loss on raw regressions (the official trainer's last 15 epochs).
    """

    def __init__(self, num_classes: int, strides: tuple[int, ...] = (8, 16, 32), use_l1: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.use_l1 = use_l1

    def forward(self, levels: list[torch.Tensor], targets: torch.Tensor) -> LossOutput:
        """Compute the loss.

        Args:
            levels: head logits per level ``(B, 5 + C, H_l, W_l)`` (``YOLOX.forward_levels``).
            targets: ``(B, M, 5)`` ``[class, cx, cy, w, h]`` in input pixels; all-zero rows are padding
                and must come after the real rows.

        Returns:
            A :class:`LossOutput`.
        """
        if targets.ndim != 3 or targets.shape[-1] != 5 or targets.shape[0] != levels[0].shape[0]:
            raise ValueError(f"targets must be (B, M, 5) with B={levels[0].shape[0]}, got {tuple(targets.shape)}")
        raw = flatten_levels(levels)  # (B, A, 5 + C)
        shapes = [(int(x.shape[2]), int(x.shape[3])) for x in levels]
        grid, stride = level_grids(shapes, self.strides, raw.device, raw.dtype)
        boxes = torch.cat([(raw[..., :2] + grid) * stride, torch.exp(raw[..., 2:4]) * stride], -1)
        obj_logits = raw[..., 4:5]
        cls_logits = raw[..., 5:]
        targets = targets.to(raw.dtype)
        num_gt_per_image = (targets.sum(dim=2) > 0).sum(dim=1)

        cls_t, reg_t, l1_t, obj_t, fg_masks = [], [], [], [], []
        num_fg, num_gts = 0, 0
        for b in range(raw.shape[0]):
            n = int(num_gt_per_image[b])
            num_gts += n
            if n == 0:
                fg = torch.zeros(raw.shape[1], dtype=torch.bool, device=raw.device)
                cls_t.append(raw.new_zeros((0, self.num_classes)))
                reg_t.append(raw.new_zeros((0, 4)))
                l1_t.append(raw.new_zeros((0, 4)))
            else:
                gt_boxes, gt_classes = targets[b, :n, 1:5], targets[b, :n, 0]
                a = simota_assign(
                    gt_boxes,
                    gt_classes,
                    boxes[b].detach(),
                    cls_logits[b],
                    obj_logits[b],
                    grid,
                    stride,
                    self.num_classes,
                )
                fg = a.fg_mask
                num_fg += int(fg.sum())
                cls_t.append(F.one_hot(a.matched_classes.to(torch.int64), self.num_classes) * a.matched_ious[:, None])
                matched = gt_boxes[a.matched_gt]
                reg_t.append(matched)
                s, g = stride[fg], grid[fg]
                l1_t.append(torch.cat([matched[:, :2] / s - g, torch.log(matched[:, 2:] / s + 1e-8)], 1))
            obj_t.append(fg[:, None].to(raw.dtype))
            fg_masks.append(fg)
        fg_all = torch.cat(fg_masks)
        denom = max(num_fg, 1)
        loss_iou = iou_loss(boxes.reshape(-1, 4)[fg_all], torch.cat(reg_t)).sum() / denom
        loss_obj = (
            F.binary_cross_entropy_with_logits(obj_logits.reshape(-1, 1), torch.cat(obj_t), reduction="none").sum()
            / denom
        )
        loss_cls = (
            F.binary_cross_entropy_with_logits(
                cls_logits.reshape(-1, self.num_classes)[fg_all], torch.cat(cls_t).to(raw.dtype), reduction="none"
            ).sum()
            / denom
        )
        if self.use_l1:
            loss_l1 = F.l1_loss(raw[..., :4].reshape(-1, 4)[fg_all], torch.cat(l1_t), reduction="none").sum() / denom
        else:
            loss_l1 = raw.new_zeros(())
        total = REG_WEIGHT * loss_iou + loss_obj + loss_cls + loss_l1
        return LossOutput(total, REG_WEIGHT * loss_iou, loss_obj, loss_cls, loss_l1, num_fg / max(num_gts, 1))
