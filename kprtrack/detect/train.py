"""Minimal YOLOX training support: batches, optimizer, EMA and one training step.

Mirrors the official recipe where it matters for a small detector (``yolox/exp/yolox_base.py``,
``yolox/core/trainer.py``): SGD with Nesterov momentum 0.9 and weight decay 5e-4 on conv weights only
(not on BatchNorm weights or biases), an exponential moving average of the weights (decay
``0.9998 * (1 - exp(-updates / 2000))``) that is what gets saved, and the L1 loss switched on for the
last ``no_aug_epochs`` epochs. Checkpoints are written in Megvii's format
(:func:`kprtrack.detect.weights.save_megvii_checkpoint`) and load back with
:func:`kprtrack.detect.weights.load_yolox` / :class:`YOLOXDetector.from_checkpoint`.

Data augmentation (mosaic, mixup, HSV, flips) and the learning-rate schedule are the caller's.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from kprtrack.detect.loss import YOLOXLoss
from kprtrack.detect.model import YOLOX
from kprtrack.detect.preprocess import letterbox, to_input_tensor


def prepare_batch(
    frames: Sequence[np.ndarray],
    boxes: Sequence[np.ndarray],
    classes: Sequence[np.ndarray] | None = None,
    input_size: tuple[int, int] = (416, 416),
    max_labels: int = 50,
    min_size: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Letterbox RGB frames and their boxes the way the detector sees them at inference.

    Args:
        frames: ``B`` RGB uint8 ``(H, W, 3)`` frames.
        boxes: per frame ``(N_i, 4)`` xyxy boxes in frame pixels.
        classes: per frame ``(N_i,)`` class ids (default: all 0, person).
        input_size: network input ``(H, W)`` (multiples of 32).
        max_labels: rows of the target tensor (Megvii's ``TrainTransform(max_labels=50)``).
        min_size: boxes whose shorter side is not larger than this (input pixels) are dropped, as Megvii does.

    Returns:
        ``images (B, 3, H, W)`` float32 BGR 0..255 and ``targets (B, max_labels, 5)`` rows
        ``[class, cx, cy, w, h]`` in input pixels, zero-padded.
    """
    if len(frames) != len(boxes) or (classes is not None and len(classes) != len(frames)):
        raise ValueError(f"frames ({len(frames)}), boxes ({len(boxes)}) and classes must have one entry per frame")
    canvases = []
    targets = torch.zeros((len(frames), max_labels, 5), dtype=torch.float32)
    for i, frame in enumerate(frames):
        canvas, info = letterbox(np.ascontiguousarray(frame[:, :, ::-1]), input_size, "megvii")
        canvases.append(canvas)
        b = np.asarray(boxes[i], dtype=np.float32).reshape(-1, 4) * np.float32(info.ratio)
        c = np.zeros(len(b), np.float32) if classes is None else np.asarray(classes[i], np.float32).reshape(-1)
        if len(c) != len(b):
            raise ValueError(f"classes[{i}] has {len(c)} entries for {len(b)} boxes")
        wh = b[:, 2:] - b[:, :2]
        keep = np.minimum(wh[:, 0], wh[:, 1]) > min_size
        rows = np.concatenate([c[keep, None], (b[keep, :2] + b[keep, 2:]) / 2, wh[keep]], 1)[:max_labels]
        targets[i, : len(rows)] = torch.from_numpy(rows)
    return to_input_tensor(canvases), targets


def param_groups(model: nn.Module, weight_decay: float = 5e-4) -> list[dict]:
    """Megvii's three groups: BatchNorm weights (no decay), conv/linear weights (decay), biases (no decay)."""
    bn_weights, weights, biases = [], [], []
    for name, module in model.named_modules():
        if isinstance(getattr(module, "bias", None), nn.Parameter):
            biases.append(module.bias)
        is_bn = isinstance(module, nn.BatchNorm2d) or "bn" in name.rsplit(".", 1)[-1]
        if is_bn and isinstance(getattr(module, "weight", None), nn.Parameter):
            bn_weights.append(module.weight)
        elif not is_bn and isinstance(getattr(module, "weight", None), nn.Parameter):
            weights.append(module.weight)
    return [
        {"params": bn_weights, "weight_decay": 0.0},
        {"params": weights, "weight_decay": weight_decay},
        {"params": biases, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 5e-4) -> torch.optim.SGD:
    """SGD with Nesterov momentum over :func:`param_groups` (``Exp.get_optimizer``)."""
    return torch.optim.SGD(param_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=True)


def use_l1_at(epoch: int, max_epoch: int, no_aug_epochs: int = 15) -> bool:
    """Whether the official trainer has the L1 loss on in 0-based ``epoch`` (the last ``no_aug_epochs``)."""
    return epoch >= max_epoch - no_aug_epochs


class ModelEMA:
    """Exponential moving average of a model's weights and buffers (``yolox/utils/ema.py`` semantics).

    Args:
        model: the model being trained.
        decay: asymptotic decay; the effective decay ramps up as ``decay * (1 - exp(-updates / 2000))``.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9998, updates: int = 0) -> None:
        self.ema = copy.deepcopy(model).eval()
        self.updates = updates
        self.decay_base = decay
        for p in self.ema.parameters():
            p.requires_grad_(False)

    def decay(self) -> float:
        """Decay of the next update."""
        return self.decay_base * (1 - math.exp(-self.updates / 2000))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend the model's current floating-point weights and buffers into the average."""
        self.updates += 1
        d = self.decay()
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)


class TrainStep:
    """One optimisation step of YOLOX: forward, loss, backward, optimizer and EMA update.

    Args:
        model: the detector (put in train mode by each step).
        optimizer: e.g. :func:`build_optimizer`.
        ema: optional :class:`ModelEMA` updated after every step.
    """

    def __init__(self, model: YOLOX, optimizer: torch.optim.Optimizer, ema: ModelEMA | None = None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.ema = ema
        self.loss = YOLOXLoss(model.arch.num_classes, model.strides)

    @property
    def use_l1(self) -> bool:
        """Whether the L1 loss is on (set it from :func:`use_l1_at` each epoch)."""
        return self.loss.use_l1

    @use_l1.setter
    def use_l1(self, value: bool) -> None:
        self.loss.use_l1 = bool(value)

    def __call__(self, images: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """Run one step on ``images (B, 3, H, W)`` and ``targets (B, M, 5)``; return the loss terms."""
        device = next(self.model.parameters()).device
        self.model.train()
        out = self.loss(self.model.forward_levels(images.to(device)), targets.to(device))
        self.optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return out.as_dict()

    def model_to_save(self) -> YOLOX:
        """The EMA model when there is one (what the official trainer saves), else the model."""
        return self.ema.ema if self.ema is not None else self.model  # type: ignore[return-value]
