"""The promptable SOLIDER Swin transformer used as KPR image encoder.

Matches the reference (mmcv-style Swin of SOLIDER, ``models/solider/backbones/swin_transformer.py``)
number for number, including its particularities:

* after ``norm1`` the token map is zero-padded bottom/right to a multiple of the window and the
  padded tokens are *not* masked in plain windows; the window is never shrunk to the map;
* shifted blocks roll by ``window // 2`` and use the ``-100`` region mask built on the padded map;
* patch merging gathers 2x2 neighbourhoods in ``nn.Unfold`` order: the ``4C`` vector is
  channel-major, index ``c * 4 + dy * 2 + dx``;
* the output of stage ``s`` is ``norm{s}`` of its tokens *before* downsampling;
* SOLIDER semantic modulation: the downsampled tokens entering stage ``s + 1`` become
  ``x * softplus(W_s [sw, 1 - sw]) + B_s [sw, 1 - sw]``.

Module and parameter names follow the reference so that released weights map one to one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from kprtrack.reid.config import SwinConfig


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` convolution (+ LayerNorm) producing tokens.

    Inputs whose size is not a multiple of the patch are zero-padded bottom/right first.
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int, norm: bool = True) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.projection = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if norm else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Args: x ``(B, C_in, H, W)``. Returns tokens ``(B, h * w, D)`` and ``(h, w)``."""
        p = self.patch_size
        pad_h, pad_w = (-x.shape[2]) % p, (-x.shape[3]) % p
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.projection(x)
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw


