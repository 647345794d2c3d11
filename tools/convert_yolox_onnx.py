#!/usr/bin/env python
"""Convert an ONNX export of Megvii's YOLOX (BatchNorm fused into the convs) into a Megvii-format checkpoint.

Usage::

    python tools/convert_yolox_onnx.py ../shared/real/yolox_nano_coco.onnx weights/yolox_nano_coco.pth

The ONNX file has one ``Conv`` (weight + bias) per conv+BatchNorm block of the network, in the order
Megvii's ``forward`` runs them (the exporter traces that order). :func:`megvii_conv_order` lists the
convs of our :class:`~kprtrack.detect.model.YOLOX` in that same order (it is *not* our own forward
order: Megvii's CSP layer runs ``conv2`` before the bottlenecks and its head runs ``cls_preds`` before
the box branch). The two lists are paired one to one and every pair is checked: weight shape, groups,
stride, padding, kernel, dilation, and the parameter name where the exporter kept one (the unfused
``head.*_preds`` convs). Any mismatch is an error naming both sides.

A fused conv ``y = W * x + b`` goes into our ``conv -> BatchNorm(eps 1e-3)`` block as ``conv.weight = W``
and a BatchNorm that is the identity plus ``b``: weight 1, bias ``b``, running mean 0 and running variance
``v`` with ``float32(v) + float32(eps) == 1`` exactly, so ``1 / sqrt(v + eps)`` is exactly 1. Every block is
then checked numerically against ``conv2d(x, W, b)``.

The output is written by :func:`kprtrack.detect.weights.save_megvii_checkpoint` (``{'start_epoch', 'model',
'arch', 'converted_from'}``) and read back by :func:`kprtrack.detect.weights.load_yolox`, which must return
the same tensors. The same input gives the same bytes. Needs the ``onnx`` package (tool-only dependency).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from kprtrack.detect.blocks import BN_EPS, BaseConv, Bottleneck, CSPLayer, DWConv, Focus, SPPBottleneck  # noqa: E402
from kprtrack.detect.model import YOLOX  # noqa: E402
from kprtrack.detect.variants import build_yolox, canonical_variant  # noqa: E402
from kprtrack.detect.weights import load_yolox, save_megvii_checkpoint  # noqa: E402

#: largest ``max |BN(conv(x)) - conv2d(x, W, b)| / max |conv2d(x, W, b)|`` accepted per block: a few float32
#: roundings (the fused conv adds its bias inside the accumulation, our block adds it afterwards).
BLOCK_TOLERANCE = 1e-6


@dataclass(frozen=True)
class OnnxConv:
    """One ``Conv`` node of the ONNX graph with its initializers.

    Attributes:
        node: node name (``Conv_41``).
        weight_name: initializer name of the weight (a Megvii parameter name for unfused convs).
        weight: ``(C_out, C_in / groups, kh, kw)`` float32.
        bias: ``(C_out,)`` float32.
        groups, strides, pads, kernel, dilations: the node's attributes (pads as ``(top, left, bottom, right)``).
    """

    node: str
    weight_name: str
    weight: np.ndarray
    bias: np.ndarray
    groups: int
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    kernel: tuple[int, ...]
    dilations: tuple[int, ...]


def read_onnx_convs(path: Path) -> list[OnnxConv]:
    """The ``Conv`` nodes of an ONNX model in graph (topological, i.e. traced execution) order.

    Raises:
        ValueError: a conv without a constant weight or bias.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {t.name: t for t in graph.initializer}
    out = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        if len(node.input) != 3 or node.input[1] not in inits or node.input[2] not in inits:
            raise ValueError(f"{path}: {node.name} has no constant weight and bias (inputs {list(node.input)})")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        weight = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        out.append(
            OnnxConv(
                node=node.name,
                weight_name=node.input[1],
                weight=weight,
                bias=numpy_helper.to_array(inits[node.input[2]]).astype(np.float32),
                groups=int(attrs.get("group", 1)),
                strides=tuple(int(s) for s in attrs.get("strides", (1, 1))),
                pads=tuple(int(p) for p in attrs.get("pads", (0, 0, 0, 0))),
                kernel=tuple(int(k) for k in attrs.get("kernel_shape", weight.shape[2:])),
                dilations=tuple(int(d) for d in attrs.get("dilations", (1, 1))),
            )
        )
    return out


