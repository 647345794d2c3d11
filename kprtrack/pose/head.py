"""mmpose ``HeatmapHead``: optional deconv/conv layers and a final conv producing one heatmap per keypoint."""

from __future__ import annotations

import torch
from torch import nn

from kprtrack.pose.config import HeadConfig

#: deconv kernel size -> (padding, output_padding), as mmpose's HeatmapHead.
_DECONV_PADDING: dict[int, tuple[int, int]] = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


class HeatmapHead(nn.Module):
    """Keys: ``deconv_layers.*``, ``conv_layers.*`` (both absent for HRNet) and ``final_layer.*``."""

    def __init__(self, cfg: HeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.in_channels
        self.deconv_layers: nn.Module = nn.Identity()
        if cfg.deconv_out_channels:
            layers: list[nn.Module] = []
            for out, k in zip(cfg.deconv_out_channels, cfg.deconv_kernel_sizes):
                pad, out_pad = _DECONV_PADDING[k]
                layers += [
                    nn.ConvTranspose2d(c, out, k, stride=2, padding=pad, output_padding=out_pad, bias=False),
                    nn.BatchNorm2d(out),
                    nn.ReLU(inplace=True),
                ]
                c = out
            self.deconv_layers = nn.Sequential(*layers)
        self.conv_layers: nn.Module = nn.Identity()
        if cfg.conv_out_channels:
            layers = []
            for out, k in zip(cfg.conv_out_channels, cfg.conv_kernel_sizes):
                layers += [nn.Conv2d(c, out, k, 1, (k - 1) // 2), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                c = out
            self.conv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(c, cfg.out_channels, cfg.final_kernel_size, 1, cfg.final_padding)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Backbone outputs -> heatmaps ``(B, K, H, W)`` from the last feature (mmpose: ``feats[-1]``)."""
        x = self.deconv_layers(feats[-1])
        x = self.conv_layers(x)
        return self.final_layer(x)
