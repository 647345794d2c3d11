"""Architecture description of a KPR model: the one place where KPR defaults live.

A :class:`KPRConfig` holds everything needed to build a model and to feed it (input size,
normalisation, prompt grouping). The defaults are the released SOLIDER Swin-B configuration
(``configs/kpr/solider/kpr_occ_posetrack_test.yaml`` of the reference): 384x128 input, mean/std
0.5, K = 8 'eight' parts prompted with the 'cck8' grouping, MSF on, D = 512, semantic weight 0.2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kprtrack.reid.prompts import PROMPT_GROUPINGS

#: Part names of the released groupings (the order of the K part embeddings).
PART_NAMES: dict[str, tuple[str, ...]] = {
    "eight": (
        "head_mask", "left_arm_mask", "right_arm_mask", "torso_mask",
        "left_leg_mask", "right_leg_mask", "left_feet_mask", "right_feet_mask",
    ),
    "five_v": ("head_mask", "upper_arms_torso_mask", "lower_arms_torso_mask", "legs_mask", "feet_mask"),
}  # fmt: skip

#: Embedding names the model outputs (reference constants); ``bn_*`` are the BNNeck versions.
EMBEDDING_NAMES: tuple[str, ...] = (
    "globl", "foreg", "backg", "conct", "parts", "bn_globl", "bn_foreg", "bn_backg", "bn_conct", "bn_parts",
)  # fmt: skip


@dataclass(frozen=True)
class SwinConfig:
    """Dimensions of the SOLIDER Swin image encoder.

    Attributes:
        embed_dim: width of stage 0 (stage ``i`` has ``embed_dim * 2**i`` channels).
        depths: number of blocks per stage.
        num_heads: attention heads per stage.
        window_size: attention window side.
        patch_size: side of the non-overlapping patch embedding (also its stride).
        mlp_ratio: hidden width of the block MLP relative to the stage width.
        qkv_bias: learnable bias on the q, k, v projection.
        drop_path_rate: stochastic depth at the last block (linearly increasing), training only.
        semantic_weight: SOLIDER semantic weight ``sw``; stage outputs are modulated with
            ``[sw, 1 - sw]``. A negative value removes the modulation layers altogether.
    """

    embed_dim: int = 128
    depths: tuple[int, ...] = (2, 2, 18, 2)
    num_heads: tuple[int, ...] = (4, 8, 16, 32)
    window_size: int = 7
    patch_size: int = 4
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_path_rate: float = 0.1
    semantic_weight: float = 0.2

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))
        if len(self.depths) != len(self.num_heads) or len(self.depths) < 2:
            raise ValueError(
                f"SwinConfig: depths {self.depths} and num_heads {self.num_heads} must have the same length (>= 2)"
            )
        for i, heads in enumerate(self.num_heads):
            width = self.embed_dim * 2**i
            if heads <= 0 or width % heads:
                raise ValueError(f"SwinConfig: stage {i} width {width} is not divisible by num_heads {heads}")
        if self.window_size < 2 or self.patch_size < 1:
            raise ValueError(f"SwinConfig: bad window_size {self.window_size} or patch_size {self.patch_size}")

    @property
    def num_features(self) -> tuple[int, ...]:
        """Channels of each stage output."""
        return tuple(self.embed_dim * 2**i for i in range(len(self.depths)))

    @property
    def semantic(self) -> bool:
        """Whether the semantic modulation layers exist."""
        return self.semantic_weight >= 0


#: Standard Swin sizes (the SOLIDER release uses ``base``).
SWIN_SIZES: dict[str, SwinConfig] = {
    "tiny": SwinConfig(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    "small": SwinConfig(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    "base": SwinConfig(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    "nano": SwinConfig(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8)),
}


@dataclass(frozen=True)
class KPRConfig:
    """Everything needed to build and feed a KPR model.

    Attributes:
        swin: image encoder dimensions.
        parts_names: names of the K output parts (``len`` = K).
        prompt_grouping: COCO-keypoint grouping of the prompt channels (``cck8``, ``cck6``, ...).
        use_negative_keypoints: the prompt has a channel for the other people's keypoints.
        background_token: the prompt's background channel is fed to the model (reference
            ``not no_background_token``).
        masks_prompting: the model takes keypoint prompts at all.
        image_size: ``(H, W)`` of the model input.
        mean: per-channel RGB normalisation mean (in [0, 1] units).
        std: per-channel RGB normalisation std.
        dim_reduce_output: embedding size D (``Linear -> BN -> ReLU`` after pooling).
        enable_msf: fuse the 4 stages (multi-stage fusion); otherwise use the last stage only.
        pooling: part pooling: ``gwap`` (weighted average), ``gap`` or ``gmp`` of the masked features.
        num_classes: identities of the training set (identity-classifier width).
        num_cameras: cameras of the side-information embedding (0 = SIE off).
        sie_coe: scale of the camera embedding.
        training_binary_visibility: binary (argmax) visibility in training mode.
        testing_binary_visibility: binary (argmax) visibility in eval mode.
        test_embeddings: embeddings concatenated into the test descriptor, in order.
        vis_thresh: keypoints with confidence <= this are not drawn in the prompt.
        gaussian_scale: prompt gaussian radius is ``int(W / gaussian_scale)``.
    """

    swin: SwinConfig = field(default_factory=SwinConfig)
    parts_names: tuple[str, ...] = PART_NAMES["eight"]
    prompt_grouping: str = "cck8"
    use_negative_keypoints: bool = True
    background_token: bool = True
    masks_prompting: bool = True
    image_size: tuple[int, int] = (384, 128)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    dim_reduce_output: int = 512
    enable_msf: bool = True
    pooling: str = "gwap"
    num_classes: int = 1000
    num_cameras: int = 0
    sie_coe: float = 3.0
    training_binary_visibility: bool = True
    testing_binary_visibility: bool = True
    test_embeddings: tuple[str, ...] = ("bn_foreg", "parts")
    vis_thresh: float = 0.3
    gaussian_scale: int = 11

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts_names", tuple(self.parts_names))
        object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        object.__setattr__(self, "test_embeddings", tuple(self.test_embeddings))
        if isinstance(self.swin, dict):
            object.__setattr__(self, "swin", SwinConfig(**self.swin))
        if not self.parts_names:
            raise ValueError("KPRConfig.parts_names: at least one part is required")
        if self.prompt_grouping not in PROMPT_GROUPINGS:
            raise ValueError(
                f"KPRConfig.prompt_grouping: unknown grouping {self.prompt_grouping!r}; "
                f"expected one of {sorted(PROMPT_GROUPINGS)}"
            )
        if self.pooling not in ("gwap", "gap", "gmp"):
            raise ValueError(f"KPRConfig.pooling: expected 'gwap', 'gap' or 'gmp', got {self.pooling!r}")
        h, w = self.image_size
        p = self.swin.patch_size
        if h < p or w < p:
            raise ValueError(f"KPRConfig.image_size: {self.image_size} is smaller than the patch size {p}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"KPRConfig.mean/std: expected 3 values each (std > 0), got {self.mean} / {self.std}")
        bad = [e for e in self.test_embeddings if e not in EMBEDDING_NAMES]
        if bad or not self.test_embeddings:
            raise ValueError(f"KPRConfig.test_embeddings: unknown names {bad}; expected a subset of {EMBEDDING_NAMES}")
        if self.num_classes < 1 or self.dim_reduce_output < 1:
            raise ValueError("KPRConfig.num_classes and dim_reduce_output must be positive")

    @property
    def num_parts(self) -> int:
        """K, the number of part embeddings."""
        return len(self.parts_names)

    @property
    def prompt_channels(self) -> int:
        """Channels of the prompt tensor built by :func:`kprtrack.reid.prompts.build_prompt_masks`."""
        return len(PROMPT_GROUPINGS[self.prompt_grouping]) + 1 + int(self.use_negative_keypoints)

    @property
    def test_parts_count(self) -> int:
        """P, the number of entries of the test descriptor."""
        k = self.num_parts
        return sum(k if name.endswith("parts") else 1 for name in self.test_embeddings)

    def replace(self, **changes: Any) -> KPRConfig:
        """A copy with some fields changed (``swin`` may be a dict of SwinConfig changes)."""
        if isinstance(changes.get("swin"), dict):
            changes["swin"] = replace(self.swin, **changes["swin"])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python description (JSON-friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KPRConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"KPRConfig: unknown fields {unknown}")
        data = dict(data)
        if isinstance(data.get("swin"), dict):
            swin_known = set(SwinConfig.__dataclass_fields__)
            bad = sorted(set(data["swin"]) - swin_known)
            if bad:
                raise ValueError(f"SwinConfig: unknown fields {bad}")
            data["swin"] = SwinConfig(**data["swin"])
        return cls(**data)
