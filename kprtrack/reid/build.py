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

#: variant name -> (Swin size, parts, prompt grouping, description).
_SPECS: dict[str, tuple[str, str, str, str]] = {
    "kpr_swin_base_k8": ("base", "eight", "cck8", "released configuration: Swin-B, K = 8 ('eight'), prompts 'cck8'"),
    "kpr_swin_base_k5": ("base", "five_v", "cck6", "released configuration: Swin-B, K = 5 ('five_v'), prompts 'cck6'"),
    "kpr_swin_small_k8": ("small", "eight", "cck8", "Swin-S dimensions, K = 8, 'cck8'"),
    "kpr_swin_tiny_k8": ("tiny", "eight", "cck8", "Swin-T dimensions, K = 8, 'cck8'"),
    "kpr_swin_nano_k8": ("nano", "eight", "cck8", "the reference fixture's dimensions, K = 8, 'cck8'"),
    "kpr_swin_nano_k5": ("nano", "five_v", "cck6", "fixture dimensions with the K = 5 'five_v' / 'cck6' head"),
}


def _config_factory(name: str) -> Callable[..., KPRConfig]:
    size, parts, grouping, description = _SPECS[name]

    def config(**overrides: Any) -> KPRConfig:
        cfg = KPRConfig(swin=SWIN_SIZES[size], parts_names=PART_NAMES[parts], prompt_grouping=grouping)
        return cfg.replace(**overrides) if overrides else cfg

    config.__name__ = f"{name}_config"
    config.__doc__ = f"The ``{name}`` configuration ({description}); ``overrides`` replace fields."
    return config


#: variant name -> config factory.
KPR_CONFIGS: dict[str, Callable[..., KPRConfig]] = {name: _config_factory(name) for name in _SPECS}


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


#: variant name -> build function (segment-anything style registry).
KPR_REGISTRY: dict[str, Callable[..., KPR]] = {name: _builder(name) for name in _SPECS}