def _block_convs(module: nn.Module, path: str) -> list[str]:
    """Module paths of the ``nn.Conv2d`` inside one block, in the order Megvii's ``forward`` calls them."""
    if isinstance(module, BaseConv):
        return [f"{path}.conv"]
    if isinstance(module, DWConv):
        return _block_convs(module.dconv, f"{path}.dconv") + _block_convs(module.pconv, f"{path}.pconv")
    if isinstance(module, Focus):
        return _block_convs(module.conv, f"{path}.conv")
    if isinstance(module, Bottleneck):
        return _block_convs(module.conv1, f"{path}.conv1") + _block_convs(module.conv2, f"{path}.conv2")
    if isinstance(module, SPPBottleneck):
        return _block_convs(module.conv1, f"{path}.conv1") + _block_convs(module.conv2, f"{path}.conv2")
    if isinstance(module, CSPLayer):  # Megvii: x_1 = conv1(x); x_2 = conv2(x); x_1 = m(x_1); conv3(cat)
        return (
            _block_convs(module.conv1, f"{path}.conv1")
            + _block_convs(module.conv2, f"{path}.conv2")
            + _block_convs(module.m, f"{path}.m")
            + _block_convs(module.conv3, f"{path}.conv3")
        )
    if isinstance(module, nn.Sequential):
        return [p for name, child in module.named_children() for p in _block_convs(child, f"{path}.{name}")]
    if isinstance(module, nn.Conv2d):
        return [path]
    raise TypeError(f"no Megvii conv order known for {type(module).__name__} at {path}")


def megvii_conv_order(model: YOLOX) -> list[str]:
    """Module paths of every ``nn.Conv2d`` of ``model`` in the order Megvii's ``YOLOX.forward`` runs them.

    Backbone (stem, dark2..dark5), PAFPN (``yolo_pafpn.py`` forward), then per level the head's stem,
    class branch, ``cls_preds``, box branch, ``reg_preds``, ``obj_preds`` (``yolo_head.py`` forward).
    """
    order: list[str] = []
    dark = model.backbone.backbone
    for name in ("stem", "dark2", "dark3", "dark4", "dark5"):
        order += _block_convs(getattr(dark, name), f"backbone.backbone.{name}")
    pafpn = model.backbone
    for name in ("lateral_conv0", "C3_p4", "reduce_conv1", "C3_p3", "bu_conv2", "C3_n3", "bu_conv1", "C3_n4"):
        order += _block_convs(getattr(pafpn, name), f"backbone.{name}")
    head = model.head
    for k in range(len(head.stems)):
        order += _block_convs(head.stems[k], f"head.stems.{k}")
        order += _block_convs(head.cls_convs[k], f"head.cls_convs.{k}")
        order += [f"head.cls_preds.{k}"]
        order += _block_convs(head.reg_convs[k], f"head.reg_convs.{k}")
        order += [f"head.reg_preds.{k}", f"head.obj_preds.{k}"]
    return order


def _pair_problems(path: str, conv: nn.Conv2d, src: OnnxConv) -> list[str]:
    """Why ``src`` cannot be the weights of our ``conv`` at ``path`` (empty when it fits)."""
    problems = []
    ours = {
        "weight shape": tuple(conv.weight.shape),
        "groups": conv.groups,
        "strides": tuple(conv.stride),
        "pads": tuple(conv.padding) * 2,
        "kernel": tuple(conv.kernel_size),
        "dilations": tuple(conv.dilation),
    }
    theirs = {
        "weight shape": tuple(src.weight.shape),
        "groups": src.groups,
        "strides": src.strides,
        "pads": src.pads,
        "kernel": src.kernel,
        "dilations": src.dilations,
    }
    for what, value in ours.items():
        if theirs[what] != value:
            problems.append(f"{what} {theirs[what]} != {value}")
    if src.bias.shape != (conv.out_channels,):
        problems.append(f"bias shape {src.bias.shape} != ({conv.out_channels},)")
    named = not src.weight_name.isdigit()  # the exporter keeps parameter names of unfused convs only
    if named and src.weight_name != f"{path}.weight":
        problems.append(f"ONNX weight is named {src.weight_name!r}")
    return problems


def map_convs(model: YOLOX, convs: list[OnnxConv]) -> list[tuple[str, OnnxConv]]:
    """Pair the convs of ``model`` (Megvii order) with the ONNX convs (graph order), checking every pair.

    Returns:
        ``(module path, ONNX conv)`` pairs covering every ``nn.Conv2d`` of ``model`` exactly once.

    Raises:
        ValueError: the counts differ, or pairs do not fit (every mismatch is named).
    """
    modules = dict(model.named_modules())
    order = megvii_conv_order(model)
    all_convs = {name for name, m in modules.items() if isinstance(m, nn.Conv2d)}
    if sorted(order) != sorted(all_convs):
        raise ValueError(
            f"Megvii conv order does not cover the model: missing {sorted(all_convs - set(order))}, "
            f"repeated {sorted({p for p in order if order.count(p) > 1})}"
        )
    if len(order) != len(convs):
        raise ValueError(f"the model has {len(order)} convs but the ONNX graph has {len(convs)} Conv nodes")
    errors = []
    for path, src in zip(order, convs):
        problems = _pair_problems(path, modules[path], src)
        if problems:
            errors.append(f"{src.node} -> {path}: {'; '.join(problems)}")
    if errors:
        raise ValueError(f"{len(errors)} ONNX convs do not fit the model:\n  " + "\n  ".join(errors))
    return list(zip(order, convs))


