"""KPR training losses: GiLt (identity CE + part-based batch-hard triplet) and part-prediction CE."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_part_distance(
    parts: torch.Tensor, visibility: torch.Tensor | None = None, eps: float = 1e-12
) -> torch.Tensor:
    """Differentiable part-averaged Euclidean distance between all pairs of a batch.

    Args:
        parts: ``(B, P, D)`` embeddings (not normalised, as the reference triplet uses them).
        visibility: ``(B, P)`` bool/float visibility; ``None`` means all visible.
        eps: added under the square root so the gradient stays finite at zero distance.

    Returns:
        ``(B, B)`` distances, mean over the entries visible in both samples; ``nan`` where no entry
        is shared (callers exclude those pairs).
    """
    x = parts.transpose(0, 1)  # (P, B, D)
    sq = (x * x).sum(-1)
    d2 = sq.unsqueeze(2) + sq.unsqueeze(1) - 2 * torch.matmul(x, x.transpose(1, 2))
    d = torch.sqrt(d2.clamp(min=0) + eps)  # (P, B, B)
    if visibility is None:
        return d.mean(0)
    v = visibility.float().t()  # (P, B)
    valid = v.unsqueeze(2) * v.unsqueeze(1)
    count = valid.sum(0)
    dist = (d * valid).sum(0) / count.clamp(min=1)
    return torch.where(count > 0, dist, torch.full_like(dist, float("nan")))


def batch_hard_triplet(dist: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Batch-hard triplet loss: hardest positive vs hardest negative per anchor, margin ``margin``.

    Args:
        dist: ``(B, B)`` distances; ``nan`` entries are ignored.
        labels: ``(B,)`` identity labels.
        margin: the ranking margin (paper: 0.3).

    Returns:
        Mean loss over anchors that have at least one valid positive and one valid negative.
    """
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    valid = ~torch.isnan(dist)
    d = torch.nan_to_num(dist, nan=0.0)
    pos_mask = same & ~eye & valid
    neg_mask = ~same & valid
    hardest_pos = torch.where(pos_mask, d, torch.full_like(d, -1e9)).max(1).values
    hardest_neg = torch.where(neg_mask, d, torch.full_like(d, 1e9)).min(1).values
    ok = pos_mask.any(1) & neg_mask.any(1)
    if not ok.any():
        return dist.new_zeros(())
    return F.relu(hardest_pos[ok] - hardest_neg[ok] + margin).mean()


def identity_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """Cross-entropy with label smoothing (paper: 0.1)."""
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)


def part_prediction_loss(
    pixel_logits: torch.Tensor, parsing: torch.Tensor, label_smoothing: float = 0.1, ignore_index: int = -100
) -> torch.Tensor:
    """Pixel-wise part classification against human-parsing labels.

    Args:
        pixel_logits: ``(B, K+1, h, w)`` logits of the pixel classifier (channel 0 = background).
        parsing: ``(B, H, W)`` int labels in ``[0, K]`` at image resolution; downsampled to ``(h, w)``
            by nearest neighbour.
        label_smoothing: label smoothing of the cross-entropy.
        ignore_index: label of pixels without ground truth (they do not count).

    Returns:
        Mean cross-entropy over the labelled pixels (0 when there is none).
    """
    if parsing.shape[-2:] != pixel_logits.shape[-2:]:
        parsing = F.interpolate(parsing[:, None].float(), size=pixel_logits.shape[-2:], mode="nearest")[:, 0]
    parsing = parsing.long()
    if not bool((parsing != ignore_index).any()):
        return pixel_logits.sum() * 0.0
    return F.cross_entropy(pixel_logits, parsing, label_smoothing=label_smoothing, ignore_index=ignore_index)