class WindowMSA(nn.Module):
    """Multi-head self-attention inside windows, with a learned relative position bias."""

    def __init__(self, dim: int, num_heads: int, window_size: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", self._relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    @staticmethod
    def _relative_position_index(ws: int) -> torch.Tensor:
        """``(ws*ws, ws*ws)`` index into the bias table (the reference's double-step construction)."""
        seq1 = torch.arange(0, (2 * ws - 1) * ws, 2 * ws - 1)
        seq2 = torch.arange(0, ws)
        coords = (seq1[:, None] + seq2[None, :]).reshape(1, -1)
        return (coords + coords.T).flip(1).contiguous()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Args:
            x: ``(B * nW, N, C)`` window tokens, ``N = ws * ws``.
            mask: ``(nW, N, N)`` additive mask (0 or -100) or ``None``.

        Returns:
            ``(B * nW, N, C)``.
        """
        bw, n, c = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).reshape(bw, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B*nW, heads, N, d)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, heads).permute(2, 0, 1)  # (heads, N, N)
        if mask is None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.unsqueeze(0).to(q.dtype))
        else:
            nw = mask.shape[0]
            attn_mask = (bias.unsqueeze(0) + mask.unsqueeze(1)).reshape(1, nw * heads, n, n).to(q.dtype)
            shape = (bw // nw, nw * heads, n, c // heads)
            out = F.scaled_dot_product_attention(q.reshape(shape), k.reshape(shape), v.reshape(shape), attn_mask)
            out = out.reshape(bw, heads, n, c // heads)
        out = out.transpose(1, 2).reshape(bw, n, c)
        return self.proj(out)


class ShiftWindowMSA(nn.Module):
    """(Shifted-)window attention on a token map, with the reference's unmasked zero padding."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift: bool, qkv_bias: bool = True) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.w_msa = WindowMSA(dim, num_heads, window_size, qkv_bias)
        self._masks: dict[tuple[int, int, str], torch.Tensor] = {}

    def _shift_mask(self, hp: int, wp: int, device: torch.device) -> torch.Tensor:
        """``(nW, N, N)`` mask separating the regions a cyclic shift brings together (cached)."""
        key = (hp, wp, str(device))
        if key not in self._masks:
            ws, s = self.window_size, self.shift_size
            img = torch.zeros((hp, wp), device=device)
            cnt = 0
            for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                    img[hs, wsl] = cnt
                    cnt += 1
            win = img.view(hp // ws, ws, wp // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
            diff = win.unsqueeze(1) - win.unsqueeze(2)
            self._masks[key] = torch.zeros_like(diff).masked_fill(diff != 0, -100.0)
        return self._masks[key]

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Args: x ``(B, H * W, C)`` (already normalised), hw ``(H, W)``. Returns ``(B, H * W, C)``."""
        b, length, c = x.shape
        h, w = hw
        ws = self.window_size
        x = x.view(b, h, w, c)
        pad_b, pad_r = (-h) % ws, (-w) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = h + pad_b, w + pad_r
        mask = None
        if self.shift_size:
            x = torch.roll(x, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
            mask = self._shift_mask(hp, wp, x.device)
        windows = x.view(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        windows = self.w_msa(windows, mask)
        x = windows.view(b, hp // ws, wp // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        if self.shift_size:
            x = torch.roll(x, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        if pad_b or pad_r:
            x = x[:, :h, :w, :]
        return x.reshape(b, length, c)


class DropPath(nn.Module):
    """Stochastic depth: drops the residual branch of whole samples in training mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1 - self.p
        noise = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return x.div(keep) * (keep + noise).floor()


class FFN(nn.Module):
    """Block MLP ``Linear -> GELU -> Linear`` (reference names ``layers.0.0`` and ``layers.1``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(dim, hidden), nn.GELU()), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SwinBlock(nn.Module):
    """Pre-norm transformer block with (shifted-)window attention."""

    def __init__(
        self, dim: int, num_heads: int, hidden: int, window_size: int, shift: bool, qkv_bias: bool, drop_path: float
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftWindowMSA(dim, num_heads, window_size, shift, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, hidden)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.ffn(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 patch merging in ``nn.Unfold`` channel order, then LayerNorm and a bias-free Linear."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * in_channels)
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        """Args: x ``(B, H * W, C)``. Returns ``(B, H/2 * W/2, C_out)`` and the new ``(h, w)``."""
        b, _, c = x.shape
        h, w = hw
        x = x.view(b, h, w, c)
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
            h, w = h + h % 2, w + w % 2
        # (B, h/2, dy, w/2, dx, C) -> (B, h/2, w/2, C, dy, dx): index c * 4 + dy * 2 + dx
        x = x.view(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 5, 2, 4).reshape(b, (h // 2) * (w // 2), 4 * c)
        return self.reduction(self.norm(x)), (h // 2, w // 2)


class SwinStage(nn.Module):
    """The blocks of one stage and the patch merging that follows it (none after the last)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop_paths: list[float],
        downsample: bool,
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.blocks = nn.ModuleList(
            SwinBlock(dim, num_heads, hidden, window_size, i % 2 == 1, qkv_bias, drop_paths[i]) for i in range(depth)
        )
        self.downsample = PatchMerging(dim, 2 * dim) if downsample else None

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, hw)
        return x


class SwinEncoder(nn.Module):
    """SOLIDER Swin transformer returning the normalised feature map of every stage.

    Args:
        config: dimensions.
        in_channels: image channels.
        num_cameras: side-information embedding size (0 = none).
        sie_coe: camera embedding scale.
    """

    def __init__(self, config: SwinConfig, in_channels: int = 3, num_cameras: int = 0, sie_coe: float = 3.0) -> None:
        super().__init__()
        self.config = config
        self.semantic_weight = config.semantic_weight
        self.sie_coe = sie_coe
        if num_cameras > 0:
            self.sie_embed = nn.Parameter(torch.zeros(num_cameras, 1, config.embed_dim))
        else:
            self.sie_embed = None
        self.patch_embed = PatchEmbed(in_channels, config.embed_dim, config.patch_size)
        depths = config.depths
        total = sum(depths)
        rates = [config.drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # linear, as torch.linspace
        widths = config.num_features
        self.stages = nn.ModuleList()
        for i, depth in enumerate(depths):
            start = sum(depths[:i])
            self.stages.append(
                SwinStage(
                    widths[i],
                    depth,
                    config.num_heads[i],
                    config.window_size,
                    config.mlp_ratio,
                    config.qkv_bias,
                    rates[start : start + depth],
                    downsample=i < len(depths) - 1,
                )
            )
        for i, width in enumerate(widths):
            self.add_module(f"norm{i}", nn.LayerNorm(width))
        if config.semantic:
            n = len(depths)
            # stage i modulates the input of stage i + 1; the last one exists (width of the last
            # stage) but has no effect on any output.
            out_widths = [widths[min(i, n - 2) + 1] for i in range(n)]
            self.semantic_embed_w = nn.ModuleList(nn.Linear(2, w) for w in out_widths)
            self.semantic_embed_b = nn.ModuleList(nn.Linear(2, w) for w in out_widths)
            for p in [*self.semantic_embed_w.parameters(), *self.semantic_embed_b.parameters()]:
                p.requires_grad_(False)  # frozen in the reference
        else:
            self.semantic_embed_w = None
            self.semantic_embed_b = None
        self.reset_parameters()

    @property
    def num_features(self) -> tuple[int, ...]:
        """Channels of each stage output."""
        return self.config.num_features

    def reset_parameters(self) -> None:
        """Reference initialisation: truncated normal (std 0.02) Linears and bias tables, unit LayerNorms."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, WindowMSA):
                nn.init.trunc_normal_(m.relative_position_bias_table, std=0.02)
        if self.sie_embed is not None:
            nn.init.trunc_normal_(self.sie_embed, std=0.02)

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Patch tokens ``(B, L, D)`` of ``(B, 3, H, W)`` images and their map size."""
        return self.patch_embed(images)

    def add_camera(self, tokens: torch.Tensor, cam_labels: torch.Tensor | None) -> torch.Tensor:
        """Add ``sie_coe * sie_embed[cam]`` (side information embedding) when cameras are given."""
        if cam_labels is None or self.sie_embed is None:
            return tokens
        return tokens + self.sie_coe * self.sie_embed[cam_labels.long()]

    def _semantic_input(self, batch: int, weight: float | None, device: torch.device) -> torch.Tensor:
        sw = self.semantic_weight if weight is None else weight
        w = torch.ones(batch, 1, device=device) * sw
        return torch.cat([w, 1 - w], dim=-1)

    def forward(
        self, tokens: torch.Tensor, hw: tuple[int, int], semantic_weight: float | None = None
    ) -> list[torch.Tensor]:
        """Run the stages.

        Args:
            tokens: ``(B, L, D)`` patch tokens (prompt tokens already added).
            hw: token map size.
            semantic_weight: override of the SOLIDER semantic weight (default: the config's).

        Returns:
            One ``(B, C_s, h_s, w_s)`` feature map per stage (``norm{s}`` applied).
        """
        b = tokens.shape[0]
        sem = None
        if self.semantic_embed_w is not None:
            sem = self._semantic_input(b, semantic_weight, tokens.device)
        outs = []
        last = len(self.stages) - 1
        for i, stage in enumerate(self.stages):
            x = stage(tokens, hw)
            out = getattr(self, f"norm{i}")(x)
            outs.append(out.view(b, hw[0], hw[1], -1).permute(0, 3, 1, 2))
            if i == last:
                break  # the last modulation only affects tokens nobody uses
            tokens, hw = stage.downsample(x, hw)
            if sem is not None:
                scale = F.softplus(self.semantic_embed_w[i](sem)).unsqueeze(1)
                shift = self.semantic_embed_b[i](sem).unsqueeze(1)
                tokens = tokens * scale + shift
        return outs
