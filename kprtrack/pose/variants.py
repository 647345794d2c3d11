"""Named HRNet top-down variants and their registry.

Each build function returns the :class:`PoseModelConfig` of one variant, equal to the matching mmpose
config (``td-hm_hrnet-w{32,48}[_dark|_udp]-..._coco-{256x192,384x288}``); small widths (W8, W16,
W18) keep the W32 topology with narrower branches. ``codec`` selects the decoder: ``"msra"`` (plain,
the default), ``"dark"`` (MSRA ``unbiased=True``) or ``"udp"`` (UDPHeatmap + UDP warp, no heatmap
shift in the flip test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kprtrack.pose.config import (
    CodecConfig,
    HeadConfig,
    HRNetConfig,
    PoseModelConfig,
    TopdownConfig,
    hrnet_stages,
)
from kprtrack.pose.model import TopdownHeatmapNet

CODEC_VARIANTS: tuple[str, ...] = ("msra", "dark", "udp")

def hrnet_config(
    width: int,
    input_size: tuple[int, int] = (192, 256),
    codec: str = "msra",
    keypoint_format: str = "coco17",
    num_keypoints: int = 17,
    name: str | None = None,
) -> PoseModelConfig:
    """HRNet-W``width`` + HeatmapHead with mmpose's COCO top-down settings.

    Args:
        width: channels of the highest-resolution branch (32 for W32).
        input_size: crop ``(w, h)``; heatmaps are a quarter of it.
        codec: ``"msra"``, ``"dark"`` or ``"udp"``.
        keypoint_format: declared keypoint convention.
        num_keypoints: heatmap channels (17 for the supported conventions).
        name: label (default ``hrnet_w{width}_{h}x{w}``).
    """
    if codec not in CODEC_VARIANTS:
        raise ValueError(f"codec must be one of {CODEC_VARIANTS}, got {codec!r}")
    w, h = input_size
    if w % 4 or h % 4:
        raise ValueError(f"input_size {input_size} must be divisible by 4")
    udp = codec == "udp"
    codec_cfg = CodecConfig(
        type="UDPHeatmap" if udp else "MSRAHeatmap",
        input_size=(w, h),
        heatmap_size=(w // 4, h // 4),
        unbiased=codec == "dark",
    )
    pipeline = replace(TopdownConfig(), input_size=(w, h), use_udp=udp, shift_heatmap=not udp)
    if num_keypoints != len(pipeline.flip_indices):
        pipeline = replace(pipeline, flip_indices=tuple(range(num_keypoints)))
    suffix = "" if codec == "msra" else f"_{codec}"
    return PoseModelConfig(
        name=name or f"hrnet_w{width}{suffix}_{h}x{w}",
        backbone=HRNetConfig(stages=hrnet_stages(width)),
        head=HeadConfig(in_channels=width, out_channels=num_keypoints),
        codec=codec_cfg,
        pipeline=pipeline,
        keypoint_format=keypoint_format,
    )


#: variant name -> (width, crop ``(w, h)``, description).
_SPECS: dict[str, tuple[int, tuple[int, int], str]] = {
    "hrnet_w32_256x192": (32, (192, 256), "mmpose td-hm_hrnet-w32_8xb64-210e_coco-256x192, tracklab's model"),
    "hrnet_w32_384x288": (32, (288, 384), "larger crops"),
    "hrnet_w48_256x192": (48, (192, 256), "the wide variant"),
    "hrnet_w48_384x288": (48, (288, 384), "the wide variant, larger crops"),
    "hrnet_w18_256x192": (18, (192, 256), "small"),
    "hrnet_w16_256x192": (16, (192, 256), "small"),
    "hrnet_w8_256x192": (8, (192, 256), "the fixture's width"),
    "hrnet_w8_128x96": (8, (96, 128), "the smallest variant, for the project's own model and tests"),
}


def _builder(name: str) -> Callable[..., PoseModelConfig]:
    width, size, description = _SPECS[name]

    def build(codec: str = "msra", keypoint_format: str = "coco17") -> PoseModelConfig:
        return hrnet_config(width, size, codec, keypoint_format)

    build.__name__ = name
    build.__doc__ = f"HRNet-W{width}, {size[0]}x{size[1]} crops ({description})."
    return build


#: variant name -> build function returning its config (one per variant).
VARIANTS: dict[str, Callable[..., PoseModelConfig]] = {name: _builder(name) for name in _SPECS}


def get_variant(name: str, **kwargs: str) -> PoseModelConfig:
    """The config of registered variant ``name`` (``kwargs``: ``codec``, ``keypoint_format``)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown pose variant {name!r}; registered: {sorted(VARIANTS)}")
    return VARIANTS[name](**kwargs)


def build_pose_model(config: str | PoseModelConfig, **kwargs: str) -> TopdownHeatmapNet:
    """A randomly initialised network for a variant name or config (in eval mode)."""
    cfg = get_variant(config, **kwargs) if isinstance(config, str) else config
    return TopdownHeatmapNet(cfg).eval()
