"""Configuration of a top-down heatmap pose model: architecture, codec and test pipeline.

Every default lives in these dataclasses; they equal mmpose's bundled
``td-hm_hrnet-w32_8xb64-210e_coco-256x192`` setting (see ``docs/pose.md``). The configs are built
by :mod:`kprtrack.pose.variants` (named variants), :mod:`kprtrack.pose.mmconfig` (mmpose
``config.py`` files, ``architecture.json``) or :mod:`kprtrack.pose.infer` (state-dict shapes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kprtrack.keypoints import FLIP_INDEX, FLIP_INDICES, check_convention

BLOCK_TYPES: tuple[str, ...] = ("BASIC", "BOTTLENECK")
#: Output channels of a block per channel of ``num_channels``.
BLOCK_EXPANSION: dict[str, int] = {"BASIC": 1, "BOTTLENECK": 4}
CODEC_TYPES: tuple[str, ...] = ("MSRAHeatmap", "UDPHeatmap")
FLIP_MODES: tuple[str, ...] = ("heatmap",)


@dataclass(frozen=True)
class StageConfig:
    """One HRNet stage (``extra.stageN`` of an mmpose config).

    Attributes:
        num_modules: number of HRModules in the stage.
        num_branches: number of parallel resolutions.
        block: ``"BASIC"`` or ``"BOTTLENECK"``.
        num_blocks: residual blocks per branch.
        num_channels: channels per branch before the block expansion.
    """

    num_modules: int
    num_branches: int
    block: str
    num_blocks: tuple[int, ...]
    num_channels: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.block not in BLOCK_TYPES:
            raise ValueError(f"stage block must be one of {BLOCK_TYPES}, got {self.block!r}")
        if self.num_modules < 1:
            raise ValueError(f"stage num_modules must be >= 1, got {self.num_modules}")
        if len(self.num_blocks) != self.num_branches or len(self.num_channels) != self.num_branches:
            raise ValueError(
                f"stage num_blocks {self.num_blocks} and num_channels {self.num_channels} must both have "
                f"num_branches={self.num_branches} entries"
            )

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of each branch's output (after the block expansion)."""
        return tuple(c * BLOCK_EXPANSION[self.block] for c in self.num_channels)


def hrnet_stages(width: int) -> tuple[StageConfig, StageConfig, StageConfig, StageConfig]:
    """The four stages of the standard HRNet-W``width`` (W32: branches 32/64/128/256)."""
    if width < 1:
        raise ValueError(f"HRNet width must be >= 1, got {width}")
    w = width
    return (
        StageConfig(1, 1, "BOTTLENECK", (4,), (64,)),
        StageConfig(1, 2, "BASIC", (4, 4), (w, 2 * w)),
        StageConfig(4, 3, "BASIC", (4, 4, 4), (w, 2 * w, 4 * w)),
        StageConfig(3, 4, "BASIC", (4, 4, 4, 4), (w, 2 * w, 4 * w, 8 * w)),
    )


@dataclass(frozen=True)
class HRNetConfig:
    """The HRNet backbone.

    Attributes:
        stages: stage1..stage4.
        in_channels: image channels.
        upsample_mode: interpolation of the fuse layers' upsampling (mmpose: nearest).
        multiscale_output: whether the last stage outputs all branches (mmpose default: only the first).
        bn_eps: BatchNorm epsilon.
    """

    stages: tuple[StageConfig, ...] = field(default_factory=lambda: hrnet_stages(32))
    in_channels: int = 3
    upsample_mode: str = "nearest"
    multiscale_output: bool = False
    bn_eps: float = 1e-5

    def __post_init__(self) -> None:
        if len(self.stages) != 4:
            raise ValueError(f"HRNet needs 4 stages, got {len(self.stages)}")
        if self.stages[0].num_branches != 1:
            raise ValueError("HRNet stage1 must have exactly one branch")
        for prev, cur in zip(self.stages[:-1], self.stages[1:]):
            if cur.num_branches < prev.num_branches:
                raise ValueError("HRNet stages cannot lose branches")

    @property
    def out_channels(self) -> int:
        """Channels of the highest-resolution output branch."""
        return self.stages[-1].out_channels[0]


@dataclass(frozen=True)
class HeadConfig:
    """mmpose ``HeatmapHead``.

    Attributes:
        in_channels: channels of the backbone feature the head reads (its last output).
        out_channels: number of heatmaps (keypoints).
        deconv_out_channels: stride-2 transposed convolutions (SimpleBaseline); empty for HRNet.
        deconv_kernel_sizes: their kernel sizes (4, 3 or 2).
        conv_out_channels: intermediate convolutions; empty for HRNet.
        conv_kernel_sizes: their kernel sizes.
        final_kernel_size: kernel of the final convolution.
        final_padding: its padding (mmpose builds it with ``Conv2d``'s default 0 unless configured).
    """

    in_channels: int = 32
    out_channels: int = 17
    deconv_out_channels: tuple[int, ...] = ()
    deconv_kernel_sizes: tuple[int, ...] = ()
    conv_out_channels: tuple[int, ...] = ()
    conv_kernel_sizes: tuple[int, ...] = ()
    final_kernel_size: int = 1
    final_padding: int = 0

    def __post_init__(self) -> None:
        if len(self.deconv_out_channels) != len(self.deconv_kernel_sizes):
            raise ValueError("head deconv_out_channels and deconv_kernel_sizes must have the same length")
        if len(self.conv_out_channels) != len(self.conv_kernel_sizes):
            raise ValueError("head conv_out_channels and conv_kernel_sizes must have the same length")
        for k in self.deconv_kernel_sizes:
            if k not in (2, 3, 4):
                raise ValueError(f"head deconv kernel size must be 2, 3 or 4, got {k}")


