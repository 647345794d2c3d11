"""Keypoint prompts: dense prompt heatmaps built from keypoints, and their patch embedding.

The prompt of one person crop is a ``(C, H, W)`` tensor at the model input size with channels
``[background, negative, part_1, ..., part_G]``:

* each keypoint with confidence ``> vis_thresh`` is drawn as a gaussian of radius ``int(W / 11)``
  (outer product of a gaussian window of length ``L = 2r + 1`` and std ``L / 4``, peak 1), written
  at its truncated pixel position and cut at the border;
* a part channel is the maximum over the maps of its keypoints (``PROMPT_GROUPINGS``);
* the negative channel is the maximum over all 17 maps of every *other* person's skeleton;
* background is ``clamp(1 - sum(other channels), 0, 1)``.

This is the reference KPR construction (``ImageDataset.getitem`` + ``KeypointsToMasks`` +
``AddBackgroundMask('sum')``), computed in float64 like the reference and returned as float32,
vectorised over a whole batch: every gaussian of every keypoint of every sample is scattered in
one ``scatter_reduce`` call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kprtrack.reid.swin import PatchEmbed

ArrayLike = np.ndarray | torch.Tensor

#: COCO-17 keypoint indices of each prompt channel, per grouping (reference ``CocoTo*BodyMasks``).
#: Joints 1-4 only ever appear in head/torso/body groups together, so the same indices serve
#: PoseTrack21-ordered keypoints (whose joints 1 and 2 are head_bottom / head_top).
PROMPT_GROUPINGS: dict[str, dict[str, tuple[int, ...]]] = {
    "cck8": {
        "head": (0, 1, 2, 3, 4),
        "left_arm": (5, 7, 9),
        "right_arm": (6, 8, 10),
        "torso": (5, 6, 11, 12),
        "left_leg": (13, 15),
        "right_leg": (14, 16),
        "left_feet": (15,),
        "right_feet": (16,),
    },
    "cck6": {
        "head": (0, 1, 2, 3, 4),
        "left_arm": (7, 9),
        "right_arm": (8, 10),
        "left_leg": (13, 15),
        "right_leg": (14, 16),
        "torso": (5, 6, 11, 12),
    },
    "cck4": {
        "head": (0, 1, 2, 3, 4),
        "arms": (7, 9, 8, 10),
        "legs": (13, 15, 14, 16),
        "torso": (5, 6, 11, 12),
    },
    "cck3": {
        "head": (0, 1, 2, 3, 4),
        "legs": (13, 15, 14, 16),
        "torso": (5, 6, 11, 12, 7, 9, 8, 10),
    },
    "cck2": {
        "legs": (13, 15, 14, 16),
        "torso": (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 9, 8, 10),
    },
    "cck1": {"body": tuple(range(17))},
}


def prompt_channel_names(grouping: str, use_negative_keypoints: bool = True) -> list[str]:
    """Names of the prompt channels in order: ``background``, [``negative``], then the groups."""
    if grouping not in PROMPT_GROUPINGS:
        raise ValueError(f"unknown prompt grouping {grouping!r}; expected one of {sorted(PROMPT_GROUPINGS)}")
    return ["background"] + (["negative"] if use_negative_keypoints else []) + list(PROMPT_GROUPINGS[grouping])


def gaussian_window(radius: int) -> np.ndarray:
    """1-D gaussian window of length ``2 * radius + 1``, std ``length / 4``, peak 1 (float64).

    Same arithmetic as ``scipy.signal.windows.gaussian`` used by the reference.
    """
    m = 2 * radius + 1
    std = m / 4
    n = np.arange(0, m) - (m - 1.0) / 2.0
    return np.exp(-(n**2) / (2 * std * std))


def _as_float64(x: ArrayLike, name: str) -> torch.Tensor:
    try:
        t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot convert to a float64 array ({exc})") from exc
    t = t.detach().to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return t


def _crop_sizes(crop_sizes: ArrayLike, batch: int) -> torch.Tensor:
    sizes = _as_float64(crop_sizes, "crop_sizes")
    if sizes.shape != (batch, 2):
        raise ValueError(f"crop_sizes: expected shape ({batch}, 2) as (w, h), got {tuple(sizes.shape)}")
    if (sizes < 1).any() or (sizes != sizes.round()).any():
        raise ValueError("crop_sizes: widths and heights must be positive integers")
    return sizes


def pad_negatives(negatives: ArrayLike | Sequence[ArrayLike] | None, batch: int) -> torch.Tensor:
    """Negative skeletons as one ``(B, S, 17, 3)`` float64 tensor, padded with confidence-0 skeletons.

    Args:
        negatives: ``None``, a ``(B, S, 17, 3)`` array, or a sequence of ``B`` arrays ``(n_i, 17, 3)``.
        batch: B.
    """
    if negatives is None:
        return torch.zeros((batch, 0, 17, 3), dtype=torch.float64)
    if isinstance(negatives, (np.ndarray, torch.Tensor)) and negatives.ndim == 4:
        neg = _as_float64(negatives, "negatives")
        if neg.shape[0] != batch or neg.shape[2:] != (17, 3):
            raise ValueError(f"negatives: expected shape ({batch}, S, 17, 3), got {tuple(neg.shape)}")
        return neg
    if len(negatives) != batch:
        raise ValueError(f"negatives: expected {batch} arrays (one per person), got {len(negatives)}")
    items = []
    for i, n in enumerate(negatives):
        t = _as_float64(n, f"negatives[{i}]")
        if t.numel() == 0:
            t = t.reshape(0, 17, 3)
        if t.ndim != 3 or t.shape[1:] != (17, 3):
            raise ValueError(f"negatives[{i}]: expected shape (n, 17, 3), got {tuple(t.shape)}")
        items.append(t)
    most = max((t.shape[0] for t in items), default=0)
    out = torch.zeros((batch, most, 17, 3), dtype=torch.float64)
    for i, t in enumerate(items):
        out[i, : t.shape[0]] = t
    return out


def clip_keypoints(keypoints: torch.Tensor, crop_sizes: torch.Tensor) -> torch.Tensor:
    """Clip ``x`` to ``[0, w - 1]`` and ``y`` to ``[0, h - 1]``; confidence unchanged (tracklab behaviour).

    Args:
        keypoints: ``(B, ..., 17, 3)`` crop pixels.
        crop_sizes: ``(B, 2)`` as ``(w, h)``.
    """
    shape = (keypoints.shape[0],) + (1,) * (keypoints.ndim - 2)
    w = (crop_sizes[:, 0] - 1).reshape(shape)
    h = (crop_sizes[:, 1] - 1).reshape(shape)
    out = keypoints.clone()
    out[..., 0] = torch.minimum(torch.clamp(keypoints[..., 0], min=0), w)
    out[..., 1] = torch.minimum(torch.clamp(keypoints[..., 1], min=0), h)
    return out


def scale_keypoints(keypoints: torch.Tensor, crop_sizes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """Keypoints following the crop resize, in float64: ``[x * (W / w), y * (H / h), conf]``.

    Args:
        keypoints: ``(B, ..., 17, 3)`` crop pixels.
        crop_sizes: ``(B, 2)`` as ``(w, h)``.
        image_size: model input ``(H, W)``.
    """
    height, width = image_size
    shape = (keypoints.shape[0],) + (1,) * (keypoints.ndim - 2)
    sx = (width / crop_sizes[:, 0]).reshape(shape)  # scale first, as albumentations does
    sy = (height / crop_sizes[:, 1]).reshape(shape)
    out = keypoints.clone()
    out[..., 0] = keypoints[..., 0] * sx
    out[..., 1] = keypoints[..., 1] * sy
    return out


def _pixels(scaled: torch.Tensor, image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel of each scaled keypoint: reference ``rescale_keypoints`` (W->W, H->H) then truncation."""
    height, width = image_size
    x = scaled[..., 0] * width / width
    y = scaled[..., 1] * height / height
    return x.to(torch.int64), y.to(torch.int64)


