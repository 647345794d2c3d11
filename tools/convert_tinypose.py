"""Convert PP-TinyPose's OpenVINO IR (xml + bin) into kprtrack state dicts (numpy + xml only).

    python tools/convert_tinypose.py --src ../shared/real/pose/pptinypose --out weights [--check-openvino]

Reads ``ov_fp16_tinypose_{256_192,128_96}.{xml,bin}`` (PaddleDetection's 2022 PP-TinyPose release,
Apache-2.0; provenance in ``weights/NOTICE-tinypose.txt``), checks their sha256, and writes
``tinypose_256x192.pth`` / ``tinypose_128x96.pth``: bare state dicts of
:class:`kprtrack.pose.tinypose.TinyPoseNet` with the float16 weights of the IR unchanged (the loader
converts them to float32) and ``input_size``. The bytes are deterministic.

Every convolution of the IR is followed by an ``Add`` carrying its folded BatchNorm bias; the Add is
named after PaddleDetection's BatchNorm layer (``batch_norm2d_<k>.w_1``, ``k`` = creation order in
PaddleDetection's ``LiteHRNet`` / ``TinyPose`` modules) or, for the last conv, ``conv2d_441.tmp_1``.
:func:`key_map` maps those names to this project's module names explicitly; a name on either side
without a partner, a shape, stride, padding or group count that differs is an error naming it.
``--check-openvino`` (needs the optional ``openvino`` package) runs both on the same random input.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kprtrack.checkpoints import check_keys  # noqa: E402
from kprtrack.pose.tinypose import TinyPoseArch, TinyPoseNet, build_tinypose  # noqa: E402

#: variant -> (IR file stem, sha256 of the xml, sha256 of the bin), as received (see the NOTICE).
SOURCES: dict[str, tuple[str, str, str]] = {
    "tinypose_256x192": (
        "ov_fp16_tinypose_256_192",
        "71990905e8ee8de250c57c4d52a6bb25028fecb7f3fc35d43707febefa45ba14",
        "b16cdb387b96f431c4e0052a8f1c5344bb5cc7c71cc14e245be260624968e462",
    ),
    "tinypose_128x96": (
        "ov_fp16_tinypose_128_96",
        "f743e248d871ce647c63e05cde6a1bc660bf612208687acf70173bbe18e1885a",
        "aa745b5711155bf07b3c60bb9d0b17ad4f5cd6ff57606fba564f20764fe79daf",
    ),
}

_NUMPY_TYPES = {"f16": np.float16, "f32": np.float32, "i32": np.int32, "i64": np.int64}
_CONV_TYPES = ("Convolution", "GroupConvolution")


@dataclass
class IRGraph:
    """An OpenVINO IR v10/v11 graph.

    Attributes:
        layers: layer id -> ``<layer>`` element.
        inputs: layer id -> {input port -> (producer layer id, output port)}.
        consumers: layer id -> ids of the layers reading any of its outputs.
        blob: the ``.bin`` contents.
    """

    layers: dict[str, ET.Element]
    inputs: dict[str, dict[int, tuple[str, int]]]
    consumers: dict[str, list[str]]
    blob: bytes


def read_ir(xml_path: Path, bin_path: Path) -> IRGraph:
    """Parse the graph and load the weights blob."""
    root = ET.parse(xml_path).getroot()
    layers = {layer.get("id", ""): layer for layer in root.iter("layer")}
    inputs: dict[str, dict[int, tuple[str, int]]] = {lid: {} for lid in layers}
    consumers: dict[str, list[str]] = {lid: [] for lid in layers}
    for edge in root.iter("edge"):
        src, dst = edge.get("from-layer", ""), edge.get("to-layer", "")
        inputs[dst][int(edge.get("to-port", "0"))] = (src, int(edge.get("from-port", "0")))
        consumers[src].append(dst)
    return IRGraph(layers, inputs, consumers, bin_path.read_bytes())


def producer(graph: IRGraph, layer_id: str, port: int) -> str:
    """The layer feeding ``port`` of ``layer_id``, looking through ``Convert`` (fp16 decompression)."""
    src = graph.inputs[layer_id][port][0]
    while graph.layers[src].get("type") == "Convert":
        src = graph.inputs[src][0][0]
    return src


def const_array(graph: IRGraph, layer_id: str) -> np.ndarray:
    """The value of a ``Const`` layer, in its stored element type."""
    layer = graph.layers[layer_id]
    data = layer.find("data")
    if layer.get("type") != "Const" or data is None:
        raise ValueError(f"IR layer {layer_id} ({layer.get('name')}) is not a constant")
    dtype = _NUMPY_TYPES[data.get("element_type", "")]
    offset, size = int(data.get("offset", "0")), int(data.get("size", "0"))
    shape = tuple(int(s) for s in data.get("shape", "").replace(" ", "").split(",") if s)
    return np.frombuffer(graph.blob, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset).reshape(shape)


@dataclass
class IRConv:
    """One convolution of the IR with its folded bias."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    groups: int


