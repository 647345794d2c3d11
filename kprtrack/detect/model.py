"""YOLOX network: CSPDarknet backbone, PAFPN neck, decoupled head, inference decoding.

Structure, channel arithmetic and parameter names are those of the official Megvii implementation
(``yolox/models/{darknet,yolo_pafpn,yolo_head,yolox}.py``), so ``model.state_dict()`` keys equal the
keys of Megvii release files (``backbone.backbone.stem.conv.conv.weight``, ``head.cls_preds.0.bias``...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from kprtrack.detect.blocks import BaseConv, CSPLayer, Focus, SPPBottleneck, conv_block


@dataclass(frozen=True)
class YOLOXArch:
    """Architecture hyper-parameters of one YOLOX model.

    Attributes:
        depth: depth multiplier (number of bottlenecks per CSP layer).
        width: width multiplier (channels).
        depthwise: depthwise-separable 3x3 convs (YOLOX-nano).
        num_classes: number of classes (80 for COCO, 1 for person-only detectors).
        act: activation, ``silu`` for every official model.
        in_channels: PAFPN channels before the width multiplier.
        strides: output strides of the three levels.
    """

    depth: float
    width: float
    depthwise: bool = False
    num_classes: int = 80
    act: str = "silu"
    in_channels: tuple[int, int, int] = (256, 512, 1024)
    strides: tuple[int, int, int] = (8, 16, 32)

    def __post_init__(self) -> None:
        if self.depth <= 0 or self.width <= 0:
            raise ValueError(f"YOLOXArch: depth and width must be positive, got {self.depth}, {self.width}")
        if self.num_classes < 1:
            raise ValueError(f"YOLOXArch.num_classes must be >= 1, got {self.num_classes}")
        base = int(self.width * 64)
        fpn = [int(c * self.width) for c in self.in_channels]
        if [base * 4, base * 8, base * 16] != fpn:
            raise ValueError(
                f"YOLOXArch.width={self.width}: backbone channels {[base * 4, base * 8, base * 16]} do not match "
                f"the PAFPN's {fpn} (int() truncation); choose a width with 64 * width an integer"
            )

    @property
    def base_channels(self) -> int:
        """Stem output channels (``int(64 * width)``)."""
        return int(self.width * 64)

    @property
    def base_depth(self) -> int:
        """Bottlenecks in dark2/dark5 (``max(round(3 * depth), 1)``); dark3/dark4 have three times as many."""
        return max(round(self.depth * 3), 1)

    @property
    def neck_depth(self) -> int:
        """Bottlenecks in each PAFPN CSP layer (``round(3 * depth)``)."""
        return round(3 * self.depth)

    @property
    def head_width(self) -> int:
        """Channels of the head branches (``int(256 * width)``)."""
        return int(256 * self.width)


class CSPDarknet(nn.Module):
    """CSPDarknet-53 style backbone returning the dark3, dark4 and dark5 features (strides 8, 16, 32)."""

    def __init__(self, arch: YOLOXArch) -> None:
        super().__init__()
        c, d, dw, act = arch.base_channels, arch.base_depth, arch.depthwise, arch.act
        self.stem = Focus(3, c, ksize=3, act=act)
        self.dark2 = nn.Sequential(conv_block(c, c * 2, 3, 2, dw, act), CSPLayer(c * 2, c * 2, d, True, 0.5, dw, act))
        self.dark3 = nn.Sequential(
            conv_block(c * 2, c * 4, 3, 2, dw, act), CSPLayer(c * 4, c * 4, d * 3, True, 0.5, dw, act)
        )
        self.dark4 = nn.Sequential(
            conv_block(c * 4, c * 8, 3, 2, dw, act), CSPLayer(c * 8, c * 8, d * 3, True, 0.5, dw, act)
        )
        self.dark5 = nn.Sequential(
            conv_block(c * 8, c * 16, 3, 2, dw, act),
            SPPBottleneck(c * 16, c * 16, act=act),
            CSPLayer(c * 16, c * 16, d, False, 0.5, dw, act),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backbone features of ``(B, 3, H, W)`` images.

        Returns:
            dark3 ``(B, 4c, H/8, W/8)``, dark4 ``(B, 8c, H/16, W/16)``, dark5 ``(B, 16c, H/32, W/32)``,
            ``c`` being the stem width ``int(64 * width)``.
        """
        x = self.dark2(self.stem(x))
        c3 = self.dark3(x)
        c4 = self.dark4(c3)
        c5 = self.dark5(c4)
        return c3, c4, c5


