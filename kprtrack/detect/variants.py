"""The official YOLOX variants (nano ... x): one build function each and a registry.

Every builder does what Megvii's ``Exp.get_model()`` does: BatchNorm eps 1e-3 / momentum 0.03 (set in
:mod:`kprtrack.detect.blocks`, not stored in checkpoints) and the class/objectness prior bias 0.01.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kprtrack.detect.model import YOLOX, YOLOXArch


@dataclass(frozen=True)
class VariantSpec:
    """Multipliers and default test size of an official variant (from ``exps/default/yolox_*.py``)."""

    depth: float
    width: float
    depthwise: bool
    test_size: tuple[int, int]


VARIANTS: dict[str, VariantSpec] = {
    "yolox_nano": VariantSpec(0.33, 0.25, True, (416, 416)),
    "yolox_tiny": VariantSpec(0.33, 0.375, False, (416, 416)),
    "yolox_s": VariantSpec(0.33, 0.50, False, (640, 640)),
    "yolox_m": VariantSpec(0.67, 0.75, False, (640, 640)),
    "yolox_l": VariantSpec(1.0, 1.0, False, (640, 640)),
    "yolox_x": VariantSpec(1.33, 1.25, False, (640, 640)),
}


def build_yolox_from_arch(arch: YOLOXArch) -> YOLOX:
    """Build a model for ``arch`` initialised as Megvii's ``get_model()`` (prior bias 0.01), in eval mode."""
    model = YOLOX(arch)
    model.head.initialize_biases(1e-2)
    return model.eval()


def _builder(name: str) -> Callable[..., YOLOX]:
    spec = VARIANTS[name]

    def build(num_classes: int = 80, act: str = "silu") -> YOLOX:
        arch = YOLOXArch(spec.depth, spec.width, spec.depthwise, num_classes, act)
        return build_yolox_from_arch(arch)

    build.__name__ = f"build_{name}"
    build.__doc__ = (
        f"Build {name} (depth {spec.depth}, width {spec.width}{', depthwise' if spec.depthwise else ''}).\n\n"
        "Args:\n    num_classes: classes of the head (80 for COCO, 1 for person-only detectors).\n"
        "    act: activation (``silu`` for official weights).\n"
    )
    return build


#: variant name -> build function (one per variant).
BUILDERS: dict[str, Callable[..., YOLOX]] = {name: _builder(name) for name in VARIANTS}
build_yolox_nano, build_yolox_tiny, build_yolox_s, build_yolox_m, build_yolox_l, build_yolox_x = BUILDERS.values()


def canonical_variant(name: str) -> str:
    """Accept ``tiny``, ``yolox-tiny``, ``YOLOX_Tiny`` ... and return the registry key ``yolox_tiny``."""
    key = name.strip().lower().replace("-", "_")
    if not key.startswith("yolox_"):
        key = "yolox_" + key
    if key not in BUILDERS:
        raise ValueError(f"unknown YOLOX variant {name!r}; expected one of {sorted(BUILDERS)}")
    return key


def build_yolox(name: str, num_classes: int = 80, act: str = "silu") -> YOLOX:
    """Build the variant ``name`` (``nano``, ``tiny``, ``s``, ``m``, ``l``, ``x``, with or without ``yolox_``)."""
    return BUILDERS[canonical_variant(name)](num_classes=num_classes, act=act)
