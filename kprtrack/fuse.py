"""Inference copies of convolutional networks: BatchNorm folded into the convolutions, channels-last memory.

On a CPU, eager torch spends a good part of a small CNN's time outside the convolutions: one
BatchNorm pass per convolution, and conversions between the NCHW layout and the blocked layout
oneDNN computes in. :func:`inference_copy` removes the first (each eval-mode ``BatchNorm2d`` that
directly follows a ``Conv2d`` is folded into it: ``w' = w * g / s``, ``b' = (b - m) * g / s + beta``
with ``s = sqrt(var + eps)``) and most of the second (the weights, and so every activation, in
channels-last memory). Outputs equal the original's to float32 rounding (about 1e-6 relative).

Which BatchNorm follows which convolution is declared, not guessed: consecutive ``Conv2d`` ->
``BatchNorm2d`` children of an ``nn.Sequential``, and the ``(conv, bn)`` attribute-name pairs a
module class lists in its ``BN_PAIRS`` class attribute (its forward must apply the BatchNorm
directly to that convolution's output).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new convolution computing ``bn(conv(x))`` of an eval-mode BatchNorm (with a bias).

    Raises:
        ValueError: the BatchNorm's channels differ from the convolution's outputs, or it has no running stats.
    """
    if bn.num_features != conv.out_channels or bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"cannot fold {bn} into {conv}")
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias = nn.Parameter((bias - bn.running_mean) * scale + shift)
    return fused


def fold_batchnorms(module: nn.Module) -> int:
    """Fold, in place, every declared ``Conv2d`` -> ``BatchNorm2d`` pair of ``module`` and its children.

    The BatchNorm is replaced by ``nn.Identity``. Returns the number of folded pairs.
    """
    folded = 0
    for sub in list(module.modules()):
        if isinstance(sub, nn.Sequential):
            for i in range(len(sub) - 1):
                conv, bn = sub[i], sub[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    sub[i], sub[i + 1] = fold_conv_bn(conv, bn), nn.Identity()
                    folded += 1
        for conv_name, bn_name in getattr(type(sub), "BN_PAIRS", ()):
            conv, bn = getattr(sub, conv_name), getattr(sub, bn_name)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(sub, conv_name, fold_conv_bn(conv, bn))
                setattr(sub, bn_name, nn.Identity())
                folded += 1
    return folded


def inference_copy(module: nn.Module) -> nn.Module:
    """An eval-mode copy of ``module`` with its BatchNorms folded and its weights in channels-last memory.

    The original is left untouched (it may still be trained or saved).
    """
    out = copy.deepcopy(module).eval()
    fold_batchnorms(out)
    return out.to(memory_format=torch.channels_last)
