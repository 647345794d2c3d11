"""Recover an HRNet + HeatmapHead architecture from the tensor names and shapes of a state dict.

Used when a checkpoint comes without a config: module / branch / block counts come from the key
names, widths and block types from the weight shapes. What tensors cannot tell (input and heatmap
size, codec, test settings) comes from the caller or the :class:`TopdownConfig` defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import torch

from kprtrack.pose.config import (
    BLOCK_EXPANSION,
    CodecConfig,
    HeadConfig,
    HRNetConfig,
    PoseModelConfig,
    StageConfig,
    TopdownConfig,
)


def _count(keys: list[str], pattern: str) -> int:
    """Number of distinct integers captured by ``pattern`` (one group) over ``keys``."""
    rx = re.compile(pattern)
    found = {int(m.group(1)) for k in keys if (m := rx.match(k))}
    return max(found) + 1 if found else 0


def _weight(sd: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in sd:
        raise ValueError(f"cannot infer the architecture: state dict has no {key!r}")
    return sd[key]


def _block_type(sd: Mapping[str, torch.Tensor], prefix: str) -> str:
    return "BOTTLENECK" if f"{prefix}.conv3.weight" in sd else "BASIC"


def infer_hrnet_config(sd: Mapping[str, torch.Tensor]) -> HRNetConfig:
    """HRNet backbone settings from ``backbone.*`` tensors."""
    keys = list(sd)
    stem = _weight(sd, "backbone.conv1.weight")
    n1 = _count(keys, r"backbone\.layer1\.(\d+)\.")
    block1 = _block_type(sd, "backbone.layer1.0")
    out1 = _weight(sd, f"backbone.layer1.{n1 - 1}.conv{3 if block1 == 'BOTTLENECK' else 2}.weight").shape[0]
    stages = [StageConfig(1, 1, block1, (n1,), (out1 // BLOCK_EXPANSION[block1],))]
    multiscale = True
    for s in (2, 3, 4):
        p = f"backbone.stage{s}"
        modules = _count(keys, rf"{p}\.(\d+)\.")
        branches = _count(keys, rf"{p}\.0\.branches\.(\d+)\.")
        if modules == 0 or branches == 0:
            raise ValueError(f"cannot infer the architecture: no {p}.*.branches.* tensors")
        block = _block_type(sd, f"{p}.0.branches.0.0")
        last_conv = "conv3" if block == "BOTTLENECK" else "conv2"
        blocks, channels = [], []
        for b in range(branches):
            blocks.append(_count(keys, rf"{p}\.0\.branches\.{b}\.(\d+)\."))
            out = _weight(sd, f"{p}.0.branches.{b}.0.{last_conv}.weight").shape[0]
            channels.append(out // BLOCK_EXPANSION[block])
        stages.append(StageConfig(modules, branches, block, tuple(blocks), tuple(channels)))
        if s == 4:
            multiscale = _count(keys, rf"{p}\.{modules - 1}\.fuse_layers\.(\d+)\.") > 1
    return HRNetConfig(stages=tuple(stages), in_channels=stem.shape[1], multiscale_output=multiscale)


def infer_head_config(sd: Mapping[str, torch.Tensor]) -> HeadConfig:
    """HeatmapHead settings from ``head.*`` tensors."""
    keys = list(sd)
    deconv_out, deconv_k, conv_out, conv_k = [], [], [], []
    for i in range(0, _count(keys, r"head\.deconv_layers\.(\d+)\."), 3):
        w = _weight(sd, f"head.deconv_layers.{i}.weight")  # ConvTranspose2d: (in, out, k, k)
        deconv_out.append(w.shape[1])
        deconv_k.append(w.shape[2])
    for i in range(0, _count(keys, r"head\.conv_layers\.(\d+)\."), 3):
        w = _weight(sd, f"head.conv_layers.{i}.weight")
        conv_out.append(w.shape[0])
        conv_k.append(w.shape[2])
    final = _weight(sd, "head.final_layer.weight")
    if deconv_out:
        in_channels = _weight(sd, "head.deconv_layers.0.weight").shape[0]
    elif conv_out:
        in_channels = _weight(sd, "head.conv_layers.0.weight").shape[1]
    else:
        in_channels = final.shape[1]
    k = final.shape[2]
    return HeadConfig(
        in_channels=in_channels,
        out_channels=final.shape[0],
        deconv_out_channels=tuple(deconv_out),
        deconv_kernel_sizes=tuple(deconv_k),
        conv_out_channels=tuple(conv_out),
        conv_kernel_sizes=tuple(conv_k),
        final_kernel_size=k,
        final_padding=(k - 1) // 2,
    )


def infer_pose_config(
    sd: Mapping[str, torch.Tensor],
    input_size: tuple[int, int] = TopdownConfig().input_size,
    keypoint_format: str = "coco17",
    name: str = "inferred",
) -> PoseModelConfig:
    """A full :class:`PoseModelConfig` from tensor shapes plus the mmpose test defaults.

    Args:
        sd: state dict with ``backbone.`` / ``head.`` keys.
        input_size: crop ``(w, h)``; the heatmap is ``input / 4`` (HRNet stride), doubled per deconv layer.
        keypoint_format: convention to declare.
        name: label.
    """
    backbone = infer_hrnet_config(sd)
    head = infer_head_config(sd)
    up = 2 ** len(head.deconv_out_channels)
    w, h = input_size
    codec = replace(CodecConfig(), input_size=(w, h), heatmap_size=(w * up // 4, h * up // 4))
    pipeline = replace(TopdownConfig(), input_size=(w, h))
    return PoseModelConfig(
        name=name, backbone=backbone, head=head, codec=codec, pipeline=pipeline, keypoint_format=keypoint_format
    )
