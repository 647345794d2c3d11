"""The top-down heatmap network (backbone + head) and the flip test around it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from kprtrack.pose.config import PoseModelConfig
from kprtrack.pose.head import HeatmapHead
from kprtrack.pose.hrnet import HRNet


class TopdownHeatmapNet(nn.Module):
    """HRNet + HeatmapHead with mmpose's ``backbone.`` / ``head.`` state-dict layout."""

    def __init__(self, cfg: PoseModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = HRNet(cfg.backbone)
        self.head = HeatmapHead(cfg.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised crops ``(B, 3, h, w)`` -> heatmaps ``(B, K, H, W)``."""
        return self.head(self.backbone(x))


def flip_heatmaps(heatmaps: torch.Tensor, flip_indices: Sequence[int], shift: bool) -> torch.Tensor:
    """Map heatmaps of horizontally flipped crops back onto the original crops (mmpose ``flip_mode='heatmap'``).

    Args:
        heatmaps: ``(B, K, H, W)`` network output for flipped inputs.
        flip_indices: ``K`` left/right permutation.
        shift: shift right by one column (column 0 keeps its value), aligning the flipped pixel grid.

    Returns:
        A new ``(B, K, H, W)`` tensor.
    """
    if len(flip_indices) != heatmaps.shape[1]:
        raise ValueError(f"{len(flip_indices)} flip_indices for {heatmaps.shape[1]} heatmaps")
    out = heatmaps.flip(-1)[:, list(flip_indices)]
    if shift:
        out[..., 1:] = out[..., :-1].clone()
    return out


def predict_heatmaps(
    net: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    flip_indices: Sequence[int] | None,
    shift: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Run the network, optionally with the flip test, in one batch of ``2B`` crops.

    Args:
        net: crops -> heatmaps.
        inputs: normalised crops ``(B, 3, h, w)``.
        flip_indices: ``None`` disables the flip test.
        shift: shift the un-flipped heatmaps (mmpose ``shift_heatmap``).

    Returns:
        ``(heatmaps, original, flipped_raw)``: the heatmaps to decode (float32 ``(B, K, H, W)``),
        and with the flip test the original-branch output and the raw output for the flipped input
        (``None`` without it).
    """
    if flip_indices is None:
        return net(inputs).float(), None, None
    both = net(torch.cat([inputs, inputs.flip(-1)])).float()
    original, flipped_raw = both[: len(inputs)], both[len(inputs) :]
    merged = (original + flip_heatmaps(flipped_raw, flip_indices, shift)) * 0.5
    return merged, original, flipped_raw
