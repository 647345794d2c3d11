"""PP-TinyPose (PaddleDetection): a Lite-HRNet-style top-down heatmap network, native PyTorch.

The layout was read from the released inference graph (OpenVINO IR of PaddleDetection's
``tinypose_256x192`` / ``tinypose_128x96``, see ``tools/convert_tinypose.py``); both variants share
one architecture and differ in the crop size they were trained on. BatchNorm is folded into the
convolutions, as in the released graph, so every convolution carries a bias.

* **Stem** (stride 4, 32 channels): 3x3 stride-2 conv + ReLU, then a ShuffleNet-v2 downsampling
  unit: the channels are split in halves; half 1 goes through a depthwise 3x3 stride-2 conv and a
  1x1 conv + ReLU, half 2 through a 1x1 expansion (x2) + ReLU, a depthwise 3x3 stride-2 conv and a
  1x1 conv + ReLU; the halves are concatenated and channel-shuffled (2 groups).
* **Stages** 1-3 with 2, 3 and 4 parallel branches (40/80/160/320 channels at strides
  4/8/16/32) and 2, 4 and 2 modules. Before each stage a transition adds the new lowest-resolution
  branch (depthwise 3x3 stride 2 + 1x1 conv + ReLU from the previous lowest branch; before stage 1
  both branches come from the stem this way, branch 0 with stride 1).
* **Module**: per branch two ShuffleNet-v2 units (split; half 2: 1x1 + ReLU, depthwise 3x3,
  1x1 + ReLU; concatenate; shuffle), then a fuse: output ``i`` sums every branch ``j`` brought to
  branch ``i``'s resolution (``j > i``: 1x1 conv, nearest upsampling; ``j < i``: ``i - j`` steps of
  depthwise 3x3 stride 2 + 1x1 conv, ReLU between steps) and is passed through a ReLU. Two quirks
  of the original are kept, because the released graph computes them (PaddleDetection's model code,
  so presumably also in training): the own-branch term of output 0 and the branch-0 term of every
  other output are counted twice, and outputs ``i >= 1`` read branch 0 *after* output 0's sum was
  accumulated into it (PaddleDetection adds in place into the branch-0 tensor).
* **Head** (Lite-HRNet ``IterativeHead``): from the lowest resolution up, each branch adds the
  bilinearly upsampled (``align_corners=True``) result of the branch below, then a depthwise 3x3
  conv and a 1x1 conv + ReLU to the next branch's width; a final 1x1 conv gives 17 COCO heatmaps
  at stride 4.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kprtrack.checkpoints import check_keys, extract_state_dict, load_checkpoint


@dataclass(frozen=True)
class TinyPoseArch:
    """Architecture of a PP-TinyPose network.

    Attributes:
        name: variant name.
        input_size: crop ``(w, h)`` the weights were trained on.
        stem_channels: stem width.
        channels: width of each branch (the last stage has them all).
        num_modules: modules per stage (stage ``s`` has ``s + 2`` branches).
        num_blocks: ShuffleNet units per branch and module.
        num_keypoints: heatmaps.
    """

    name: str
    input_size: tuple[int, int]
    stem_channels: int = 32
    channels: tuple[int, ...] = (40, 80, 160, 320)
    num_modules: tuple[int, ...] = (2, 4, 2)
    num_blocks: int = 2
    num_keypoints: int = 17

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.num_modules) + 1:
            raise ValueError(f"{len(self.channels)} branch widths for {len(self.num_modules)} stages")
        if any(c % 2 for c in (self.stem_channels, *self.channels)):
            raise ValueError(f"widths must be even (channel split), got {self.stem_channels} / {self.channels}")

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """Heatmap ``(W, H)``: a quarter of the input."""
        return self.input_size[0] // 4, self.input_size[1] // 4


class ConvAct(nn.Conv2d):
    """A convolution with folded BatchNorm (bias), optionally followed by ReLU.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: 1 or 3 (3x3 is padded by 1).
        stride: stride.
        depthwise: one group per channel (``in_channels == out_channels``).
        relu: apply ReLU.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        depthwise: bool = False,
        relu: bool = False,
    ) -> None:
        groups = in_channels if depthwise else 1
        super().__init__(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=True)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, Cin, H, W)`` -> ``(B, Cout, H / stride, W / stride)``."""
        y = super().forward(x)
        return F.relu(y) if self.relu else y


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 conv (no activation) then a 1x1 conv.

    Args:
        in_channels: input (and depthwise) channels.
        out_channels: output channels.
        stride: stride of the depthwise conv.
        relu: ReLU after the 1x1 conv.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.dw = ConvAct(in_channels, in_channels, 3, stride, depthwise=True)
        self.pw = ConvAct(in_channels, out_channels, 1, relu=relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, Cin, H, W)`` -> ``(B, Cout, H / stride, W / stride)``."""
        return self.pw(self.dw(x))


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet).

    Args:
        x: ``(B, C, H, W)``, ``C`` divisible by ``groups``.
        groups: number of groups.

    Returns:
        ``(B, C, H, W)``: channel ``g * C/groups + k`` moves to ``k * groups + g``.
    """
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class Stem(nn.Module):
    """Stride-4 stem: 3x3 stride-2 conv, then a ShuffleNet-v2 downsampling unit.

    Args:
        in_channels: image channels.
        channels: stem width.
    """

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.conv = ConvAct(in_channels, channels, 3, 2, relu=True)
        self.branch1 = DepthwiseSeparable(half, half, stride=2)
        self.expand = ConvAct(half, channels, 1, relu=True)
        self.branch2 = DepthwiseSeparable(channels, half, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, h, w)`` -> ``(B, channels, h / 4, w / 4)``."""
        x1, x2 = self.conv(x).chunk(2, dim=1)
        return channel_shuffle(torch.cat([self.branch1(x1), self.branch2(self.expand(x2))], dim=1))