def _ints(text: str | None) -> tuple[int, ...]:
    return tuple(int(s) for s in (text or "").replace(" ", "").split(",") if s)


def ir_convolutions(graph: IRGraph) -> dict[str, IRConv]:
    """Every (group) convolution, keyed by the name of the ``Add`` that adds its bias."""
    out: dict[str, IRConv] = {}
    for lid, layer in graph.layers.items():
        if layer.get("type") not in _CONV_TYPES:
            continue
        weight = const_array(graph, producer(graph, lid, 1))
        adds = [c for c in graph.consumers[lid] if graph.layers[c].get("type") == "Add"]
        if len(adds) != 1 or len(graph.consumers[lid]) != 1:
            raise ValueError(f"IR convolution {layer.get('name')} is not followed by exactly one bias Add")
        add = adds[0]
        bias_src = [producer(graph, add, p) for p in graph.inputs[add]]
        bias_src = [s for s in bias_src if graph.layers[s].get("type") == "Const"]
        if len(bias_src) != 1:
            raise ValueError(f"IR Add {graph.layers[add].get('name')} has no constant bias")
        bias = const_array(graph, bias_src[0]).reshape(-1)
        groups = 1
        if layer.get("type") == "GroupConvolution":  # (G, O/G, I/G, kh, kw)
            groups = weight.shape[0]
            weight = weight.reshape(weight.shape[0] * weight.shape[1], *weight.shape[2:])
        data = layer.find("data")
        attrs = data.attrib if data is not None else {}
        if _ints(attrs.get("pads_begin")) != _ints(attrs.get("pads_end")):
            raise ValueError(f"IR convolution {layer.get('name')} has asymmetric padding")
        name = graph.layers[add].get("name", "")
        if name in out:
            raise ValueError(f"two IR convolutions share the bias name {name}")
        out[name] = IRConv(name, weight, bias, _ints(attrs.get("strides")), _ints(attrs.get("pads_begin")), groups)
    return out


def _dwsep(prefix: str) -> list[str]:
    return [f"{prefix}.dw", f"{prefix}.pw"]


def paddle_order(arch: TinyPoseArch) -> list[str]:
    """Our convolution names in PaddleDetection's BatchNorm creation order (``batch_norm2d_0, 1, ...``).

    Stem (conv, downsampling branch 1, expansion, branch 2), the transition into stage 1, then per
    stage: every module (per branch its units' 1x1 / depthwise / 1x1, then the fuse layers ``i``-major,
    ``j``-minor, each down-chain step's depthwise then 1x1), followed by the next transition; at last
    the head's projections, deepest branch first.
    """
    names = ["stem.conv", *_dwsep("stem.branch1"), "stem.expand", *_dwsep("stem.branch2")]
    names += _dwsep("transitions.0.0") + _dwsep("transitions.0.1")
    for s, n_modules in enumerate(arch.num_modules):
        n_branches = s + 2
        for m in range(n_modules):
            mod = f"stages.{s}.{m}"
            for b in range(n_branches):
                for k in range(arch.num_blocks):
                    names += [f"{mod}.branches.{b}.{k}.pw1", *_dwsep(f"{mod}.branches.{b}.{k}.branch")]
            for i in range(n_branches):
                for j in range(n_branches):
                    if j > i:
                        names.append(f"{mod}.fuse.{i}.{j}.conv")
                    elif j < i:
                        for step in range(i - j):
                            names += _dwsep(f"{mod}.fuse.{i}.{j}.{step}")
        if s + 1 < len(arch.num_modules):
            names += _dwsep(f"transitions.{s + 1}.0")
    for k in range(len(arch.channels)):
        names += _dwsep(f"head.projects.{k}")
    return names


def key_map(arch: TinyPoseArch) -> dict[str, str]:
    """IR bias-Add name -> our convolution name (the explicit key map)."""
    out = {f"batch_norm2d_{k}.w_1": name for k, name in enumerate(paddle_order(arch))}
    out["conv2d_441.tmp_1"] = "final"
    return out


