"""Training pieces for top-down heatmap models: mmpose's init and ``KeypointMSELoss``, batching, one step.

A minimal loop::

    net = build_pose_model("hrnet_w8_128x96").train(); init_weights(net)
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)
    samples = [make_training_sample(img, box, kps, net.cfg, rng, AugmentConfig()) for ...]
    inputs, targets, weights = collate(samples, net.cfg)
    loss = train_step(net, opt, inputs, targets, weights, KeypointMSELoss())
    save_mmpose_checkpoint(net, "pose.pth")          # loads with load_pose_model / mmpose
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from kprtrack.pose.augment import TrainingSample
from kprtrack.pose.config import PoseModelConfig
from kprtrack.pose.transforms import normalize_crops


class KeypointMSELoss(nn.Module):
    """Mean squared heatmap error, each keypoint's map weighted by its target weight (mmpose semantics).

    ``loss = mean((output - target)^2 * w[b, k])`` over all pixels, times ``loss_weight``.

    Args:
        use_target_weight: weight channels by the keypoint weights.
        skip_empty_channel: also ignore channels whose target is all zero.
        loss_weight: overall factor.
    """

    def __init__(self, use_target_weight: bool = True, skip_empty_channel: bool = False, loss_weight: float = 1.0):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.skip_empty_channel = skip_empty_channel
        self.loss_weight = loss_weight

    def forward(
        self, output: torch.Tensor, target: torch.Tensor, target_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``output``, ``target``: ``(B, K, H, W)``; ``target_weights``: ``(B, K)``. Returns a scalar."""
        if output.shape != target.shape:
            raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} shapes differ")
        mask: torch.Tensor | None = None
        if self.use_target_weight and target_weights is not None:
            if target_weights.shape != target.shape[:2]:
                raise ValueError(f"target_weights must be {tuple(target.shape[:2])}, got {tuple(target_weights.shape)}")
            mask = target_weights[..., None, None].to(output.dtype)
        if self.skip_empty_channel:
            nonempty = (target != 0).flatten(2).any(dim=2)[..., None, None].to(output.dtype)
            mask = nonempty if mask is None else mask * nonempty
        if mask is None:
            loss = F.mse_loss(output, target)
        else:
            loss = (F.mse_loss(output, target, reduction="none") * mask).mean()
        return loss * self.loss_weight


def init_weights(net: nn.Module, std: float = 0.001) -> nn.Module:
    """mmpose's default initialisation: conv / deconv weights N(0, std^2), biases 0, BatchNorm 1 and 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def collate(
    samples: Sequence[TrainingSample],
    cfg: PoseModelConfig,
    device: torch.device | str = "cpu",
    frame_is_rgb: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack samples into a batch.

    Args:
        samples: from :func:`kprtrack.pose.augment.make_training_sample`.
        cfg: model config (normalisation and channel order).
        device: target device.
        frame_is_rgb: the crops came from RGB frames (the project convention).

    Returns:
        ``inputs (B, 3, h, w)`` normalised float32, ``targets (B, K, H, W)``, ``weights (B, K)``.
    """
    if not samples:
        raise ValueError("collate needs at least one sample")
    p = cfg.pipeline
    crops = np.stack([s.crop for s in samples])
    inputs = normalize_crops(crops, p.mean, p.std, swap_channels=frame_is_rgb != p.network_rgb, device=device)
    targets = torch.from_numpy(np.stack([s.heatmaps for s in samples])).to(device)
    weights = torch.from_numpy(np.stack([s.weights for s in samples])).to(device)
    return inputs, targets, weights


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    loss_fn: nn.Module,
) -> float:
    """One optimisation step in train mode; returns the loss value."""
    net.train()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(net(inputs), targets, weights)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