def identity_running_var(eps: float) -> float:
    """A float32 variance ``v`` with ``float32(v) + float32(eps) == 1`` exactly (so BN divides by exactly 1).

    Raises:
        ValueError: no float32 value near ``1 - eps`` does it.
    """
    one, e = np.float32(1.0), np.float32(eps)
    v = one - e
    for _ in range(8):
        if v + e == one:
            return float(v)
        v = np.nextafter(v, np.float32(2.0) if v + e < one else np.float32(0.0))
    raise ValueError(f"no float32 running variance makes sqrt(var + {eps}) exactly 1")


def load_fused_convs(model: YOLOX, mapping: list[tuple[str, OnnxConv]]) -> None:
    """Write the fused weights into ``model``; conv+BN blocks get the identity BatchNorm carrying the bias.

    Raises:
        ValueError: some parameter or buffer of ``model`` was not written (named).
    """
    modules = dict(model.named_modules())
    state = model.state_dict()
    written: set[str] = set()
    with torch.no_grad():
        for path, src in mapping:
            conv = modules[path]
            conv.weight.copy_(torch.from_numpy(src.weight))
            written.add(f"{path}.weight")
            bias = torch.from_numpy(src.bias)
            if conv.bias is not None:
                conv.bias.copy_(bias)
                written.add(f"{path}.bias")
                continue
            block = path.rsplit(".", 1)[0]
            bn = modules[f"{block}.bn"]
            if not isinstance(bn, nn.BatchNorm2d):
                raise ValueError(f"{path} has no bias and no BatchNorm at {block}.bn")
            bn.weight.fill_(1.0)
            bn.bias.copy_(bias)
            bn.running_mean.zero_()
            bn.running_var.fill_(identity_running_var(bn.eps))
            bn.num_batches_tracked.zero_()
            written |= {f"{block}.bn.{k}" for k in ("weight", "bias", "running_mean", "running_var")}
            written.add(f"{block}.bn.num_batches_tracked")
    missing = sorted(set(state) - written)
    if missing:
        raise ValueError(f"no ONNX weights were written to: {', '.join(missing)}")


@torch.no_grad()
def check_blocks(model: YOLOX, mapping: list[tuple[str, OnnxConv]], seed: int = 0) -> float:
    """Largest relative ``|block(x) - conv2d(x, W, b)|`` over all convs (before activations) on a random probe.

    Raises:
        ValueError: a block differs by more than :data:`BLOCK_TOLERANCE` (named).
    """
    modules = dict(model.named_modules())
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for path, src in mapping:
        conv = modules[path]
        x = torch.randn(1, conv.in_channels, 12, 12, generator=gen) * 10
        expected = F.conv2d(
            x, torch.from_numpy(src.weight), torch.from_numpy(src.bias), conv.stride, conv.padding, groups=conv.groups
        )
        y = conv(x)
        if conv.bias is None:
            y = modules[path.rsplit(".", 1)[0] + ".bn"](y)
        diff = float((y - expected).abs().max()) / max(float(expected.abs().max()), 1e-12)
        if diff > BLOCK_TOLERANCE:
            raise ValueError(f"{path} ({src.node}): conv+BN differs from the fused conv by {diff:.3g} (relative)")
        worst = max(worst, diff)
    return worst


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("onnx", type=Path, help="ONNX export of a Megvii YOLOX model (BatchNorm fused)")
    parser.add_argument("out", type=Path, help="Megvii-format checkpoint to write (.pth)")
    parser.add_argument("--variant", default="yolox_nano", help="official variant the ONNX file is (yolox_nano)")
    parser.add_argument("--num-classes", type=int, default=80)
    args = parser.parse_args()

    convs = read_onnx_convs(args.onnx)
    model = build_yolox(args.variant, num_classes=args.num_classes)
    mapping = map_convs(model, convs)
    load_fused_convs(model, mapping)
    worst = check_blocks(model, mapping)
    source_sha = sha256_file(args.onnx)
    save_megvii_checkpoint(
        args.out,
        model,
        extra={
            "converted_from": {
                "file": args.onnx.name,
                "sha256": source_sha,
                "variant": canonical_variant(args.variant),
                "tool": "tools/convert_yolox_onnx.py",
            }
        },
    )
    loaded, fmt = load_yolox(args.out)
    ref = model.state_dict()
    differ = [k for k, v in loaded.state_dict().items() if not torch.equal(v, ref[k])]
    if fmt != "megvii" or differ:
        raise ValueError(f"{args.out} does not read back as written (format {fmt}, differing keys {differ[:10]})")
    print(f"mapped {len(mapping)} ONNX convs onto {canonical_variant(args.variant)} (all shapes/attributes match)")
    print(f"identity BatchNorm running_var = {identity_running_var(BN_EPS)!r}")
    print(f"worst block difference {worst:.3g} (relative to the block output range)")
    print(f"source {args.onnx.name} sha256 {source_sha}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) sha256 {sha256_file(args.out)}")


if __name__ == "__main__":
    main()
