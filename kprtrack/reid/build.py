"""Named KPR variants: one build function per variant and a registry.

``kpr_swin_base_k8`` and ``kpr_swin_base_k5`` are the released configurations (SOLIDER Swin-B,
384x128, K = 8 'eight' parts with 'cck8' prompts, or K = 5 'five_v' parts with 'cck6' prompts).
The smaller ones share the same code path with other Swin dimensions; ``kpr_swin_nano_k8`` has
the dimensions of the reference parity fixture and is small enough to train on a CPU.

Every builder accepts keyword overrides of :class:`~kprtrack.reid.config.KPRConfig` fields
(``num_classes=751``, ``image_size=(256, 128)``, ``swin={"semantic_weight": -1}``, ...). Build
on the meta device to inspect a large model without allocating it::

    with torch.device("meta"):
        model = build_kpr("kpr_swin_base_k8", num_classes=751)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kprtrack.reid.config import PART_NAMES, SWIN_SIZES, KPRConfig
from kprtrack.reid.model import KPR, build_kpr_model


def _config(size: str, parts: str, grouping: str, overrides: dict[str, Any], **base: Any) -> KPRConfig:
    cfg = KPRConfig(swin=SWIN_SIZES[size], parts_names=PART_NAMES[parts], prompt_grouping=grouping, **base)
    return cfg.replace(**overrides) if overrides else cfg


def kpr_swin_base_k8_config(**overrides: Any) -> KPRConfig:
    """Released configuration: Swin-B, K = 8 ('eight'), prompts 'cck8' (10 channels)."""
    return _config("base", "eight", "cck8", overrides)


def kpr_swin_base_k5_config(**overrides: Any) -> KPRConfig:
    """Released configuration: Swin-B, K = 5 ('five_v'), prompts 'cck6' (8 channels)."""
    return _config("base", "five_v", "cck6", overrides)


def kpr_swin_small_k8_config(**overrides: Any) -> KPRConfig:
    """Swin-S dimensions, K = 8, 'cck8'."""
    return _config("small", "eight", "cck8", overrides)


def kpr_swin_tiny_k8_config(**overrides: Any) -> KPRConfig:
    """Swin-T dimensions, K = 8, 'cck8'."""
    return _config("tiny", "eight", "cck8", overrides)


def kpr_swin_nano_k8_config(**overrides: Any) -> KPRConfig:
    """The reference fixture's dimensions (embed 32, depths 2-2-2-2, heads 1-2-4-8), K = 8, 'cck8'."""
    return _config("nano", "eight", "cck8", overrides)


def kpr_swin_nano_k5_config(**overrides: Any) -> KPRConfig:
    """Fixture dimensions with the K = 5 'five_v' / 'cck6' head."""
    return _config("nano", "five_v", "cck6", overrides)


#: variant name -> config factory.
KPR_CONFIGS: dict[str, Callable[..., KPRConfig]] = {
    "kpr_swin_base_k8": kpr_swin_base_k8_config,
    "kpr_swin_base_k5": kpr_swin_base_k5_config,
    "kpr_swin_small_k8": kpr_swin_small_k8_config,
    "kpr_swin_tiny_k8": kpr_swin_tiny_k8_config,
    "kpr_swin_nano_k8": kpr_swin_nano_k8_config,
    "kpr_swin_nano_k5": kpr_swin_nano_k5_config,
}


def kpr_config(name: str, **overrides: Any) -> KPRConfig:
    """The :class:`KPRConfig` of a registered variant, with overrides."""
    if name not in KPR_CONFIGS:
        raise ValueError(f"unknown KPR variant {name!r}; expected one of {sorted(KPR_CONFIGS)}")
    return KPR_CONFIGS[name](**overrides)


def build_kpr(name_or_config: str | KPRConfig, **overrides: Any) -> KPR:
    """Build a randomly initialised model from a variant name (with overrides) or a config."""
    if isinstance(name_or_config, KPRConfig):
        cfg = name_or_config.replace(**overrides) if overrides else name_or_config
    else:
        cfg = kpr_config(name_or_config, **overrides)
    return build_kpr_model(cfg)


def _builder(name: str) -> Callable[..., KPR]:
    def build(**overrides: Any) -> KPR:
        return build_kpr(name, **overrides)

    build.__name__ = name
    build.__doc__ = f"Build the ``{name}`` variant ({KPR_CONFIGS[name].__doc__})"
    return build


kpr_swin_base_k8 = _builder("kpr_swin_base_k8")
kpr_swin_base_k5 = _builder("kpr_swin_base_k5")
kpr_swin_small_k8 = _builder("kpr_swin_small_k8")
kpr_swin_tiny_k8 = _builder("kpr_swin_tiny_k8")
kpr_swin_nano_k8 = _builder("kpr_swin_nano_k8")
kpr_swin_nano_k5 = _builder("kpr_swin_nano_k5")

#: variant name -> build function (segment-anything style registry).
KPR_REGISTRY: dict[str, Callable[..., KPR]] = {
    "kpr_swin_base_k8": kpr_swin_base_k8,
    "kpr_swin_base_k5": kpr_swin_base_k5,
    "kpr_swin_small_k8": kpr_swin_small_k8,
    "kpr_swin_tiny_k8": kpr_swin_tiny_k8,
    "kpr_swin_nano_k8": kpr_swin_nano_k8,
    "kpr_swin_nano_k5": kpr_swin_nano_k5,
}
