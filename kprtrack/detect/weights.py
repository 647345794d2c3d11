"""Reading and writing YOLOX checkpoints: Megvii release files and mmdet checkpoints.

* **Megvii** (``yolox_x.pth``, ByteTrack's ``bytetrack_x_mot17.pth.tar``...):
  ``{'model': state_dict, 'optimizer': ..., 'start_epoch': ...}``; only ``model`` is read, the optimizer
  state is ignored. Key names equal :class:`kprtrack.detect.model.YOLOX`'s.
* **mmdet** (``yolox_x_8x8_300e_coco_*.pth``): ``{'meta': ..., 'state_dict': ...}`` with mmdet's module
  names; :data:`MMDET_PREFIX_MAP` and :data:`MMDET_SEGMENT_MAP` rename them explicitly. mmdet 2.x EMA
  buffers (``ema_*``) and data-preprocessor buffers are dropped; any other unknown key is an error.

Both go through :func:`kprtrack.checkpoints.load_checkpoint` (restricted unpickler: mmdet ``meta`` holds
numpy arrays and legacy serialisation) and :func:`kprtrack.checkpoints.load_state_dict_strict`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kprtrack.checkpoints import (
    CheckpointKeyError,
    extract_state_dict,
    load_checkpoint,
    load_state_dict_strict,
    with_extra,
)
from kprtrack.detect.model import YOLOX, YOLOXArch
from kprtrack.detect.variants import VARIANTS, build_yolox_from_arch

#: mmdet module prefix -> Megvii module prefix (first match wins; every mmdet key must match one).
MMDET_PREFIX_MAP: tuple[tuple[str, str], ...] = (
    ("backbone.stem.", "backbone.backbone.stem."),
    ("backbone.stage1.", "backbone.backbone.dark2."),
    ("backbone.stage2.", "backbone.backbone.dark3."),
    ("backbone.stage3.", "backbone.backbone.dark4."),
    ("backbone.stage4.", "backbone.backbone.dark5."),
    ("neck.reduce_layers.0.", "backbone.lateral_conv0."),
    ("neck.reduce_layers.1.", "backbone.reduce_conv1."),
    ("neck.top_down_blocks.0.", "backbone.C3_p4."),
    ("neck.top_down_blocks.1.", "backbone.C3_p3."),
    ("neck.downsamples.0.", "backbone.bu_conv2."),
    ("neck.downsamples.1.", "backbone.bu_conv1."),
    ("neck.bottom_up_blocks.0.", "backbone.C3_n3."),
    ("neck.bottom_up_blocks.1.", "backbone.C3_n4."),
    ("neck.out_convs.0.", "head.stems.0."),
    ("neck.out_convs.1.", "head.stems.1."),
    ("neck.out_convs.2.", "head.stems.2."),
    ("bbox_head.multi_level_cls_convs.", "head.cls_convs."),
    ("bbox_head.multi_level_reg_convs.", "head.reg_convs."),
    ("bbox_head.multi_level_conv_cls.", "head.cls_preds."),
    ("bbox_head.multi_level_conv_reg.", "head.reg_preds."),
    ("bbox_head.multi_level_conv_obj.", "head.obj_preds."),
)

#: mmdet name segment -> Megvii name segment. The CSP ones (``main_conv``...) apply to the direct
#: children of a CSP layer; ``depthwise_conv``/``pointwise_conv`` are mmcv's DepthwiseSeparableConvModule.
MMDET_SEGMENT_MAP: dict[str, str] = {
    "main_conv": "conv1",
    "short_conv": "conv2",
    "final_conv": "conv3",
    "blocks": "m",
    "depthwise_conv": "dconv",
    "pointwise_conv": "pconv",
}

#: mmdet keys that hold no model weights and are dropped.
MMDET_IGNORED = re.compile(r"^(ema_|data_preprocessor\.)")

#: Megvii module paths of the CSP layers (their direct children conv1/conv2/conv3/m are renamed for mmdet).
_MEGVII_CSP = re.compile(r"^(backbone\.backbone\.dark[234]\.1\.|backbone\.backbone\.dark5\.2\.|backbone\.C3_\w\d\.)")


def checkpoint_format(ckpt: Any) -> str:
    """``megvii`` (``{'model': ...}``), ``mmdet`` (``{'state_dict': ...}`` with mmdet names) or ``plain``.

    Raises:
        ValueError: ``ckpt`` is no dict.
    """
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"a YOLOX checkpoint is a dict, got {type(ckpt).__name__}")
    if isinstance(ckpt.get("model"), Mapping):
        return "megvii"
    sd = ckpt.get("state_dict")
    if isinstance(sd, Mapping) and any(str(k).startswith(("bbox_head.", "neck.")) for k in sd):
        return "mmdet"
    if isinstance(sd, Mapping):
        return "plain"
    if any(str(k).startswith(("bbox_head.", "neck.")) for k in ckpt):
        return "mmdet"
    return "plain"


def mmdet_to_megvii(state_dict: Mapping[str, torch.Tensor], source: str = "") -> dict[str, torch.Tensor]:
    """Rename an mmdet YOLOX state dict to Megvii's names with the explicit maps above.

    Raises:
        CheckpointKeyError: keys matching no rule (all of them are named).
    """
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state_dict.items():
        if MMDET_IGNORED.match(key):
            continue
        for old, new in MMDET_PREFIX_MAP:
            if key.startswith(old):
                rest = [MMDET_SEGMENT_MAP.get(seg, seg) for seg in key[len(old) :].split(".")]
                out[new + ".".join(rest)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        shown = ", ".join(unknown[:20]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 20 else "")
        where = f" {source}" if source else ""
        raise CheckpointKeyError(f"mmdet checkpoint{where} has keys no YOLOX module maps to: {shown}")
    return out


def megvii_to_mmdet(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`mmdet_to_megvii` (exports a model under mmdet's names).

    Raises:
        CheckpointKeyError: keys outside the YOLOX modules.
    """
    inverse_prefix = [(new, old) for old, new in MMDET_PREFIX_MAP]
    csp_names = ("main_conv", "short_conv", "final_conv", "blocks")
    csp_children = {v: k for k, v in MMDET_SEGMENT_MAP.items() if k in csp_names}
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state_dict.items():
        csp = _MEGVII_CSP.match(key)
        segs = key.split(".")
        if csp:
            i = len(csp.group(1).split(".")) - 1  # index of the CSP child segment
            segs[i] = csp_children.get(segs[i], segs[i])
        segs = ["depthwise_conv" if s == "dconv" else "pointwise_conv" if s == "pconv" else s for s in segs]
        renamed = ".".join(segs)
        for new, old in inverse_prefix:
            if renamed.startswith(new):
                out[old + renamed[len(new) :]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointKeyError(f"keys outside the YOLOX modules: {', '.join(unknown[:20])}")
    return out


def read_yolox_state_dict(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """Read a checkpoint file (or an already loaded dict) and return ``(state dict in Megvii names, format)``.

    Megvii's optimizer state and other entries are ignored; mmdet names are mapped.
    """
    is_path = isinstance(source, (str, os.PathLike))
    name = str(source) if is_path else ""
    ckpt = load_checkpoint(source) if is_path else source
    fmt = checkpoint_format(ckpt)
    if fmt == "megvii":
        sd = extract_state_dict(ckpt, keys=("model",))
    elif fmt == "mmdet":
        sd = mmdet_to_megvii(extract_state_dict(ckpt, keys=("state_dict",)), name)
    else:
        sd = extract_state_dict(ckpt, keys=("state_dict", "model"))
    return sd, fmt


def _count_blocks(sd: Mapping[str, Any], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return len({m.group(1) for k in sd if (m := pat.match(k))})


def infer_arch(sd: Mapping[str, torch.Tensor], act: str = "silu") -> YOLOXArch:
    """Recover the architecture of a Megvii-named state dict from its key names and shapes.

    Official variants get their exact multipliers (e.g. depth 0.33); other models get
    ``depth = neck blocks / 3`` and ``width = head channels / 256``.

    Raises:
        CheckpointKeyError: a key needed to infer the architecture is missing.
        ValueError: the shapes fit no YOLOX architecture.
    """
    needed = ("backbone.backbone.stem.conv.conv.weight", "head.stems.0.conv.weight", "head.cls_preds.0.weight")
    missing = [k for k in needed if k not in sd]
    if missing:
        raise CheckpointKeyError(f"cannot infer the YOLOX architecture: missing keys {', '.join(missing)}")
    num_classes = int(sd["head.cls_preds.0.weight"].shape[0])
    head_w = int(sd["head.stems.0.conv.weight"].shape[0])
    base = int(sd["backbone.backbone.stem.conv.conv.weight"].shape[0])
    depthwise = any(".dconv." in k for k in sd)
    base_depth = _count_blocks(sd, "backbone.backbone.dark2.1.m.")
    neck_depth = _count_blocks(sd, "backbone.C3_p4.m.")
    for spec in VARIANTS.values():
        arch = YOLOXArch(spec.depth, spec.width, spec.depthwise, num_classes, act)
        if (arch.head_width, arch.base_channels, arch.depthwise, arch.base_depth, arch.neck_depth) == (
            head_w,
            base,
            depthwise,
            base_depth,
            neck_depth,
        ):
            return arch
    width = head_w / 256
    depth = neck_depth / 3
    if neck_depth < 1 or base_depth != neck_depth or int(64 * width) != base:
        raise ValueError(
            f"state dict fits no YOLOX architecture (stem {base} ch, head {head_w} ch, "
            f"{base_depth} dark2 blocks, {neck_depth} PAFPN blocks)"
        )
    return YOLOXArch(depth, width, depthwise, num_classes, act)


def load_yolox(source: str | os.PathLike[str] | Mapping[str, Any], arch: YOLOXArch | None = None) -> tuple[YOLOX, str]:
    """Build a YOLOX model and load a Megvii, mmdet or plain checkpoint into it (strict).

    Args:
        source: checkpoint path or loaded checkpoint dict.
        arch: architecture to build; inferred from the checkpoint (its ``arch`` entry if it has one,
            else the state dict) when ``None``.

    Returns:
        ``(model in eval mode, checkpoint format)``; an mmdet checkpoint sets ``model.decode_style = 'mmdet'``.

    Raises:
        CheckpointKeyError: missing, unexpected or mis-shaped keys (named).
    """
    name = "" if isinstance(source, Mapping) else str(source)
    ckpt = source if isinstance(source, Mapping) else load_checkpoint(source)
    sd, fmt = read_yolox_state_dict(ckpt)
    if arch is None:
        stored = ckpt.get("arch") if isinstance(ckpt, Mapping) else None
        arch = YOLOXArch(**stored) if isinstance(stored, Mapping) else infer_arch(sd)
    model = build_yolox_from_arch(arch)
    load_state_dict_strict(model, sd, name)
    if fmt == "mmdet":
        model.decode_style = "mmdet"
    return model.eval(), fmt


def save_megvii_checkpoint(
    path: str | os.PathLike[str],
    model: YOLOX,
    optimizer: torch.optim.Optimizer | None = None,
    start_epoch: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{'start_epoch', 'model', 'optimizer'?, 'arch'}`` as Megvii's trainer does (``ckpt_state``).

    ``arch`` (plain numbers) is an addition that Megvii's ``load_state_dict(ckpt['model'])`` ignores;
    it lets :func:`load_yolox` rebuild non-official sizes. ``extra`` adds further top-level entries
    (training meta, resume state; plain containers, numbers, strings and tensors) that loaders ignore.
    Readable with ``torch.load(weights_only=True)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    a = model.arch
    state: dict[str, Any] = {
        "start_epoch": int(start_epoch),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "arch": {
            "depth": a.depth,
            "width": a.width,
            "depthwise": a.depthwise,
            "num_classes": a.num_classes,
            "act": a.act,
        },
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    torch.save(with_extra(state, extra, "save_megvii_checkpoint"), path)
    return path
