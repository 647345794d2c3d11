"""Convert Intel OMZ person-reidentification-retail-0288 / 0287 (OpenVINO IR v11) to bare state dicts.

Reads the IR with the standard library (``xml.etree``) and numpy only, walks the graph structurally
(stem, three stages of omni-scale blocks, transitions, head), checks every operation's type,
attributes and shapes against :mod:`kprtrack.reid.omz`, and writes ``weights/omz_reid_0288.pth``
(and 0287) as a bare ``torch.save`` state dict in the model's key order: the bytes are a function
of the IR only. Every state-dict key is mapped explicitly to the IR layers it comes from
(``--key-map out.tsv`` writes the table). ``--check-openvino`` also compares the native port
against OpenVINO on the parity fixture's inputs (optional; needs the ``openvino`` package).

    python tools/convert_omz_reid.py --models 0288 0287 --key-map /tmp/omz_keys.tsv
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kprtrack.reid.omz import OMZ_REID_CONFIGS, OMZReidNet, build_omz_reid, load_omz_reid  # noqa: E402

DEFAULT_SOURCE = Path(os.environ.get("KPRTRACK_REAL") or ROOT.parent / "shared" / "real") / "reid"
_DTYPES = {"f32": np.float32, "i32": np.int32, "i64": np.int64}


class IRError(ValueError):
    """The IR does not have the structure the native port expects (names the layer)."""


@dataclass
class Layer:
    """One IR layer: id, name, type, ``<data>`` attributes, input sources ``(layer id, port)`` and output shapes."""

    id: str
    name: str
    type: str
    attrs: dict[str, str]
    inputs: list[tuple[str, str]]
    out_shapes: list[tuple[int, ...]]

    def __str__(self) -> str:
        return f"{self.type} '{self.name}' (id {self.id})"


class IRGraph:
    """An OpenVINO IR (v10/v11) read with ``xml.etree``: layers, edges and constants from the ``.bin``."""

    def __init__(self, xml_path: Path) -> None:
        root = ET.parse(xml_path).getroot()
        self.weights = xml_path.with_suffix(".bin").read_bytes()
        self.layers: dict[str, Layer] = {}
        port_src: dict[tuple[str, str], tuple[str, str]] = {}
        for e in root.find("edges"):
            port_src[(e.get("to-layer"), e.get("to-port"))] = (e.get("from-layer"), e.get("from-port"))
        self.consumers: dict[str, list[str]] = {}
        for el in root.find("layers"):
            lid = el.get("id")
            data = el.find("data")
            inp = el.find("input")
            out = el.find("output")
            inputs = [port_src[(lid, p.get("id"))] for p in inp] if inp is not None else []
            shapes = [tuple(int(d.text) for d in p.findall("dim")) for p in out] if out is not None else []
            self.layers[lid] = Layer(lid, el.get("name"), el.get("type"), dict(data.attrib) if data is not None else {},
                                     inputs, shapes)  # fmt: skip
        for lid, layer in self.layers.items():
            for src, _ in layer.inputs:
                self.consumers.setdefault(src, []).append(lid)

    # ------------------------------------------------------------------ navigation
    def by_type(self, kind: str) -> list[Layer]:
        return [layer for layer in self.layers.values() if layer.type == kind]

    def next(self, layer: Layer, kind: str | tuple[str, ...], ignore: tuple[str, ...] = ("ShapeOf",)) -> Layer:
        """The single consumer of ``layer`` (ignoring shape queries), which must be of type ``kind``."""
        users = [self.layers[i] for i in self.consumers.get(layer.id, []) if self.layers[i].type not in ignore]
        kinds = (kind,) if isinstance(kind, str) else kind
        if len(users) != 1 or users[0].type not in kinds:
            raise IRError(f"{layer}: expected one {'/'.join(kinds)} consumer, got {[str(u) for u in users]}")
        return users[0]

    def users(self, layer: Layer, kind: str) -> list[Layer]:
        """All consumers of ``layer`` of type ``kind``, in IR order."""
        return [self.layers[i] for i in self.consumers.get(layer.id, []) if self.layers[i].type == kind]

    def source(self, layer: Layer, port: int) -> Layer:
        return self.layers[layer.inputs[port][0]]

    def const(self, layer: Layer, port: int) -> tuple[np.ndarray, str]:
        """The constant feeding input ``port`` of ``layer`` and its IR name."""
        src = self.source(layer, port)
        if src.type != "Const":
            raise IRError(f"{layer}: input {port} is {src}, expected a constant")
        dtype = np.dtype(_DTYPES[src.attrs["element_type"]])
        shape = tuple(int(s) for s in src.attrs["shape"].split(",") if s.strip())
        offset, size = int(src.attrs["offset"]), int(src.attrs["size"])
        arr = np.frombuffer(self.weights, dtype, count=size // dtype.itemsize, offset=offset).reshape(shape)
        return arr.copy(), src.name

    def other_input(self, layer: Layer, known: Layer) -> Layer:
        """The non-constant input of a binary ``layer`` that is not ``known``."""
        others = [self.layers[s] for s, _ in layer.inputs if s != known.id and self.layers[s].type != "Const"]
        if len(others) != 1:
            raise IRError(f"{layer}: expected one other input besides {known}")
        return others[0]


class KeyMap:
    """The state dict being built and, for each key, the IR constants it comes from."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}
        self.sources: dict[str, str] = {}

    def put(self, key: str, value: np.ndarray, *sources: str) -> None:
        if key in self.tensors:
            raise IRError(f"key {key} assigned twice")
        self.tensors[key] = np.ascontiguousarray(value, dtype=np.float32)
        self.sources[key] = " * ".join(sources)