def convert(graph: IRGraph, net: TinyPoseNet) -> dict[str, torch.Tensor]:
    """The IR's weights as a state dict of ``net`` (float16 as stored, plus ``input_size``).

    Raises:
        ValueError: a convolution without a partner on either side, or with other strides, padding or groups.
        kprtrack.checkpoints.CheckpointKeyError: a shape differs.
    """
    convs = ir_convolutions(graph)
    mapping = key_map(net.arch)
    missing = [src for src in mapping if src not in convs]
    unexpected = [src for src in convs if src not in mapping]
    if missing or unexpected:
        raise ValueError(f"IR convolutions do not match the key map: missing {missing}, unexpected {unexpected}")
    params = [g for g in graph.layers.values() if g.get("type") == "Parameter"]
    if len(params) != 1:
        raise ValueError(f"expected one IR input, found {len(params)}")
    ir_shape = _ints(params[0].find("data").get("shape"))  # type: ignore[union-attr]
    if ir_shape[2:] != net.arch.input_size[::-1]:
        raise ValueError(f"IR input is {ir_shape}, variant {net.arch.name} expects h x w {net.arch.input_size[::-1]}")
    sd: dict[str, torch.Tensor] = {"input_size": torch.tensor(net.arch.input_size, dtype=torch.int64)}
    for src, name in mapping.items():
        conv, module = convs[src], net.get_submodule(name)
        if not isinstance(module, torch.nn.Conv2d):
            raise ValueError(f"{name} (for {src}) is not a convolution")
        ours = (tuple(module.stride), tuple(module.padding), module.groups)
        if (conv.strides, conv.pads, conv.groups) != ours:
            raise ValueError(
                f"{src} -> {name}: IR strides/pads/groups {(conv.strides, conv.pads, conv.groups)} vs ours {ours}"
            )
        sd[f"{name}.weight"] = torch.from_numpy(conv.weight.astype(np.float16))
        sd[f"{name}.bias"] = torch.from_numpy(conv.bias.astype(np.float16))
    check_keys(net.state_dict(), sd, "IR", f"TinyPoseNet {net.arch.name}")
    return sd


def serialize(state_dict: dict[str, torch.Tensor]) -> bytes:
    """``torch.save`` bytes that depend on the tensors only (not on the output file name)."""
    buf = io.BytesIO()
    torch.save(dict(sorted(state_dict.items())), buf)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_openvino(xml_path: Path, net: TinyPoseNet, seed: int = 0) -> float:
    """Max abs heatmap difference between OpenVINO on the IR and ``net`` on one random crop."""
    import openvino as ov

    w, h = net.arch.input_size
    x = np.random.default_rng(seed).standard_normal((1, 3, h, w)).astype(np.float32)
    compiled = ov.Core().compile_model(str(xml_path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    ref = compiled(x)[compiled.output(0)]
    with torch.inference_mode():
        ours = net(torch.from_numpy(x)).numpy()
    return float(np.abs(ours - ref).max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared" / "real" / "pose" / "pptinypose")
    ap.add_argument("--out", type=Path, default=REPO / "weights")
    ap.add_argument("--variants", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    ap.add_argument("--check-openvino", action="store_true", help="compare with OpenVINO on a random input")
    ap.add_argument("--any-source", action="store_true", help="accept IR files whose sha256 differs from the NOTICE")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:
        stem, xml_sha, bin_sha = SOURCES[variant]
        xml_path, bin_path = args.src / f"{stem}.xml", args.src / f"{stem}.bin"
        blob_xml, blob_bin = xml_path.read_bytes(), bin_path.read_bytes()
        for path, data, want in ((xml_path, blob_xml, xml_sha), (bin_path, blob_bin, bin_sha)):
            got = sha256_bytes(data)
            if got != want and not args.any_source:
                raise SystemExit(f"{path}: sha256 {got} is not the recorded {want} (--any-source converts anyway)")
        net = build_tinypose(variant)
        sd = convert(read_ir(xml_path, bin_path), net)
        data = serialize(sd)
        dst = args.out / f"{variant}.pth"
        dst.write_bytes(data)
        n_params = sum(v.numel() for k, v in sd.items() if k != "input_size")
        print(f"{variant}: {len(sd)} tensors, {n_params} parameters -> {dst}")
        print(f"{variant}: {len(data)} bytes, sha256 {sha256_bytes(data)}")
        if args.check_openvino:
            net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
            print(f"{variant}: max |ours - OpenVINO| on a random input = {check_openvino(xml_path, net.eval()):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