def _positive_keypoints(keypoints: ArrayLike | None, crop_sizes: ArrayLike) -> tuple[torch.Tensor, int]:
    """``(B, 17, 3)`` float64 positive keypoints (zeros for ``None``) and B (-1 if ``crop_sizes`` has no rows)."""
    if keypoints is None:
        sizes = crop_sizes if isinstance(crop_sizes, torch.Tensor) else np.asarray(crop_sizes)
        batch = int(sizes.shape[0]) if getattr(sizes, "ndim", 0) >= 1 else -1
        return torch.zeros((max(batch, 0), 17, 3), dtype=torch.float64), batch
    kps = _as_float64(keypoints, "keypoints")
    if kps.ndim != 3 or kps.shape[1:] != (17, 3):
        raise ValueError(f"keypoints: expected shape (B, 17, 3), got {tuple(kps.shape)}")
    return kps, kps.shape[0]


def _stamp_points(
    kps: torch.Tensor,
    neg: torch.Tensor,
    sizes: torch.Tensor,
    groups: dict[str, tuple[int, ...]],
    use_negative_keypoints: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (keypoint, channel) pair to draw: a joint may feed several groups (a shoulder: arm and torso).

    Args:
        kps: ``(B, 17, 3)`` positive keypoints, crop pixels.
        neg: ``(B, S, 17, 3)`` negative skeletons, crop pixels.
        sizes: ``(B, 2)`` crop ``(w, h)``.
        groups: group name -> joint indices (the part channels, in order).
        use_negative_keypoints: draw the negatives into channel 1 (part channels then start at 2).

    Returns:
        ``points (B, M, 3)`` clipped to their crop and ``channels (B, M)`` int64.
    """
    first_group = 2 if use_negative_keypoints else 1
    joint_of = [j for joints in groups.values() for j in joints]
    chan_of = [first_group + g for g, joints in enumerate(groups.values()) for _ in joints]
    batch = kps.shape[0]
    points = [clip_keypoints(kps, sizes)[:, joint_of]]  # (B, P, 3)
    chans = [torch.tensor(chan_of, dtype=torch.int64).expand(batch, -1)]
    if use_negative_keypoints and neg.shape[1] > 0:
        negc = clip_keypoints(neg, sizes).reshape(batch, -1, 3)  # (B, S*17, 3)
        points.append(negc)
        chans.append(torch.ones(negc.shape[:2], dtype=torch.int64))  # channel 1 = negative
    return torch.cat(points, dim=1), torch.cat(chans, dim=1)


def _stamp_gaussians(
    buffer: torch.Tensor, plane: torch.Tensor, px: torch.Tensor, py: torch.Tensor, size_hw: tuple[int, int], radius: int
) -> None:
    """Max-scatter a ``(2r+1)^2`` gaussian stamp at each point, cut at the image border.

    Args:
        buffer: flat float64 ``(B * C * H * W + 1,)``; the spare last element takes the pixels outside the image.
        plane: ``(M,)`` int64 ``b * C + c`` of each point.
        px: ``(M,)`` int64 pixel columns.
        py: ``(M,)`` int64 pixel rows.
        size_hw: ``(H, W)``.
        radius: stamp radius r.
    """
    height, width = size_hw
    win = torch.from_numpy(gaussian_window(radius)).to(buffer.device)
    offsets = torch.arange(-radius, radius + 1, device=buffer.device)
    ys = py.unsqueeze(1) + offsets  # (M, L)
    xs = px.unsqueeze(1) + offsets
    valid = ((ys >= 0) & (ys < height)).unsqueeze(2) & ((xs >= 0) & (xs < width)).unsqueeze(1)
    values = (win.unsqueeze(1) * win.unsqueeze(0)).expand(valid.shape)  # np.outer arithmetic
    index = (plane.view(-1, 1, 1) * height + ys.unsqueeze(2)) * width + xs.unsqueeze(1)
    index = torch.where(valid, index, buffer.numel() - 1)
    buffer.scatter_reduce_(0, index.flatten(), values.reshape(-1), reduce="amax", include_self=True)


def build_prompt_masks(
    keypoints: ArrayLike | None,
    crop_sizes: ArrayLike,
    negatives: ArrayLike | Sequence[ArrayLike] | None = None,
    *,
    grouping: str = "cck8",
    image_size: tuple[int, int] = (384, 128),
    vis_thresh: float = 0.3,
    gaussian_scale: int = 11,
    use_negative_keypoints: bool = True,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Build the prompt heatmaps of a batch of person crops, exactly as the reference.

    Keypoints are first clipped to their crop (tracklab behaviour: a confident keypoint outside
    the crop becomes a border keypoint), then follow the crop resize to ``image_size``.

    Args:
        keypoints: ``(B, 17, 3)`` positive keypoints ``x, y, conf`` in crop pixels (COCO order),
            or ``None`` for no positive keypoint at all.
        crop_sizes: ``(B, 2)`` crop ``(w, h)`` in pixels, before the resize.
        negatives: other people's skeletons in crop pixels: ``(B, S, 17, 3)`` or ``B`` arrays
            ``(n_i, 17, 3)``; ``None`` for none.
        grouping: prompt grouping (``PROMPT_GROUPINGS`` key).
        image_size: model input ``(H, W)``; the prompt is built at this size.
        vis_thresh: keypoints with confidence ``<= vis_thresh`` are ignored.
        gaussian_scale: the gaussian radius is ``int(W / gaussian_scale)``.
        use_negative_keypoints: include the negative channel.
        device: where to build the tensor (default CPU).

    Returns:
        ``(B, C, H, W)`` float32 prompt, channels as :func:`prompt_channel_names`.

    Raises:
        ValueError: on a bad shape, a non-finite value or an unknown grouping.
    """
    if grouping not in PROMPT_GROUPINGS:
        raise ValueError(f"unknown prompt grouping {grouping!r}; expected one of {sorted(PROMPT_GROUPINGS)}")
    kps, batch = _positive_keypoints(keypoints, crop_sizes)
    sizes = _crop_sizes(crop_sizes, batch)
    neg = pad_negatives(negatives, batch)
    height, width = int(image_size[0]), int(image_size[1])
    groups = PROMPT_GROUPINGS[grouping]
    channels = (2 if use_negative_keypoints else 1) + len(groups)
    device = torch.device(device) if device is not None else torch.device("cpu")
    # one spare element at the end receives the stamp pixels that fall outside the image
    buffer = torch.zeros(batch * channels * height * width + 1, dtype=torch.float64, device=device)

    points, ch = _stamp_points(kps, neg, sizes, groups, use_negative_keypoints)
    b_idx = torch.arange(batch).unsqueeze(1).expand_as(ch)
    px, py = _pixels(scale_keypoints(points, sizes, (height, width)), (height, width))
    keep = points[..., 2] > vis_thresh
    if bool(keep.any()):
        px, py, ch, b_idx = (t[keep].to(device) for t in (px, py, ch, b_idx))
        _stamp_gaussians(buffer, b_idx * channels + ch, px, py, (height, width), int(width / gaussian_scale))
    out = buffer[:-1].view(batch, channels, height, width)
    out[:, 0] = torch.clamp(1 - out[:, 1:].sum(dim=1), 0, 1)
    return out.to(torch.float32)


def empty_prompt(batch: int, channels: int, image_size: tuple[int, int], **kwargs: object) -> torch.Tensor:
    """The prompt-optional input: background 1 everywhere, every other channel 0 (``(B, C, H, W)``)."""
    out = torch.zeros((batch, channels, image_size[0], image_size[1]), **kwargs)  # type: ignore[arg-type]
    out[:, 0] = 1
    return out


class PromptEncoder(nn.Module):
    """Tokenises a dense prompt: a ``patch x patch`` convolution + LayerNorm, added to the image tokens.

    Args:
        prompt_channels: C, channels of the prompt tensor (background included).
        embed_dim: token width (the image encoder's stage-0 width).
        patch_size: patch side and stride (the image encoder's).
        background_token: feed the background channel (reference ``not no_background_token``).
        zero_init: start from a zero embedding (the reference does, so a fresh model ignores prompts).

    Attributes:
        parts_embed: ``(C, 1, embed_dim)`` buffer present in released checkpoints but unused by
            the heatmap prompt encoding; kept so checkpoints round-trip.
    """

    def __init__(
        self,
        prompt_channels: int,
        embed_dim: int,
        patch_size: int,
        background_token: bool = True,
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        self.prompt_channels = prompt_channels
        self.background_token = background_token
        self.register_buffer("parts_embed", torch.zeros(prompt_channels, 1, embed_dim))
        in_channels = prompt_channels if background_token else prompt_channels - 1
        self.masks_patch_embed = PatchEmbed(in_channels, embed_dim, patch_size)
        if zero_init:
            nn.init.zeros_(self.masks_patch_embed.projection.weight)
            nn.init.zeros_(self.masks_patch_embed.projection.bias)

    def forward(
        self, prompt_masks: torch.Tensor | None, batch: int, image_size: tuple[int, int], like: torch.Tensor
    ) -> torch.Tensor:
        """Prompt tokens.

        Args:
            prompt_masks: ``(B, C, h, w)`` prompt (resized bilinearly to ``image_size`` if needed),
                or ``None`` for the empty prompt (prompt-optional mode).
            batch: B.
            image_size: model input ``(H, W)``.
            like: a tensor whose dtype/device the result takes (the image tokens).

        Returns:
            ``(B, L, embed_dim)`` tokens, ``L = (H / patch) * (W / patch)``.
        """
        if prompt_masks is None:
            prompt_masks = empty_prompt(batch, self.prompt_channels, image_size, device=like.device)
        else:
            if prompt_masks.ndim != 4 or prompt_masks.shape[:2] != (batch, self.prompt_channels):
                raise ValueError(
                    f"prompt_masks: expected shape ({batch}, {self.prompt_channels}, H, W), "
                    f"got {tuple(prompt_masks.shape)}"
                )
            if tuple(prompt_masks.shape[2:]) != tuple(image_size):
                prompt_masks = F.interpolate(
                    prompt_masks.float(), size=tuple(image_size), mode="bilinear", align_corners=True
                )
        prompt_masks = prompt_masks.to(dtype=like.dtype, device=like.device)
        if not self.background_token:
            prompt_masks = prompt_masks[:, 1:]
        tokens, _ = self.masks_patch_embed(prompt_masks)
        return tokens