class ShuffleUnit(nn.Module):
    """ShuffleNet-v2 unit, stride 1: half the channels pass, half go through 1x1, depthwise 3x3, 1x1.

    Args:
        channels: input = output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.pw1 = ConvAct(half, half, 1, relu=True)
        self.branch = DepthwiseSeparable(half, half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        x1, x2 = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat([x1, self.branch(self.pw1(x2))], dim=1))


class FuseUp(nn.Module):
    """Lower-resolution branch -> higher: 1x1 conv (no activation), nearest upsampling.

    Args:
        in_channels: channels of the source branch.
        out_channels: channels of the target branch.
        factor: upsampling factor (``2 ** (j - i)``).
    """

    def __init__(self, in_channels: int, out_channels: int, factor: int) -> None:
        super().__init__()
        self.conv = ConvAct(in_channels, out_channels, 1)
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, Cj, H, W)`` -> ``(B, Ci, H * factor, W * factor)``."""
        return F.interpolate(self.conv(x), scale_factor=float(self.factor), mode="nearest")


class FuseDown(nn.Sequential):
    """Higher-resolution branch -> lower: ``steps`` depthwise-separable stride-2 convs, ReLU except after the last.

    Args:
        in_channels: channels of the source branch (kept until the last step).
        out_channels: channels of the target branch.
        steps: ``i - j``.
    """

    def __init__(self, in_channels: int, out_channels: int, steps: int) -> None:
        super().__init__(
            *(
                DepthwiseSeparable(
                    in_channels, out_channels if k == steps - 1 else in_channels, stride=2, relu=k < steps - 1
                )
                for k in range(steps)
            )
        )


class LiteModule(nn.Module):
    """One multi-branch module: ShuffleNet units per branch, then the fuse (see the module docstring).

    Args:
        channels: width of each branch.
        num_blocks: units per branch.
    """

    def __init__(self, channels: tuple[int, ...], num_blocks: int) -> None:
        super().__init__()
        n = len(channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*(ShuffleUnit(c) for _ in range(num_blocks))) for c in channels
        )
        self.fuse = nn.ModuleList(
            nn.ModuleList(
                nn.Identity()
                if j == i
                else FuseUp(channels[j], channels[i], 2 ** (j - i))
                if j > i
                else FuseDown(channels[j], channels[i], i - j)
                for j in range(n)
            )
            for i in range(n)
        )

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Branch features (``(B, C_b, H / 2^b, W / 2^b)`` each) -> fused features, same shapes."""
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        outs = []
        for i, fuse_i in enumerate(self.fuse):
            first = xs[0] if i == 0 else fuse_i[0](xs[0])
            y = first + first  # the original starts from branch 0's term and adds it again
            for j in range(1, len(xs)):
                y = y + (xs[j] if j == i else fuse_i[j](xs[j]))
            if i == 0:
                xs[0] = y  # the original accumulates output 0 in place into branch 0's tensor
            outs.append(F.relu(y))
        return outs


class IterativeHead(nn.Module):
    """Lite-HRNet's head: lowest resolution first, each branch adds the upsampled branch below and is projected.

    Args:
        channels: width of each branch.
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        rev = channels[::-1]
        self.projects = nn.ModuleList(
            DepthwiseSeparable(c, rev[k + 1] if k + 1 < len(rev) else c) for k, c in enumerate(rev)
        )

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """Branch features -> ``(B, C_0, H, W)`` at branch 0's resolution."""
        last: torch.Tensor | None = None
        for project, s in zip(self.projects, xs[::-1]):
            if last is not None:
                s = s + F.interpolate(last, size=s.shape[-2:], mode="bilinear", align_corners=True)
            last = project(s)
        if last is None:
            raise ValueError("IterativeHead needs at least one branch")
        return last


