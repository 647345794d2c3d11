"""Building blocks of YOLOX (Megvii's ``yolox/models/network_blocks.py`` semantics).

Module and parameter names follow the official implementation so that Megvii release files load
without renaming (``conv``/``bn`` inside a conv block, ``dconv``/``pconv`` for depthwise blocks,
``conv1``/``conv2``/``conv3``/``m`` inside a CSP layer).
"""

from __future__ import annotations

import torch
from torch import nn

#: BatchNorm settings applied by the model builders (Megvii's ``init_yolo``); not stored in checkpoints.
BN_EPS = 1e-3
BN_MOMENTUM = 0.03


def make_activation(name: str) -> nn.Module:
    """Activation by name: ``silu`` (all official models), ``relu`` or ``lrelu`` (slope 0.1)."""
    if name == "silu":
        return nn.SiLU(inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "lrelu":
        return nn.LeakyReLU(0.1, inplace=True)
    raise ValueError(f"unknown activation {name!r}; expected 'silu', 'relu' or 'lrelu'")


class BaseConv(nn.Module):
    """Conv2d (no bias, same padding) -> BatchNorm2d -> activation."""

    #: conv -> BatchNorm pairs of ``forward`` (folded by :func:`kprtrack.fuse.inference_copy`).
    BN_PAIRS = (("conv", "bn"),)

    def __init__(
        self, in_ch: int, out_ch: int, ksize: int, stride: int = 1, groups: int = 1, act: str = "silu"
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, ksize, stride, padding=(ksize - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, H, W) -> (B, out_ch, H / stride, W / stride)``."""
        return self.act(self.bn(self.conv(x)))


class DWConv(nn.Module):
    """Depthwise ``BaseConv`` (groups = in_ch) followed by a pointwise 1x1 ``BaseConv``."""

    def __init__(self, in_ch: int, out_ch: int, ksize: int, stride: int = 1, act: str = "silu") -> None:
        super().__init__()
        self.dconv = BaseConv(in_ch, in_ch, ksize, stride, groups=in_ch, act=act)
        self.pconv = BaseConv(in_ch, out_ch, 1, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, H, W) -> (B, out_ch, H / stride, W / stride)``."""
        return self.pconv(self.dconv(x))


def conv_block(in_ch: int, out_ch: int, ksize: int, stride: int, depthwise: bool, act: str) -> nn.Module:
    """``DWConv`` when ``depthwise`` (YOLOX-nano) else ``BaseConv``."""
    if depthwise:
        return DWConv(in_ch, out_ch, ksize, stride, act=act)
    return BaseConv(in_ch, out_ch, ksize, stride, act=act)


class Bottleneck(nn.Module):
    """1x1 conv -> 3x3 conv, plus the input when ``shortcut`` and the channel counts agree."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        shortcut: bool = True,
        expansion: float = 0.5,
        depthwise: bool = False,
        act: str = "silu",
    ) -> None:
        super().__init__()
        hidden = int(out_ch * expansion)
        self.conv1 = BaseConv(in_ch, hidden, 1, 1, act=act)
        self.conv2 = conv_block(hidden, out_ch, 3, 1, depthwise, act)
        self.use_add = shortcut and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, H, W) -> (B, out_ch, H, W)``."""
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1x1 conv, concat with stride-1 max pools (5, 9, 13), 1x1 conv."""

    def __init__(self, in_ch: int, out_ch: int, kernel_sizes: tuple[int, ...] = (5, 9, 13), act: str = "silu") -> None:
        super().__init__()
        hidden = in_ch // 2
        self.conv1 = BaseConv(in_ch, hidden, 1, 1, act=act)
        self.m = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = BaseConv(hidden * (len(kernel_sizes) + 1), out_ch, 1, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, H, W) -> (B, out_ch, H, W)``."""
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.m], dim=1))


class CSPLayer(nn.Module):
    """Cross-stage-partial layer: two 1x1 branches, ``n`` bottlenecks on the first, concat, 1x1 conv."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        n: int = 1,
        shortcut: bool = True,
        expansion: float = 0.5,
        depthwise: bool = False,
        act: str = "silu",
    ) -> None:
        super().__init__()
        hidden = int(out_ch * expansion)
        self.conv1 = BaseConv(in_ch, hidden, 1, 1, act=act)
        self.conv2 = BaseConv(in_ch, hidden, 1, 1, act=act)
        self.conv3 = BaseConv(2 * hidden, out_ch, 1, 1, act=act)
        self.m = nn.Sequential(*[Bottleneck(hidden, hidden, shortcut, 1.0, depthwise, act) for _ in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, H, W) -> (B, out_ch, H, W)``."""
        return self.conv3(torch.cat((self.m(self.conv1(x)), self.conv2(x)), dim=1))


class Focus(nn.Module):
    """Space-to-depth (``3xHxW -> 12xH/2xW/2``, order TL, BL, TR, BR) followed by a ``BaseConv``."""

    def __init__(self, in_ch: int, out_ch: int, ksize: int = 1, stride: int = 1, act: str = "silu") -> None:
        super().__init__()
        self.conv = BaseConv(in_ch * 4, out_ch, ksize, stride, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, out_ch, H / 2, W / 2)`` (H and W even)."""
        x = torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]), dim=1)
        return self.conv(x)
