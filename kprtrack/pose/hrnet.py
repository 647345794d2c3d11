"""HRNet backbone with mmpose's module layout, so mmpose state-dict keys load unchanged.

Layout (``backbone.`` keys): a stride-4 stem (``conv1``/``bn1``, ``conv2``/``bn2``), ``layer1`` (stage1),
then ``transition{1,2,3}`` and ``stage{2,3,4}`` of ``HRModule`` s. Each module runs its branches'
residual blocks and then fuses them: a lower-resolution input is projected by a 1x1 conv + BN and
upsampled (nearest), a higher-resolution one goes through a chain of stride-2 3x3 conv + BN (+ ReLU
except on the chain's last conv). The last stage outputs only its highest-resolution branch unless
``multiscale_output``.
"""

from __future__ import annotations

import torch
from torch import nn

from kprtrack.pose.config import BLOCK_EXPANSION, HRNetConfig, StageConfig


def _bn(channels: int, eps: float) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=eps)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (expansion 1)."""

    #: conv -> BatchNorm pairs of ``forward`` (folded by :func:`kprtrack.fuse.inference_copy`).
    BN_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(self, in_channels: int, out_channels: int, downsample: nn.Module | None, eps: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)
        self.bn1 = _bn(out_channels, eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = _bn(out_channels, eps)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, Cin, H, W)`` -> ``(B, Cout, H, W)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convs with a residual connection (expansion 4)."""

    #: conv -> BatchNorm pairs of ``forward`` (folded by :func:`kprtrack.fuse.inference_copy`).
    BN_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))

    def __init__(self, in_channels: int, out_channels: int, downsample: nn.Module | None, eps: float) -> None:
        super().__init__()
        mid = out_channels // BLOCK_EXPANSION["BOTTLENECK"]
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn1 = _bn(mid, eps)
        self.conv2 = nn.Conv2d(mid, mid, 3, 1, 1, bias=False)
        self.bn2 = _bn(mid, eps)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.bn3 = _bn(out_channels, eps)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, Cin, H, W)`` -> ``(B, Cout, H, W)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


_BLOCKS: dict[str, type[nn.Module]] = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def make_res_layer(block: str, in_channels: int, out_channels: int, num_blocks: int, eps: float) -> nn.Sequential:
    """``num_blocks`` residual blocks; the first gets a 1x1 conv + BN shortcut when channels change."""
    cls = _BLOCKS[block]
    downsample = None
    if in_channels != out_channels:
        downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), _bn(out_channels, eps))
    layers = [cls(in_channels, out_channels, downsample, eps)]
    layers += [cls(out_channels, out_channels, None, eps) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """Parallel branches followed by the multi-resolution fusion."""

    def __init__(
        self,
        cfg: StageConfig,
        in_channels: tuple[int, ...],
        multiscale_output: bool,
        upsample_mode: str,
        eps: float,
    ) -> None:
        super().__init__()
        out = cfg.out_channels
        self.num_branches = cfg.num_branches
        self.branches = nn.ModuleList(
            make_res_layer(cfg.block, in_channels[i], out[i], cfg.num_blocks[i], eps) for i in range(cfg.num_branches)
        )
        self.fuse_layers: nn.ModuleList | None = None
        if cfg.num_branches > 1:
            num_out = cfg.num_branches if multiscale_output else 1
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse(i, j, out, upsample_mode, eps) for j in range(cfg.num_branches))
                for i in range(num_out)
            )
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = out

    @staticmethod
    def _fuse(i: int, j: int, ch: tuple[int, ...], upsample_mode: str, eps: float) -> nn.Module:
        """The path from branch ``j`` to output ``i``."""
        if j == i:
            return nn.Identity()
        if j > i:
            return nn.Sequential(
                nn.Conv2d(ch[j], ch[i], 1, bias=False),
                _bn(ch[i], eps),
                nn.Upsample(scale_factor=2 ** (j - i), mode=upsample_mode),
            )
        steps: list[nn.Module] = []
        for k in range(i - j):
            last = k == i - j - 1
            c_out = ch[i] if last else ch[j]
            layers: list[nn.Module] = [nn.Conv2d(ch[j], c_out, 3, 2, 1, bias=False), _bn(c_out, eps)]
            if not last:
                layers.append(nn.ReLU(inplace=True))
            steps.append(nn.Sequential(*layers))
        return nn.Sequential(*steps)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """One ``(B, C_i, H/2^i, W/2^i)`` tensor per branch in, one per output branch out."""
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        fused = []
        for paths in self.fuse_layers:
            y = paths[0](xs[0])
            for j in range(1, self.num_branches):
                y = y + paths[j](xs[j])
            fused.append(self.relu(y))
        return fused


class HRNet(nn.Module):
    """High-Resolution Network (Sun et al., CVPR 2019), mmpose flavour."""

    #: conv -> BatchNorm pairs of ``forward`` (folded by :func:`kprtrack.fuse.inference_copy`).
    BN_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(self, cfg: HRNetConfig) -> None:
        super().__init__()
        eps = cfg.bn_eps
        self.cfg = cfg
        self.conv1 = nn.Conv2d(cfg.in_channels, 64, 3, 2, 1, bias=False)
        self.bn1 = _bn(64, eps)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = _bn(64, eps)
        self.relu = nn.ReLU(inplace=True)

        s1 = cfg.stages[0]
        self.layer1 = make_res_layer(s1.block, 64, s1.out_channels[0], s1.num_blocks[0], eps)
        channels = s1.out_channels
        for n, stage in enumerate(cfg.stages[1:], start=2):
            setattr(self, f"transition{n - 1}", self._transition(channels, stage.out_channels, eps))
            channels = stage.out_channels
            modules = []
            for m in range(stage.num_modules):
                last_of_net = n == 4 and m == stage.num_modules - 1
                multiscale = cfg.multiscale_output or not last_of_net
                module = HRModule(stage, channels, multiscale, cfg.upsample_mode, eps)
                modules.append(module)
                channels = module.out_channels
            setattr(self, f"stage{n}", nn.Sequential(*modules))

    @staticmethod
    def _transition(pre: tuple[int, ...], cur: tuple[int, ...], eps: float) -> nn.ModuleList:
        """Adapt channels of kept branches, create new lower-resolution branches from the last one."""
        layers: list[nn.Module] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                if c == pre[i]:
                    layers.append(nn.Identity())
                else:
                    layers.append(
                        nn.Sequential(nn.Conv2d(pre[i], c, 3, 1, 1, bias=False), _bn(c, eps), nn.ReLU(inplace=True))
                    )
                continue
            steps = []
            for j in range(i + 1 - len(pre)):
                c_in = pre[-1]
                c_out = c if j == i - len(pre) else c_in
                steps.append(
                    nn.Sequential(nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), _bn(c_out, eps), nn.ReLU(inplace=True))
                )
            layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` normalised images -> output branches, the first ``(B, C, H/4, W/4)``."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for n in (2, 3, 4):
            transition: nn.ModuleList = getattr(self, f"transition{n - 1}")
            # kept branches read their own input, new branches the lowest-resolution one
            xs = [t(ys[i] if i < len(ys) else ys[-1]) for i, t in enumerate(transition)]
            ys = getattr(self, f"stage{n}")(xs)
        return ys
