"""Native PyTorch port of Intel OMZ ``person-reidentification-retail-0288`` / ``-0287``.

The OpenVINO IR of these models is an omni-scale network (OSNet-style, instance-normalised stem)
whose batch norms were folded into the convolutions. The modules below mirror that graph:

* input: BGR float ``0..255`` ``(N, 3, 256, 128)``; the network swaps the channels to RGB,
  subtracts ``input_mean``, multiplies by ``input_scale`` and instance-normalises (affine);
* stem: 7x7 stride-2 convolution, instance norm (affine), ReLU, 3x3 stride-2 max pool;
* three stages of two omni-scale blocks: a 1x1 reduction to ``C / 4`` channels, four streams of
  1..4 light 3x3 convolutions (1x1 pointwise then 3x3 depthwise), one channel gate shared by
  the four streams (first block: a bottleneck of two 1x1 convolutions; second block: a group norm
  of the pooled vector), their gated sum expanded back to ``C`` channels and added to the
  shortcut (a 1x1 projection in the first block), ReLU; stages one and two end with a 1x1
  convolution, ReLU and a 2x2 average pool;
* head: 1x1 convolution and ReLU, a depthwise convolution over the whole ``16 x 8`` map (a learned
  global pooling), a linear layer (the IR's batch norm folded in) and a one-parameter PReLU.

``OMZReidNet.forward`` returns the raw embedding ``(N, D)``; compare L2-normalised embeddings.
Weights come from ``tools/convert_omz_reid.py`` (bare state dicts, see ``weights/NOTICE-omz-reid.txt``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kprtrack.checkpoints import check_keys, extract_state_dict, load_checkpoint

#: The input size the ported graphs were exported for, ``(H, W)`` (the head's pooling kernel depends on it).
OMZ_INPUT_SIZE: tuple[int, int] = (256, 128)
#: Total stride of the backbone: the last feature map is ``(H / 16, W / 16)``.
OMZ_STRIDE = 16


@dataclass(frozen=True)
class OMZReidConfig:
    """Architecture of one ported OMZ re-identification network.

    Attributes:
        name: registry name.
        stem_channels: channels of the 7x7 stem convolution.
        stage_channels: output channels of the three stages.
        gate_hidden: hidden width of the bottleneck gate of each stage's first block.
        gate_groups: group count of the group-norm gate of each stage's second block.
        embedding_dim: size ``D`` of the output embedding.
        input_size: ``(H, W)`` of the input crops.
    """

    name: str
    stem_channels: int
    stage_channels: tuple[int, int, int]
    gate_hidden: tuple[int, int, int]
    gate_groups: tuple[int, int, int]
    embedding_dim: int = 256
    input_size: tuple[int, int] = OMZ_INPUT_SIZE

    @property
    def feature_channels(self) -> int:
        """Channels ``C`` of the last feature map."""
        return self.stage_channels[-1]

    @property
    def feature_size(self) -> tuple[int, int]:
        """``(h, w)`` of the last feature map."""
        return self.input_size[0] // OMZ_STRIDE, self.input_size[1] // OMZ_STRIDE


class LightConv3x3(nn.Module):
    """1x1 pointwise convolution (no bias), 3x3 depthwise convolution (batch norm folded), ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H, W)``."""
        return F.relu(self.depthwise(self.pointwise(x)))


class BottleneckGate(nn.Module):
    """Channel gate ``sigmoid(fc2(relu(fc1(mean_hw(x)))))`` (1x1 convolutions with bias)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, 1, 1)`` gate values in ``(0, 1)``."""
        return torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class GroupNormGate(nn.Module):
    """Channel gate ``sigmoid(group_norm(mean_hw(x)))`` (affine group norm of the pooled vector).

    The normalisation is written out (``nn.GroupNorm`` refuses groups of one value, which the
    0288 model has: 16 groups of 16 channels, where the gate reduces to ``sigmoid(bias)``).
    """

    def __init__(self, channels: int, groups: int, eps: float = 1e-5) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"GroupNormGate: {channels} channels do not split into {groups} groups")
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, 1, 1)`` gate values in ``(0, 1)``."""
        n, c = x.shape[:2]
        pooled = x.mean((2, 3)).view(n, self.groups, c // self.groups)
        var, mean = torch.var_mean(pooled, dim=2, unbiased=False, keepdim=True)
        normed = ((pooled - mean) * torch.rsqrt(var + self.eps)).view(n, c)
        return torch.sigmoid(normed * self.weight + self.bias).view(n, c, 1, 1)


class OmniScaleBlock(nn.Module):
    """Reduce, four gated streams of 1..4 light convolutions, sum, expand, add the shortcut, ReLU.

    Args:
        in_channels: input channels.
        out_channels: output channels (the streams work at ``out_channels // 4``).
        gate: the gate shared by the four streams, built for ``out_channels // 4`` channels.
    """

    def __init__(self, in_channels: int, out_channels: int, gate: nn.Module) -> None:
        super().__init__()
        mid = out_channels // 4
        self.reduce = nn.Conv2d(in_channels, mid, 1)
        self.streams = nn.ModuleList(nn.Sequential(*(LightConv3x3(mid) for _ in range(depth))) for depth in range(1, 5))
        self.gate = gate
        self.expand = nn.Conv2d(mid, out_channels, 1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W) -> (N, C_out, H, W)``."""
        r = F.relu(self.reduce(x))
        summed = None
        for stream in self.streams:
            y = stream(r)
            y = y * self.gate(y)
            summed = y if summed is None else summed + y
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(self.expand(summed) + identity)


class Transition(nn.Module):
    """1x1 convolution (batch norm folded), ReLU, 2x2 average pool."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H / 2, W / 2)``."""
        return F.avg_pool2d(F.relu(self.conv(x)), 2)


class Stem(nn.Module):
    """Input instance norm, 7x7 stride-2 convolution, instance norm, ReLU, 3x3 stride-2 max pool."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input_norm = nn.InstanceNorm2d(3, eps=1e-5, affine=True)
        self.conv = nn.Conv2d(3, channels, 7, stride=2, padding=3, bias=False)
        self.norm = nn.InstanceNorm2d(channels, eps=1e-5, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` normalised RGB ``-> (N, C, H / 4, W / 4)``."""
        x = F.relu(self.norm(self.conv(self.input_norm(x))))
        return F.max_pool2d(x, 3, stride=2, padding=1)


class Head(nn.Module):
    """1x1 convolution + ReLU, learned global depthwise pooling, linear (batch norm folded), PReLU."""

    def __init__(self, channels: int, feature_size: tuple[int, int], dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)
        self.pool = nn.Conv2d(channels, channels, feature_size, groups=channels, bias=True)
        self.fc = nn.Linear(channels, dim)
        self.prelu = nn.PReLU(1)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map ``(N, C, h, w)`` (after the 1x1 convolution and ReLU)."""
        return F.relu(self.conv(x))

    def embed(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(N, C)`` -> embeddings ``(N, D)``."""
        return self.prelu(self.fc(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, h, w) -> (N, D)``."""
        return self.embed(self.pool(self.feature_map(x)).flatten(1))


class OMZReidNet(nn.Module):
    """The ported network. Input BGR float ``0..255`` ``(N, 3, H, W)``, output raw embeddings ``(N, D)``.

    Args:
        config: the architecture (:data:`OMZ_REID_CONFIGS`).
    """

    def __init__(self, config: OMZReidConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("input_mean", torch.zeros(3))
        self.register_buffer("input_scale", torch.ones(3))
        self.stem = Stem(config.stem_channels)
        stages = []
        in_ch = config.stem_channels
        last = len(config.stage_channels) - 1
        for i, (out_ch, hidden, groups) in enumerate(
            zip(config.stage_channels, config.gate_hidden, config.gate_groups)
        ):
            mid = out_ch // 4
            blocks = [
                OmniScaleBlock(in_ch, out_ch, BottleneckGate(mid, hidden)),
                OmniScaleBlock(out_ch, out_ch, GroupNormGate(mid, groups)),
            ]
            if i < last:
                blocks.append(Transition(out_ch))
            stages.append(nn.Sequential(*blocks))
            in_ch = out_ch
        self.stages = nn.ModuleList(stages)
        self.head = Head(config.feature_channels, config.feature_size, config.embedding_dim)

    def normalize_input(self, images: torch.Tensor) -> torch.Tensor:
        """BGR ``0..255`` ``(N, 3, H, W)`` -> RGB ``(x - mean) * scale``, as the IR's preprocessing does."""
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != self.config.input_size:
            h, w = self.config.input_size
            raise ValueError(f"images: expected (N, 3, {h}, {w}) BGR float 0..255, got {tuple(images.shape)}")
        rgb = images.flip(1)
        return (rgb - self.input_mean.view(1, 3, 1, 1)) * self.input_scale.view(1, 3, 1, 1)

    def backbone(self, images: torch.Tensor) -> torch.Tensor:
        """BGR ``0..255`` ``(N, 3, H, W)`` -> the stage-three output ``(N, C, H / 16, W / 16)``."""
        x = self.stem(self.normalize_input(images))
        for stage in self.stages:
            x = stage(x)
        return x

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """The last feature map ``(N, C, H / 16, W / 16)`` (input of the head's global pooling)."""
        return self.head.feature_map(self.backbone(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """BGR float ``0..255`` ``(N, 3, H, W)`` -> raw embeddings ``(N, D)``."""
        return self.head(self.backbone(images))


#: name -> architecture of every ported model.
OMZ_REID_CONFIGS: dict[str, OMZReidConfig] = {
    "omz_reid_0288": OMZReidConfig(
        "omz_reid_0288", stem_channels=16, stage_channels=(64, 96, 128), gate_hidden=(1, 1, 2), gate_groups=(16, 8, 16)
    ),
    "omz_reid_0287": OMZReidConfig(
        "omz_reid_0287",
        stem_channels=32,
        stage_channels=(128, 192, 256),
        gate_hidden=(2, 3, 4),
        gate_groups=(16, 16, 16),
    ),
}


def build_omz_reid_0288() -> OMZReidNet:
    """``person-reidentification-retail-0288`` (0.18 M parameters, D = 256), randomly initialised."""
    return OMZReidNet(OMZ_REID_CONFIGS["omz_reid_0288"])


def build_omz_reid_0287() -> OMZReidNet:
    """``person-reidentification-retail-0287`` (0.60 M parameters, D = 256), randomly initialised."""
    return OMZReidNet(OMZ_REID_CONFIGS["omz_reid_0287"])


#: name -> build function.
OMZ_REID_REGISTRY: dict[str, Callable[[], OMZReidNet]] = {
    "omz_reid_0288": build_omz_reid_0288,
    "omz_reid_0287": build_omz_reid_0287,
}


def build_omz_reid(name: str) -> OMZReidNet:
    """Build a registered architecture by name."""
    if name not in OMZ_REID_REGISTRY:
        raise ValueError(f"unknown OMZ re-id model {name!r}; expected one of {sorted(OMZ_REID_REGISTRY)}")
    return OMZ_REID_REGISTRY[name]()


def infer_omz_arch(state_dict: dict[str, torch.Tensor]) -> str:
    """The registered architecture whose stem width matches ``state_dict`` (``stem.conv.weight``)."""
    weight = state_dict.get("stem.conv.weight")
    if weight is None:
        raise ValueError("not an OMZ re-id state dict: no 'stem.conv.weight' key")
    for name, cfg in OMZ_REID_CONFIGS.items():
        if weight.shape[0] == cfg.stem_channels:
            return name
    raise ValueError(f"no registered OMZ re-id architecture has a {weight.shape[0]}-channel stem")


def load_omz_reid(path: str | os.PathLike[str], arch: str | None = None) -> OMZReidNet:
    """Load a converted bare state dict (``weights/omz_reid_*.pth``) strictly, in eval mode.

    Args:
        path: the file written by ``tools/convert_omz_reid.py``.
        arch: registry name; ``None`` infers it from the stem width.

    Raises:
        kprtrack.checkpoints.CheckpointKeyError: naming every missing, unexpected or mis-shaped key.
    """
    state = extract_state_dict(load_checkpoint(path), keys=())
    model = build_omz_reid(arch if arch is not None else infer_omz_arch(state))
    check_keys(model.state_dict(), state, str(path), f"OMZ re-id model {model.config.name}")
    model.load_state_dict(state, strict=True)
    return model.eval()