@dataclass(frozen=True)
class CodecConfig:
    """Heatmap codec (mmpose ``MSRAHeatmap`` / ``UDPHeatmap``).

    Attributes:
        type: ``"MSRAHeatmap"`` (``unbiased=True`` is DARK) or ``"UDPHeatmap"`` (gaussian type).
        input_size: network input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        sigma: Gaussian sigma of the training targets, in heatmap pixels.
        unbiased: MSRA only: DARK encoding/decoding.
        blur_kernel_size: DARK/UDP heatmap modulation kernel.
    """

    type: str = "MSRAHeatmap"
    input_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] = (48, 64)
    sigma: float = 2.0
    unbiased: bool = False
    blur_kernel_size: int = 11

    def __post_init__(self) -> None:
        if self.type not in CODEC_TYPES:
            raise ValueError(f"codec type must be one of {CODEC_TYPES}, got {self.type!r}")
        if self.blur_kernel_size % 2 != 1:
            raise ValueError(f"codec blur_kernel_size must be odd, got {self.blur_kernel_size}")

    @property
    def variant(self) -> str:
        """``"msra"``, ``"dark"`` or ``"udp"``."""
        if self.type == "UDPHeatmap":
            return "udp"
        return "dark" if self.unbiased else "msra"


@dataclass(frozen=True)
class TopdownConfig:
    """The test pipeline around the network (mmpose test pipeline, data preprocessor and ``test_cfg``).

    Attributes:
        input_size: crop size ``(w, h)`` of ``TopdownAffine``.
        bbox_padding: ``GetBBoxCenterScale`` padding.
        use_udp: ``TopdownAffine(use_udp=True)``: the UDP warp matrix.
        mean: per-channel mean in the order the network sees (RGB when ``network_rgb``).
        std: per-channel std, same order.
        network_rgb: the network expects RGB input (mmpose ``bgr_to_rgb=True`` on cv2's BGR images).
        flip_test: average with the horizontally flipped crop.
        flip_mode: only ``"heatmap"``.
        shift_heatmap: shift the un-flipped heatmaps right by one column.
        flip_indices: left/right keypoint permutation.
    """

    input_size: tuple[int, int] = (192, 256)
    bbox_padding: float = 1.25
    use_udp: bool = False
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    network_rgb: bool = True
    flip_test: bool = True
    flip_mode: str = "heatmap"
    shift_heatmap: bool = True
    flip_indices: tuple[int, ...] = FLIP_INDEX

    def __post_init__(self) -> None:
        if self.flip_mode not in FLIP_MODES:
            raise ValueError(f"flip_mode {self.flip_mode!r} is not supported (only {FLIP_MODES})")
        if sorted(self.flip_indices) != list(range(len(self.flip_indices))):
            raise ValueError(f"flip_indices must be a permutation, got {self.flip_indices}")
        if self.bbox_padding <= 0:
            raise ValueError(f"bbox_padding must be > 0, got {self.bbox_padding}")


@dataclass(frozen=True)
class PoseModelConfig:
    """Everything needed to run a top-down heatmap model.

    Attributes:
        name: variant name (informative).
        backbone: HRNet architecture.
        head: heatmap head.
        codec: heatmap codec.
        pipeline: test pipeline.
        keypoint_format: keypoint convention of the heatmaps (``coco17`` or ``posetrack21``).
    """

    name: str = "hrnet_w32_256x192"
    backbone: HRNetConfig = field(default_factory=HRNetConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    pipeline: TopdownConfig = field(default_factory=TopdownConfig)
    keypoint_format: str = "coco17"

    def __post_init__(self) -> None:
        check_convention(self.keypoint_format)
        if self.head.in_channels != self.backbone.out_channels:
            raise ValueError(
                f"head.in_channels={self.head.in_channels} does not match the backbone's output channels "
                f"{self.backbone.out_channels}"
            )
        if len(self.pipeline.flip_indices) != self.head.out_channels:
            raise ValueError(f"{len(self.pipeline.flip_indices)} flip_indices for {self.head.out_channels} heatmaps")

    def with_keypoint_format(self, keypoint_format: str) -> PoseModelConfig:
        """A copy declaring another keypoint convention.

        Flip indices that are the old convention's default become the new convention's default
        (flip indices stored in a checkpoint's meta are applied afterwards by the loader).
        """
        check_convention(keypoint_format)
        out = replace(self, keypoint_format=keypoint_format)
        if self.pipeline.flip_indices == FLIP_INDICES.get(self.keypoint_format):
            out = replace(out, pipeline=replace(self.pipeline, flip_indices=FLIP_INDICES[keypoint_format]))
        return out
