"""BIPO: Batch-wise Inter-Person Occlusion augmentation (KPR paper, Sec. 3.4).

With probability ``p`` a training crop is occluded by another person of the same batch: the
occluder's pixels (cut by its human-parsing mask) are pasted over the crop at a random offset.
The target's parsing labels become background where it is covered, its positive keypoints under
the occluder lose their confidence, and the occluder's keypoints are added as negative prompts -
exactly the multi-person ambiguity KPR must learn to resolve.
"""

from __future__ import annotations

import numpy as np
import torch


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate the last two dims by (dy, dx), filling with zeros."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def bipo(
    images: torch.Tensor,
    parsing: torch.Tensor,
    keypoints: torch.Tensor,
    negatives: list[torch.Tensor],
    labels: torch.Tensor,
    p: float = 0.3,
    rng: np.random.Generator | None = None,
    max_shift: tuple[float, float] = (0.15, 0.6),
    ignore_index: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Occlude crops of a batch with other people of the batch.

    Args:
        images: ``(B, C, H, W)`` crops (any dtype).
        parsing: ``(B, H, W)`` int human-parsing labels, 0 = background.
        keypoints: ``(B, 17, 3)`` positive keypoints ``x, y, conf`` in crop pixels.
        negatives: per crop an ``(n_i, 17, 3)`` tensor of negative keypoints (crop pixels).
        labels: ``(B,)`` identities; an occluder always has another identity.
        p: probability that a crop is occluded (paper: 0.3).
        rng: random generator.
        max_shift: ``(vertical, horizontal)`` maximum offset of the occluder, as fractions of H, W.
        ignore_index: parsing label of pixels without ground truth; they never count as occluder
            pixels (a crop without any parsing label cannot occlude others).

    Returns:
        New ``images, parsing, keypoints, negatives``; the inputs are not modified.
    """
    rng = rng if rng is not None else np.random.default_rng()
    images, parsing, keypoints = images.clone(), parsing.clone(), keypoints.clone()
    negatives = [n.clone() for n in negatives]
    src_images, src_parsing, src_kps = images.clone(), parsing.clone(), keypoints.clone()
    body = src_parsing > 0
    if ignore_index is not None:
        body &= src_parsing != ignore_index
    b, _, h, w = images.shape
    for i in range(b):
        if rng.random() >= p:
            continue
        candidates = [j for j in range(b) if labels[j] != labels[i] and bool(body[j].any())]
        if not candidates:
            continue
        j = int(rng.choice(candidates))
        dy = int(round(rng.uniform(-max_shift[0], max_shift[0]) * h))
        side = 1 if rng.random() < 0.5 else -1
        dx = side * int(round(rng.uniform(0.2, max_shift[1]) * w))
        mask = _shift(body[j], dy, dx)
        if not mask.any():
            continue
        pasted = _shift(src_images[j], dy, dx)
        images[i][:, mask] = pasted[:, mask]
        parsing[i][mask] = 0
        # target joints now hidden by the occluder are no longer prompted
        kp = keypoints[i]
        xi = kp[:, 0].round().long().clamp(0, w - 1)
        yi = kp[:, 1].round().long().clamp(0, h - 1)
        covered = mask[yi, xi] & (kp[:, 2] > 0)
        kp[covered, 2] = 0
        # the occluder's joints become negative prompts
        occ = src_kps[j].clone()
        occ[:, 0] += dx
        occ[:, 1] += dy
        inside = (occ[:, 0] >= 0) & (occ[:, 0] < w) & (occ[:, 1] >= 0) & (occ[:, 1] < h)
        occ[~inside] = 0
        if (occ[:, 2] > 0).any():
            negatives[i] = torch.cat([negatives[i].reshape(-1, 17, 3), occ[None].to(negatives[i].dtype)], 0)
    return images, parsing, keypoints, negatives