class TinyPoseNet(nn.Module):
    """PP-TinyPose: normalised RGB crops -> COCO-17 heatmaps at a quarter of the input size.

    Args:
        arch: the architecture.

    The state dict also holds ``input_size`` (int64 ``(w, h)``), the crop size the weights were
    trained on, so a checkpoint names its own variant.
    """

    def __init__(self, arch: TinyPoseArch) -> None:
        super().__init__()
        self.arch = arch
        c = arch.channels
        self.register_buffer("input_size", torch.tensor(arch.input_size, dtype=torch.int64))
        self.stem = Stem(3, arch.stem_channels)
        transitions = [nn.ModuleList([DepthwiseSeparable(arch.stem_channels, c[0], stride=1)])]
        transitions[0].append(DepthwiseSeparable(arch.stem_channels, c[1], stride=2))
        for s in range(1, len(arch.num_modules)):
            transitions.append(nn.ModuleList([DepthwiseSeparable(c[s], c[s + 1], stride=2)]))
        self.transitions = nn.ModuleList(transitions)
        self.stages = nn.ModuleList(
            nn.Sequential(*(LiteModule(c[: s + 2], arch.num_blocks) for _ in range(m)))
            for s, m in enumerate(arch.num_modules)
        )
        self.head = IterativeHead(c)
        self.final = ConvAct(c[0], arch.num_keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised crops ``(B, 3, h, w)`` -> heatmaps ``(B, 17, h / 4, w / 4)``."""
        stem = self.stem(x)
        xs = [t(stem) for t in self.transitions[0]]
        for s, stage in enumerate(self.stages):
            if s > 0:
                xs = xs + [self.transitions[s][0](xs[-1])]
            xs = stage(xs)
        return self.final(self.head(xs))


#: The released variants' architectures (one layout; the crop size differs).
TINYPOSE_ARCHS: dict[str, TinyPoseArch] = {
    "tinypose_256x192": TinyPoseArch("tinypose_256x192", input_size=(192, 256)),
    "tinypose_128x96": TinyPoseArch("tinypose_128x96", input_size=(96, 128)),
}


def build_tinypose_256x192() -> TinyPoseNet:
    """PP-TinyPose 256x192 (h x w): the accurate variant."""
    return TinyPoseNet(TINYPOSE_ARCHS["tinypose_256x192"])


def build_tinypose_128x96() -> TinyPoseNet:
    """PP-TinyPose 128x96 (h x w): the fast variant."""
    return TinyPoseNet(TINYPOSE_ARCHS["tinypose_128x96"])


#: Variant name -> build function.
TINYPOSE_VARIANTS: dict[str, Callable[[], TinyPoseNet]] = {
    "tinypose_256x192": build_tinypose_256x192,
    "tinypose_128x96": build_tinypose_128x96,
}


def build_tinypose(name: str) -> TinyPoseNet:
    """Build a registered variant.

    Raises:
        ValueError: naming the known variants.
    """
    if name not in TINYPOSE_VARIANTS:
        raise ValueError(f"unknown PP-TinyPose variant {name!r}; expected one of {sorted(TINYPOSE_VARIANTS)}")
    return TINYPOSE_VARIANTS[name]()


def load_tinypose(path: str | os.PathLike[str], variant: str | None = None) -> TinyPoseNet:
    """Load a state dict written by ``tools/convert_tinypose.py`` (float16 or float32) as float32.

    Args:
        path: the ``.pth`` file (read with kprtrack's restricted unpickler).
        variant: a name of :data:`TINYPOSE_VARIANTS`; ``None`` picks the one whose input size the file declares.

    Returns:
        The network in eval mode, float32.

    Raises:
        kprtrack.checkpoints.CheckpointKeyError: naming every missing, unexpected or mis-shaped key.
        ValueError: unknown variant, or a file trained for another input size than ``variant``.
    """
    sd = extract_state_dict(load_checkpoint(path))
    declared = tuple(int(v) for v in sd["input_size"].tolist()) if "input_size" in sd else None
    if variant is None:
        names = [n for n, arch in TINYPOSE_ARCHS.items() if arch.input_size == declared]
        if len(names) != 1:
            raise ValueError(
                f"{path}: cannot tell the PP-TinyPose variant (input_size {declared}); pass variant= one of "
                f"{sorted(TINYPOSE_VARIANTS)}"
            )
        variant = names[0]
    net = build_tinypose(variant)
    check_keys(net.state_dict(), sd, str(path), f"TinyPoseNet {variant}")
    if declared != net.arch.input_size:
        raise ValueError(
            f"{path} holds weights for input (w, h) {declared}; variant {variant} is {net.arch.input_size}"
        )
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    return net.eval()