class YOLOPAFPN(nn.Module):
    """CSPDarknet followed by the YOLOX path-aggregation FPN (attribute ``backbone`` holds the darknet)."""

    def __init__(self, arch: YOLOXArch) -> None:
        super().__init__()
        self.backbone = CSPDarknet(arch)
        c0, c1, c2 = (int(c * arch.width) for c in arch.in_channels)
        n, dw, act = arch.neck_depth, arch.depthwise, arch.act
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral_conv0 = BaseConv(c2, c1, 1, 1, act=act)
        self.C3_p4 = CSPLayer(2 * c1, c1, n, False, 0.5, dw, act)
        self.reduce_conv1 = BaseConv(c1, c0, 1, 1, act=act)
        self.C3_p3 = CSPLayer(2 * c0, c0, n, False, 0.5, dw, act)
        self.bu_conv2 = conv_block(c0, c0, 3, 2, dw, act)
        self.C3_n3 = CSPLayer(2 * c0, c1, n, False, 0.5, dw, act)
        self.bu_conv1 = conv_block(c1, c1, 3, 2, dw, act)
        self.C3_n4 = CSPLayer(2 * c1, c2, n, False, 0.5, dw, act)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, 3, H, W)`` -> P3, P4, P5 features with ``int(256w), int(512w), int(1024w)`` channels."""
        x2, x1, x0 = self.backbone(x)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat([self.upsample(fpn_out0), x1], 1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat([self.upsample(fpn_out1), x2], 1))
        pan_out1 = self.C3_n3(torch.cat([self.bu_conv2(pan_out2), fpn_out1], 1))
        pan_out0 = self.C3_n4(torch.cat([self.bu_conv1(pan_out1), fpn_out0], 1))
        return pan_out2, pan_out1, pan_out0


class YOLOXHead(nn.Module):
    """Decoupled head: per level a 1x1 stem, then two 3x3 convs for classes and two for boxes/objectness."""

    def __init__(self, arch: YOLOXArch) -> None:
        super().__init__()
        self.num_classes = arch.num_classes
        self.strides = tuple(arch.strides)
        w, dw, act = arch.head_width, arch.depthwise, arch.act
        self.stems = nn.ModuleList()
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        self.cls_preds = nn.ModuleList()
        self.reg_preds = nn.ModuleList()
        self.obj_preds = nn.ModuleList()
        for c in arch.in_channels:
            self.stems.append(BaseConv(int(c * arch.width), w, 1, 1, act=act))
            self.cls_convs.append(nn.Sequential(conv_block(w, w, 3, 1, dw, act), conv_block(w, w, 3, 1, dw, act)))
            self.reg_convs.append(nn.Sequential(conv_block(w, w, 3, 1, dw, act), conv_block(w, w, 3, 1, dw, act)))
            self.cls_preds.append(nn.Conv2d(w, arch.num_classes, 1))
            self.reg_preds.append(nn.Conv2d(w, 4, 1))
            self.obj_preds.append(nn.Conv2d(w, 1, 1))

    def initialize_biases(self, prior_prob: float = 1e-2) -> None:
        """Set class and objectness biases to ``-log((1 - p) / p)`` (Megvii's ``initialize_biases``)."""
        value = -math.log((1 - prior_prob) / prior_prob)
        with torch.no_grad():
            for conv in list(self.cls_preds) + list(self.obj_preds):
                conv.bias.fill_(value)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        """Per level logits ``(B, 4 + 1 + C, H_l, W_l)``: box regression, objectness, classes (no activation)."""
        outs = []
        for k, x in enumerate(feats):
            x = self.stems[k](x)
            cls_feat = self.cls_convs[k](x)
            reg_feat = self.reg_convs[k](x)
            outs.append(
                torch.cat([self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat), self.cls_preds[k](cls_feat)], 1)
            )
        return outs