def _check_attrs(layer: Layer, **expected: str) -> None:
    for k, v in expected.items():
        got = layer.attrs.get(k, "").replace(" ", "")
        if got != v:
            raise IRError(f"{layer}: attribute {k}={got!r}, expected {v!r}")


def _channel_vector(graph: IRGraph, layer: Layer, port: int, channels: int) -> tuple[np.ndarray, str]:
    arr, name = graph.const(layer, port)
    if arr.size != channels or max(arr.shape, default=1) != channels:
        raise IRError(f"{layer}: constant {name} of shape {arr.shape}, expected {channels} per-channel values")
    return arr.reshape(channels), name


def read_conv(
    graph: IRGraph, conv: Layer, km: KeyMap, key: str, stride: int = 1, pad: int = 0, bias: bool = True
) -> Layer:
    """A (group) convolution and its bias ``Add``; returns the last layer read."""
    if conv.type not in ("Convolution", "GroupConvolution"):
        raise IRError(f"{conv}: expected a convolution for {key}")
    _check_attrs(conv, strides=f"{stride},{stride}", pads_begin=f"{pad},{pad}", pads_end=f"{pad},{pad}",
                 dilations="1,1")  # fmt: skip
    w, wname = graph.const(conv, 1)
    if conv.type == "GroupConvolution":  # (G, out/G, in/G, kh, kw) -> (out, in/G, kh, kw)
        w = w.reshape(w.shape[0] * w.shape[1], *w.shape[2:])
    km.put(f"{key}.weight", w, wname)
    if not bias:
        return conv
    add = graph.next(conv, "Add")
    b, bname = _channel_vector(graph, add, 1, w.shape[0])
    km.put(f"{key}.bias", b, bname)
    return add


def read_affine_norm(graph: IRGraph, mvn: Layer, km: KeyMap, key: str, axes: list[int], channels: int) -> Layer:
    """``MVN`` over ``axes`` (eps 1e-5 inside the sqrt) then a per-channel ``Multiply`` and ``Add``."""
    if mvn.type != "MVN":
        raise IRError(f"{mvn}: expected an MVN for {key}")
    _check_attrs(mvn, normalize_variance="true", eps_mode="INSIDE_SQRT")
    if abs(float(mvn.attrs["eps"]) - 1e-5) > 1e-9:
        raise IRError(f"{mvn}: eps {mvn.attrs['eps']}, expected 1e-5")
    got_axes, _ = graph.const(mvn, 1)
    if sorted(int(a) for a in got_axes.ravel()) != axes:
        raise IRError(f"{mvn}: normalises axes {got_axes.tolist()}, expected {axes}")
    nxt = graph.next(mvn, ("Multiply", "Reshape"))
    if nxt.type == "Reshape":  # group norm: back to (N, C, 1, 1)
        nxt = graph.next(nxt, "Multiply")
    w, wname = _channel_vector(graph, nxt, 1, channels)
    add = graph.next(nxt, "Add")
    b, bname = _channel_vector(graph, add, 1, channels)
    km.put(f"{key}.weight", w, wname)
    km.put(f"{key}.bias", b, bname)
    return add


def read_gate(graph: IRGraph, pool: Layer, km: KeyMap, key: str, kind: str, channels: int, size: int) -> Layer:
    """A channel gate from its ``ReduceMean`` to its ``Sigmoid``."""
    axes, _ = graph.const(pool, 1)
    if sorted(axes.ravel().tolist()) != [2, 3] or pool.attrs.get("keep_dims") != "true":
        raise IRError(f"{pool}: expected a spatial mean with keep_dims")
    if kind == "fc":
        add = read_conv(graph, graph.next(pool, "Convolution"), km, f"{key}.fc1")
        if km.tensors[f"{key}.fc1.weight"].shape[0] != size:
            raise IRError(f"{pool}: gate bottleneck {km.tensors[f'{key}.fc1.weight'].shape[0]}, expected {size}")
        add = read_conv(graph, graph.next(graph.next(add, "ReLU"), "Convolution"), km, f"{key}.fc2")
    else:
        reshape = graph.next(pool, "Reshape")
        if reshape.out_shapes[0][1:] != (size, channels // size):
            raise IRError(f"{reshape}: groups {reshape.out_shapes[0]}, expected ({size}, {channels // size})")
        add = read_affine_norm(graph, graph.next(reshape, "MVN"), km, key, [2], channels)
    return graph.next(add, "Sigmoid")


def read_stream(graph: IRGraph, conv: Layer, km: KeyMap, key: str) -> tuple[Layer, int]:
    """Light 3x3 convolutions from ``conv`` until the stream's gate; returns the last ReLU and the depth."""
    depth = 0
    entries: list[KeyMap] = []
    while True:
        sub = KeyMap()
        read_conv(graph, conv, sub, "pointwise", bias=False)
        add = read_conv(graph, graph.next(conv, "GroupConvolution"), sub, "depthwise", pad=1)
        relu = graph.next(add, "ReLU")
        entries.append(sub)
        depth += 1
        convs = graph.users(relu, "Convolution")
        if not convs:
            break
        conv = convs[0]
    for j, sub in enumerate(entries):
        for k, v in sub.tensors.items():
            km.put(f"{key}.{j}.{k}", v, sub.sources[k])
    return relu, depth


def read_block(graph: IRGraph, x: Layer, km: KeyMap, key: str, gate: str, gate_size: int, out_ch: int) -> Layer:
    """One omni-scale block whose input is ``x``; returns its output ``ReLU``."""
    convs = graph.users(x, "Convolution")
    reduce_conv = shortcut_conv = None
    for conv in convs:
        follower = graph.next(graph.next(conv, "Add"), ("ReLU", "Add"))
        if follower.type == "ReLU":
            reduce_conv = conv
        else:
            shortcut_conv = conv
    if reduce_conv is None or len(convs) != (1 if shortcut_conv is None else 2):
        raise IRError(f"{x}: cannot find the block {key} (consumers {[str(c) for c in convs]})")
    r = graph.next(read_conv(graph, reduce_conv, km, f"{key}.reduce"), "ReLU")
    mid = km.tensors[f"{key}.reduce.weight"].shape[0]
    if mid != out_ch // 4:
        raise IRError(f"{reduce_conv}: {mid} channels, expected {out_ch // 4}")
    streams = graph.users(r, "Convolution")
    if len(streams) != 4:
        raise IRError(f"{r}: expected 4 streams, got {len(streams)}")
    gated: dict[int, Layer] = {}
    gates: list[KeyMap] = []
    for conv in streams:
        sub = KeyMap()
        relu, depth = read_stream(graph, conv, sub, "s")
        if depth in gated:
            raise IRError(f"{conv}: two streams of depth {depth}")
        for k, v in sub.tensors.items():
            km.put(f"{key}.streams.{depth - 1}.{k[2:]}", v, sub.sources[k])
        gsub = KeyMap()
        sigmoid = read_gate(graph, graph.next(relu, "ReduceMean", ignore=("Multiply",)), gsub, "g", gate, mid,
                            gate_size)  # fmt: skip
        gates.append(gsub)
        mul = graph.next(sigmoid, "Multiply")
        if graph.other_input(mul, sigmoid).id != relu.id:
            raise IRError(f"{mul}: the gate does not multiply its own stream")
        gated[depth] = mul
    if sorted(gated) != [1, 2, 3, 4]:
        raise IRError(f"{r}: stream depths {sorted(gated)}, expected 1..4")
    for k in gates[0].tensors:  # one gate module shared by the streams: the IR repeats it
        for other in gates[1:]:
            if not np.array_equal(gates[0].tensors[k], other.tensors[k]):
                raise IRError(f"block {key}: the streams' gates differ ({k})")
        km.put(f"{key}.gate.{k[2:]}", gates[0].tensors[k], gates[0].sources[k])
    # the gated streams are summed in order (1 + 2) + 3 + 4, then expanded
    node = gated[1]
    for depth in (2, 3, 4):
        add = graph.next(node, "Add")
        if graph.other_input(add, node).id != gated[depth].id:
            raise IRError(f"{add}: expected the gated stream of depth {depth} in the sum")
        node = add
    add = read_conv(graph, graph.next(node, "Convolution"), km, f"{key}.expand")
    residual = graph.next(add, "Add")
    if shortcut_conv is None:
        if graph.other_input(residual, add).id != x.id:
            raise IRError(f"{residual}: expected the identity shortcut from {x}")
    else:
        sc_add = read_conv(graph, shortcut_conv, km, f"{key}.shortcut")
        if graph.other_input(residual, add).id != sc_add.id:
            raise IRError(f"{residual}: expected the projection shortcut {sc_add}")
    return graph.next(residual, "ReLU")


def convert_ir(xml_path: Path, arch: str) -> tuple[OrderedDict[str, torch.Tensor], dict[str, str]]:
    """Read the IR and return the native state dict (model key order) and its key map (key -> IR names)."""
    cfg = OMZ_REID_CONFIGS[arch]
    graph = IRGraph(xml_path)
    km = KeyMap()
    params = graph.by_type("Parameter")
    if len(params) != 1 or params[0].out_shapes[0] != (1, 3, *cfg.input_size):
        raise IRError(f"expected one input (1, 3, {cfg.input_size}), got {[p.out_shapes for p in params]}")
    gather = graph.next(params[0], "Gather")
    order, _ = graph.const(gather, 1)
    axis, _ = graph.const(gather, 2)
    if order.tolist() != [2, 1, 0] or axis.ravel().tolist() != [1]:
        raise IRError(f"{gather}: expected the BGR -> RGB channel swap, got indices {order.tolist()} axis {axis}")
    sub = graph.next(gather, "Subtract")
    mean, mean_name = _channel_vector(graph, sub, 1, 3)
    mul = graph.next(sub, "Multiply")
    scale, scale_name = _channel_vector(graph, mul, 1, 3)
    km.put("input_mean", mean, mean_name)
    km.put("input_scale", scale, scale_name)
    add = read_affine_norm(graph, graph.next(mul, "MVN"), km, "stem.input_norm", [2, 3], 3)
    conv = graph.next(add, "Convolution")
    read_conv(graph, conv, km, "stem.conv", stride=2, pad=3, bias=False)
    add = read_affine_norm(graph, graph.next(conv, "MVN"), km, "stem.norm", [2, 3], cfg.stem_channels)
    pool = graph.next(graph.next(add, "ReLU"), "MaxPool")
    _check_attrs(pool, kernel="3,3", strides="2,2", pads_begin="1,1", pads_end="1,1", rounding_type="floor")
    x = pool
    last = len(cfg.stage_channels) - 1
    for s, (out_ch, hidden, groups) in enumerate(zip(cfg.stage_channels, cfg.gate_hidden, cfg.gate_groups)):
        x = read_block(graph, x, km, f"stages.{s}.0", "fc", hidden, out_ch)
        x = read_block(graph, x, km, f"stages.{s}.1", "gn", groups, out_ch)
        conv = graph.next(x, "Convolution")
        relu = graph.next(read_conv(graph, conv, km, f"stages.{s}.2.conv" if s < last else "head.conv"), "ReLU")
        if s < last:
            x = graph.next(relu, "AvgPool")
            _check_attrs(x, kernel="2,2", strides="2,2", pads_begin="0,0", pads_end="0,0", rounding_type="floor")
        else:
            x = relu
    gdc = graph.next(x, "GroupConvolution")
    _check_attrs(gdc, strides="1,1", pads_begin="0,0", pads_end="0,0")
    add = read_conv(graph, gdc, km, "head.pool")
    reshape = graph.next(add, "Reshape")
    matmul = graph.next(reshape, "MatMul")
    _check_attrs(matmul, transpose_a="false", transpose_b="true")
    w, wname = graph.const(matmul, 1)
    add = graph.next(matmul, "Add")
    b, bname = _channel_vector(graph, add, 1, w.shape[0])
    bn_mul = graph.next(graph.next(add, "Reshape"), "Multiply")
    bn_scale, sname = _channel_vector(graph, bn_mul, 1, w.shape[0])
    bn_add = graph.next(bn_mul, "Add")
    bn_shift, tname = _channel_vector(graph, bn_add, 1, w.shape[0])
    # fold the (eval) batch norm into the linear layer: s * (W x + b) + t
    w64, b64, s64 = w.astype(np.float64), b.astype(np.float64), bn_scale.astype(np.float64)
    km.put("head.fc.weight", w64 * s64[:, None], wname, sname)
    km.put("head.fc.bias", b64 * s64 + bn_shift.astype(np.float64), bname, sname, tname)
    prelu = graph.next(bn_add, "PReLU")
    slope, pname = graph.const(prelu, 1)
    if slope.size != 1:
        raise IRError(f"{prelu}: expected one slope, got {slope.shape}")
    km.put("head.prelu.weight", slope.reshape(1), pname)
    graph.next(graph.next(prelu, "Reshape"), "Result")

    model_keys = build_omz_reid(arch).state_dict()
    tensors = {k: torch.from_numpy(v) for k, v in km.tensors.items()}
    from kprtrack.checkpoints import check_keys

    check_keys(model_keys, tensors, str(xml_path), f"OMZ re-id model {arch}")
    state = OrderedDict((k, tensors[k].clone()) for k in model_keys)
    return state, {k: km.sources[k] for k in model_keys}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def count_parameters(model: OMZReidNet) -> int:
    return sum(p.numel() for p in model.parameters())


def check_openvino(xml_path: Path, model: OMZReidNet, inputs: np.ndarray) -> float:
    """Minimum cosine between OpenVINO (CPU, f32 hint) and the native port on ``inputs``."""
    import openvino as ov  # optional: only for this cross-check

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(xml_path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    ref = np.concatenate([compiled(inputs[i : i + 1])[0] for i in range(len(inputs))])
    with torch.inference_mode():
        ours = model(torch.from_numpy(inputs)).numpy()
    cos = (ref * ours).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(ours, axis=1)
    return float(cos.min())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="folder holding person-reidentification-retail-*/FP32"
    )
    parser.add_argument("--models", nargs="+", default=["0288", "0287"], choices=["0288", "0287"])
    parser.add_argument("--out", type=Path, default=ROOT / "weights")
    parser.add_argument("--key-map", type=Path, help="write 'key<TAB>IR constants' for every converted key")
    parser.add_argument("--check-openvino", action="store_true", help="compare with OpenVINO on the fixture inputs")
    args = parser.parse_args(argv)
    rows = []
    for model_id in args.models:
        arch = f"omz_reid_{model_id}"
        xml_path = (
            args.source
            / f"person-reidentification-retail-{model_id}"
            / "FP32"
            / f"person-reidentification-retail-{model_id}.xml"
        )
        state, key_map = convert_ir(xml_path, arch)
        out = args.out / f"{arch}.pth"
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, out)
        model = load_omz_reid(out, arch)
        print(f"{arch}: {len(state)} tensors, {count_parameters(model)} parameters -> {out} "
              f"(sha256 {sha256_bytes(out.read_bytes())})")  # fmt: skip
        print(f"  source xml sha256 {sha256_bytes(xml_path.read_bytes())}")
        print(f"  source bin sha256 {sha256_bytes(xml_path.with_suffix('.bin').read_bytes())}")
        rows += [f"{arch}\t{k}\t{v}" for k, v in key_map.items()]
        fixture = args.source / "reference" / "omz_reid_reference.npz"
        if fixture.is_file():
            with np.load(fixture) as z:
                x, ref = z["input_bgr_0_255"], z[f"retail_{model_id}/embedding"]
            with torch.inference_mode():
                ours = model(torch.from_numpy(x)).numpy()
            cos = (ref * ours).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(ours, axis=1)
            print(f"  fixture: min cosine {cos.min():.7f}, max abs diff {np.abs(ref - ours).max():.2e}")
            if args.check_openvino:
                print(f"  openvino now: min cosine {check_openvino(xml_path, model, x):.7f}")
    if args.key_map:
        args.key_map.write_text("model\tkey\tIR constants\n" + "\n".join(rows) + "\n")
        print(f"key map -> {args.key_map}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