def level_grids(
    shapes: list[tuple[int, int]], strides: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor cell indices and strides of all levels, level-major then row-major.

    Returns:
        ``grid (A, 2)`` integer cell ``(x, y)`` as ``dtype`` and ``stride (A, 1)`` as ``dtype``.
    """
    grids, strs = [], []
    for (h, w), s in zip(shapes, strides):
        yv, xv = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        grids.append(torch.stack((xv, yv), 2).reshape(-1, 2))
        strs.append(torch.full((h * w, 1), s, device=device))
    return torch.cat(grids).to(dtype), torch.cat(strs).to(dtype)


def flatten_levels(levels: list[torch.Tensor]) -> torch.Tensor:
    """``[(B, K, H_l, W_l)]`` -> ``(B, A, K)`` with ``A = sum H_l W_l`` (level-major, row-major)."""
    return torch.cat([x.flatten(start_dim=2) for x in levels], dim=2).permute(0, 2, 1)


def decode_outputs(levels: list[torch.Tensor], strides: tuple[int, ...], style: str = "megvii") -> torch.Tensor:
    """Inference decoding of the head's logits into ``[cx, cy, w, h, obj, C class probs]``.

    Args:
        levels: head outputs ``(B, 5 + C, H_l, W_l)`` per level.
        strides: stride of each level.
        style: ``megvii`` computes ``(reg_xy + grid) * stride`` (yolo_head.py ``decode_outputs``);
            ``mmdet`` computes ``reg_xy * stride + grid * stride`` (mmdet's ``_bbox_decode`` with
            ``MlvlPointGenerator(offset=0)`` priors). Both use ``exp(reg_wh) * stride`` and sigmoids.

    Returns:
        ``(B, A, 5 + C)`` in input pixels.
    """
    shapes = [(int(x.shape[2]), int(x.shape[3])) for x in levels]
    raw = flatten_levels(levels)
    grid, stride = level_grids(shapes, strides, raw.device, raw.dtype)
    if style == "megvii":
        xy = (raw[..., 0:2] + grid) * stride
    elif style == "mmdet":
        xy = raw[..., 0:2] * stride + grid * stride
    else:
        raise ValueError(f"unknown decoding style {style!r}; expected 'megvii' or 'mmdet'")
    return torch.cat([xy, torch.exp(raw[..., 2:4]) * stride, raw[..., 4:].sigmoid()], dim=-1)


class YOLOX(nn.Module):
    """The full detector: ``backbone`` (YOLOPAFPN) and ``head`` (YOLOXHead), as Megvii's ``YOLOX``.

    Attributes:
        arch: the architecture the model was built with.
        decode_style: ``megvii`` or ``mmdet`` box-decoding arithmetic used by :meth:`forward`.
    """

    def __init__(self, arch: YOLOXArch) -> None:
        super().__init__()
        self.arch = arch
        self.backbone = YOLOPAFPN(arch)
        self.head = YOLOXHead(arch)
        self.decode_style = "megvii"

    @property
    def strides(self) -> tuple[int, ...]:
        """Output strides of the three levels."""
        return self.head.strides

    def forward_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Head logits per level, ``(B, 5 + C, H/s, W/s)`` for ``s`` in the strides (used by training)."""
        return self.head(self.backbone(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decoded predictions ``(B, A, 5 + C)``: ``[cx, cy, w, h, obj, class probs]`` in input pixels.

        Args:
            x: ``(B, 3, H, W)`` preprocessed images, H and W multiples of 32.
        """
        return decode_outputs(self.forward_levels(x), self.strides, self.decode_style)
