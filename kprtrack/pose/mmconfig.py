"""Read mmpose configs without executing them, and turn them into a :class:`PoseModelConfig`.

mmengine configs are Python files; running them would execute arbitrary code. :func:`read_mmengine_config`
instead parses the file with :mod:`ast` and evaluates only data: literals, ``dict(...)`` /
``list(...)`` / ``tuple(...)`` calls, names assigned earlier in the same file, subscripts
(``codec['input_size']``), arithmetic / string concatenation and comparisons. ``_base_`` files are
read the same way and merged as mmengine does (nested dicts merged key by key, ``_delete_=True``
replaces). Imports, function definitions and anything else are skipped; a value that depends on
something skipped stays unresolved, and using it in a field kprtrack needs raises ``ValueError``
naming it. New-style (``read_base()``) configs are refused.

:func:`pose_config_from_mmpose` reads the fields that determine inference (backbone, head, codec,
data preprocessor, test_cfg, test pipeline) and :func:`pose_config_from_architecture_json`
the fixture's ``architecture.json`` summary.
"""

from __future__ import annotations

import ast
import json
import logging
import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kprtrack.keypoints import CONVENTIONS
from kprtrack.pose.config import (
    CodecConfig,
    HeadConfig,
    HRNetConfig,
    PoseModelConfig,
    StageConfig,
    TopdownConfig,
)

logger = logging.getLogger(__name__)


class Unresolved:
    """A config value kprtrack could not evaluate safely."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unresolved: {self.reason}>"


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_CALLS = {"dict": dict, "list": list, "tuple": tuple}


class _Unsupported(Exception):
    pass


def _eval(node: ast.AST, names: Mapping[str, Any]) -> Any:
    """Evaluate a data-only expression; raise :class:`_Unsupported` for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            value = names[node.id]
            if isinstance(value, Unresolved):
                raise _Unsupported(f"{node.id} is unresolved ({value.reason})")
            return value
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise _Unsupported(f"unknown name {node.id!r}")
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = []
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                items.extend(_eval(elt.value, names))
            else:
                items.append(_eval(elt, names))
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values):
            if k is None:  # {**other}
                out.update(_eval(v, names))
            else:
                out[_eval(k, names)] = _eval(v, names)
        return out
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
        fn = _CALLS[node.func.id]
        args = [_eval(a, names) for a in node.args]
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                kwargs.update(_eval(kw.value, names))
            else:
                kwargs[kw.arg] = _eval(kw.value, names)
        if fn is dict:
            return dict(*args, **kwargs)
        if kwargs or len(args) > 1:
            raise _Unsupported(f"{node.func.id}() with these arguments")
        return fn(*args)
    if isinstance(node, ast.Subscript):
        return _eval(node.value, names)[_eval(node.slice, names)]
    if isinstance(node, ast.Slice):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if p is None else _eval(p, names) for p in parts))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left, names), _eval(node.right, names))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, names))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
        return _CMP[type(node.ops[0])](_eval(node.left, names), _eval(node.comparators[0], names))
    if isinstance(node, ast.IfExp):
        return _eval(node.body, names) if _eval(node.test, names) else _eval(node.orelse, names)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            parts.append(str(_eval(v.value, names)) if isinstance(v, ast.FormattedValue) else _eval(v, names))
        return "".join(parts)
    code = ast.unparse(node)
    code = code if len(code) <= 60 else code[:57] + "..."
    raise _Unsupported(f"cannot evaluate {code!r} (line {getattr(node, 'lineno', '?')}) without running code")


def _merge(base: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """mmengine merge: dicts merge recursively unless the child dict says ``_delete_=True``."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and value.get("_delete_", False):
            out[key] = {k: v for k, v in value.items() if k != "_delete_"}
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_config_text(text: str, source: str = "<config>", base_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate the data assignments of an mmengine config text (see the module docstring).

    Args:
        text: the config source.
        source: its name, for messages.
        base_dir: folder ``_base_`` paths are relative to (``None``: ``_base_`` is ignored).

    Returns:
        Top-level name -> value; values that could not be evaluated are :class:`Unresolved`.
    """
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as exc:
        raise ValueError(f"{source}: not a Python config file ({exc})") from exc
    names: dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.With) and "read_base" in ast.dump(stmt):
            raise ValueError(
                f"{source}: new-style mmengine configs (with read_base()) are not supported; "
                "dump it with mmengine (Config.fromfile(...).dump('flat.py')) or pass architecture.json"
            )
        targets: list[ast.expr]
        if isinstance(stmt, ast.Assign):
            targets, value_node = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value_node = [stmt.target], stmt.value
        else:
            continue
        try:
            value: Any = _eval(value_node, names)
        except (_Unsupported, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as exc:
            value = Unresolved(str(exc) or type(exc).__name__)
        for target in targets:
            if isinstance(target, ast.Name):
                names[target.id] = value
    base = names.pop("_base_", None)
    if base is None or base_dir is None:
        return names
    merged: dict[str, Any] = {}
    for rel in [base] if isinstance(base, str) else list(base) if isinstance(base, (list, tuple)) else []:
        path = (base_dir / rel).resolve()
        if not path.is_file():
            logger.warning("%s: _base_ file %s not found; its settings are not applied", source, path)
            continue
        merged = _merge(merged, read_mmengine_config(path))
    return _merge(merged, names)


def read_mmengine_config(path: str | Path) -> dict[str, Any]:
    """Read an mmengine ``config.py`` safely (without executing it), following ``_base_`` files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config not found: {path}")
    return parse_config_text(path.read_text(encoding="utf-8"), source=str(path), base_dir=path.parent)


# ---------------------------------------------------------------------------- to PoseModelConfig
def _get(cfg: Mapping[str, Any], dotted: str, default: Any = ...) -> Any:
    """``cfg['a']['b']`` for ``'a.b'``; ``default`` when absent; ``ValueError`` when required or unresolved."""
    node: Any = cfg
    for part in dotted.split("."):
        if isinstance(node, Unresolved):
            raise ValueError(f"config field {dotted!r} could not be read safely ({node.reason})")
        if not isinstance(node, Mapping) or part not in node:
            if default is ...:
                raise ValueError(f"config field {dotted!r} is missing")
            return default
        node = node[part]
    if isinstance(node, Unresolved):
        raise ValueError(f"config field {dotted!r} could not be read safely ({node.reason})")
    return node


def _stage(extra: Mapping[str, Any], name: str) -> StageConfig:
    s = _get(extra, name)
    return StageConfig(
        num_modules=int(_get(s, "num_modules")),
        num_branches=int(_get(s, "num_branches")),
        block=str(_get(s, "block")),
        num_blocks=tuple(int(b) for b in _get(s, "num_blocks")),
        num_channels=tuple(int(c) for c in _get(s, "num_channels")),
    )


def _codec(codec: Mapping[str, Any]) -> CodecConfig:
    ctype = str(_get(codec, "type"))
    if ctype == "UDPHeatmap" and _get(codec, "heatmap_type", "gaussian") != "gaussian":
        raise ValueError("UDPHeatmap with heatmap_type='combined' is not supported natively; use the mmpose backend")
    if ctype not in ("MSRAHeatmap", "UDPHeatmap"):
        raise ValueError(f"codec type {ctype!r} is not supported natively; use the mmpose backend")
    d = CodecConfig()
    return CodecConfig(
        type=ctype,
        input_size=tuple(int(v) for v in _get(codec, "input_size")),
        heatmap_size=tuple(int(v) for v in _get(codec, "heatmap_size")),
        sigma=float(_get(codec, "sigma", d.sigma)),
        unbiased=bool(_get(codec, "unbiased", d.unbiased)) if ctype == "MSRAHeatmap" else False,
        blur_kernel_size=int(_get(codec, "blur_kernel_size", d.blur_kernel_size)),
    )


def _test_pipeline(cfg: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pipeline ``inference_topdown`` uses: ``test_dataloader.dataset.pipeline`` (fallbacks: val, *_pipeline)."""
    for dotted in (
        "test_dataloader.dataset.pipeline",
        "val_dataloader.dataset.pipeline",
        "test_pipeline",
        "val_pipeline",
    ):
        try:
            pipeline = _get(cfg, dotted, None)
        except ValueError:
            continue
        if isinstance(pipeline, (list, tuple)):
            return [t for t in pipeline if isinstance(t, Mapping)]
    return []


def _dataset_type(cfg: Mapping[str, Any]) -> str | None:
    for dotted in ("test_dataloader.dataset.type", "val_dataloader.dataset.type", "dataset_type"):
        try:
            value = _get(cfg, dotted, None)
        except ValueError:
            continue
        if isinstance(value, str):
            return value
    return None


def keypoint_format_from_names(names: list[str] | tuple[str, ...]) -> str | None:
    """``coco17`` / ``posetrack21`` when ``names`` equal one of the conventions, else ``None``."""
    for fmt, conv_names in CONVENTIONS.items():
        if tuple(names) == conv_names:
            return fmt
    return None


def keypoint_format_from_dataset(dataset: str | None) -> str | None:
    """Guess the convention from a dataset name / type (``CocoDataset``, ``posetrack18``, ...)."""
    if not dataset:
        return None
    low = dataset.lower()
    if "posetrack" in low:
        return "posetrack21"
    if "coco" in low and "wholebody" not in low:
        return "coco17"
    return None


def pose_config_from_mmpose(cfg: Mapping[str, Any], name: str = "mmpose") -> PoseModelConfig:
    """Build a :class:`PoseModelConfig` from a parsed mmpose top-down heatmap config.

    Args:
        cfg: the dict :func:`read_mmengine_config` returns.
        name: a label for the variant.

    Raises:
        ValueError: a required field is missing / unresolved, or the model is not an HRNet + HeatmapHead.
    """
    model = _get(cfg, "model")
    mtype = _get(model, "type", "TopdownPoseEstimator")
    if mtype != "TopdownPoseEstimator":
        raise ValueError(f"model.type {mtype!r} is not a top-down estimator; use the mmpose backend")
    btype = _get(model, "backbone.type")
    if btype != "HRNet":
        raise ValueError(
            f"model.backbone.type {btype!r} is not supported natively (HRNet only); use the mmpose backend"
        )
    htype = _get(model, "head.type")
    if htype != "HeatmapHead":
        raise ValueError(f"model.head.type {htype!r} is not supported natively (HeatmapHead only)")
    extra = _get(model, "backbone.extra")
    norm_type = _get(model, "backbone.norm_cfg.type", "BN")
    if norm_type not in ("BN", "SyncBN"):
        raise ValueError(f"model.backbone.norm_cfg.type {norm_type!r} is not supported (BN only)")
    stage4 = _get(extra, "stage4")
    backbone = HRNetConfig(
        stages=tuple(_stage(extra, f"stage{i}") for i in range(1, 5)),
        in_channels=int(_get(model, "backbone.in_channels", 3)),
        upsample_mode=str(_get(extra, "upsample.mode", "nearest")),
        multiscale_output=bool(_get(stage4, "multiscale_output", False)),
    )
    head_cfg = _get(model, "head")
    deconv = _get(head_cfg, "deconv_out_channels", (256, 256, 256)) or ()
    final_layer = _get(head_cfg, "final_layer", {"kernel_size": 1})
    if final_layer is None:
        raise ValueError("model.head.final_layer=None (no final conv) is not supported")
    head = HeadConfig(
        in_channels=int(_get(head_cfg, "in_channels")),
        out_channels=int(_get(head_cfg, "out_channels")),
        deconv_out_channels=tuple(int(c) for c in deconv),
        deconv_kernel_sizes=tuple(int(k) for k in (_get(head_cfg, "deconv_kernel_sizes", (4, 4, 4)) if deconv else ())),
        conv_out_channels=tuple(int(c) for c in (_get(head_cfg, "conv_out_channels", None) or ())),
        conv_kernel_sizes=tuple(int(k) for k in (_get(head_cfg, "conv_kernel_sizes", None) or ())),
        final_kernel_size=int(_get(final_layer, "kernel_size", 1)),
        final_padding=int(_get(final_layer, "padding", 0)),
    )
    codec = _codec(_get(head_cfg, "decoder"))
    pre = _get(model, "data_preprocessor", {})
    test_cfg = _get(model, "test_cfg", {}) or {}
    d = TopdownConfig()
    input_size, padding, use_udp = codec.input_size, d.bbox_padding, False
    for t in _test_pipeline(cfg):
        if t.get("type") == "GetBBoxCenterScale":
            padding = float(t.get("padding", d.bbox_padding))
        elif t.get("type") == "TopdownAffine":
            input_size = tuple(int(v) for v in _get(t, "input_size"))
            use_udp = bool(t.get("use_udp", False))
    swap = bool(_get(pre, "bgr_to_rgb", False)) or bool(_get(pre, "rgb_to_bgr", False))
    pipeline = TopdownConfig(
        input_size=input_size,
        bbox_padding=padding,
        use_udp=use_udp,
        mean=tuple(float(v) for v in _get(pre, "mean", d.mean)),
        std=tuple(float(v) for v in _get(pre, "std", d.std)),
        network_rgb=swap,  # mmpose feeds cv2's BGR images: a channel swap means the network sees RGB
        flip_test=bool(test_cfg.get("flip_test", False)),
        flip_mode=str(test_cfg.get("flip_mode", "heatmap")),
        shift_heatmap=bool(test_cfg.get("shift_heatmap", False)),
        flip_indices=_flip_indices(cfg, head.out_channels),
    )
    fmt = keypoint_format_from_dataset(_dataset_type(cfg)) or "coco17"
    return PoseModelConfig(name=name, backbone=backbone, head=head, codec=codec, pipeline=pipeline, keypoint_format=fmt)


def _flip_indices(cfg: Mapping[str, Any], num_keypoints: int) -> tuple[int, ...]:
    """Flip indices of the dataset metainfo in the config when given there, else the 17-joint default."""
    for dotted in ("test_dataloader.dataset.metainfo.flip_indices", "flip_indices"):
        try:
            value = _get(cfg, dotted, None)
        except ValueError:
            continue
        if isinstance(value, (list, tuple)) and len(value) == num_keypoints:
            return tuple(int(v) for v in value)
    if num_keypoints != 17:
        raise ValueError(f"no flip_indices for {num_keypoints} keypoints in the config")
    return TopdownConfig().flip_indices


def pose_config_from_architecture_json(path: str | Path) -> PoseModelConfig:
    """Build a :class:`PoseModelConfig` from an ``architecture.json`` summary (fixture layout)."""
    path = Path(path)
    try:
        arch = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable architecture.json ({exc})") from exc
    if arch.get("backbone", {}).get("type", "HRNet") != "HRNet":
        raise ValueError(f"{path}: backbone type {arch['backbone'].get('type')!r} is not supported natively")
    stages = _get(arch, "backbone.stages")
    backbone = HRNetConfig(
        stages=tuple(_stage(stages, f"stage{i}") for i in range(1, 5)),
        in_channels=int(arch["backbone"].get("in_channels", 3)),
        multiscale_output=bool(arch["backbone"].get("multiscale_output_last_stage", False)),
    )
    head_json = _get(arch, "head")
    head = HeadConfig(
        in_channels=int(_get(head_json, "in_channels")),
        out_channels=int(_get(head_json, "out_channels")),
        deconv_out_channels=tuple(head_json.get("deconv_out_channels") or ()),
        deconv_kernel_sizes=tuple(head_json.get("deconv_kernel_sizes") or ())
        if head_json.get("deconv_out_channels")
        else (),
        conv_out_channels=tuple(head_json.get("conv_out_channels") or ()),
        conv_kernel_sizes=tuple(head_json.get("conv_kernel_sizes") or ()),
    )
    codec_json = dict(_get(arch, "codec"))
    for key, value in (arch.get("codec_defaults_in_effect") or {}).items():
        codec_json.setdefault(key, value)
    codec = _codec(codec_json)
    pre = arch.get("data_preprocessor", {})
    test_cfg = arch.get("test_cfg", {})
    d = TopdownConfig()
    pipeline = TopdownConfig(
        input_size=tuple(int(v) for v in arch.get("input_size_wh", codec.input_size)),
        bbox_padding=float(arch.get("bbox_padding", d.bbox_padding)),
        use_udp=bool(arch.get("topdown_affine_use_udp", False)),
        mean=tuple(float(v) for v in pre.get("mean", d.mean)),
        std=tuple(float(v) for v in pre.get("std", d.std)),
        network_rgb=bool(pre.get("bgr_to_rgb", False)) or bool(pre.get("rgb_to_bgr", False)),
        flip_test=bool(test_cfg.get("flip_test", False)),
        flip_mode=str(test_cfg.get("flip_mode", "heatmap")),
        shift_heatmap=bool(test_cfg.get("shift_heatmap", False)),
        flip_indices=tuple(int(v) for v in arch.get("flip_indices", d.flip_indices)),
    )
    names = arch.get("keypoint_names")
    fmt = (keypoint_format_from_names(names) if names else None) or "coco17"
    return PoseModelConfig(
        name=str(arch.get("bundled_config", path.parent.name)),
        backbone=backbone,
        head=head,
        codec=codec,
        pipeline=pipeline,
        keypoint_format=fmt,
    )


def mmpose_config_text(cfg: PoseModelConfig) -> str:
    """An mmengine config (Python source) describing ``cfg`` for inference.

    It holds ``model`` (HRNet + HeatmapHead + codec, data preprocessor, test_cfg), ``codec``,
    ``dataset_type`` and ``test_dataloader.dataset.pipeline``: enough for :func:`pose_config_from_mmpose`
    to rebuild ``cfg`` and for mmpose's ``init_model``. Flip indices are not written (the 17-joint
    conventions share one permutation; checkpoints carry it in ``meta['dataset_meta']``).
    """
    stages = {
        f"stage{i}": {
            "num_modules": s.num_modules,
            "num_branches": s.num_branches,
            "block": s.block,
            "num_blocks": tuple(s.num_blocks),
            "num_channels": tuple(s.num_channels),
        }
        for i, s in enumerate(cfg.backbone.stages, start=1)
    }
    stages["stage4"]["multiscale_output"] = cfg.backbone.multiscale_output
    extra = dict(stages, upsample={"mode": cfg.backbone.upsample_mode, "align_corners": None})
    codec: dict[str, Any] = {
        "type": cfg.codec.type,
        "input_size": tuple(cfg.codec.input_size),
        "heatmap_size": tuple(cfg.codec.heatmap_size),
        "sigma": cfg.codec.sigma,
        "blur_kernel_size": cfg.codec.blur_kernel_size,
    }
    if cfg.codec.type == "MSRAHeatmap":
        codec["unbiased"] = cfg.codec.unbiased
    head = cfg.head
    model = {
        "type": "TopdownPoseEstimator",
        "data_preprocessor": {
            "type": "PoseDataPreprocessor",
            "mean": list(cfg.pipeline.mean),
            "std": list(cfg.pipeline.std),
            "bgr_to_rgb": cfg.pipeline.network_rgb,
        },
        "backbone": {"type": "HRNet", "in_channels": cfg.backbone.in_channels, "extra": extra},
        "head": {
            "type": "HeatmapHead",
            "in_channels": head.in_channels,
            "out_channels": head.out_channels,
            "deconv_out_channels": tuple(head.deconv_out_channels) or None,
            "deconv_kernel_sizes": tuple(head.deconv_kernel_sizes) or None,
            "conv_out_channels": tuple(head.conv_out_channels) or None,
            "conv_kernel_sizes": tuple(head.conv_kernel_sizes) or None,
            "final_layer": {"kernel_size": head.final_kernel_size, "padding": head.final_padding},
            "loss": {"type": "KeypointMSELoss", "use_target_weight": True},
            "decoder": codec,
        },
        "test_cfg": {
            "flip_test": cfg.pipeline.flip_test,
            "flip_mode": cfg.pipeline.flip_mode,
            "shift_heatmap": cfg.pipeline.shift_heatmap,
        },
    }
    dataset_type = "PoseTrack18Dataset" if cfg.keypoint_format == "posetrack21" else "CocoDataset"
    pipeline = [
        {"type": "LoadImage"},
        {"type": "GetBBoxCenterScale", "padding": cfg.pipeline.bbox_padding},
        {"type": "TopdownAffine", "input_size": tuple(cfg.pipeline.input_size), "use_udp": cfg.pipeline.use_udp},
        {"type": "PackPoseInputs"},
    ]
    test_dataloader = {
        "batch_size": 32,
        "dataset": {
            "type": dataset_type,
            "test_mode": True,
            "pipeline": pipeline,
        },
    }
    lines = [
        f"# kprtrack pose variant {cfg.name!r} ({cfg.keypoint_format})",
        "default_scope = 'mmpose'",
        f"dataset_type = {dataset_type!r}",
        f"codec = {codec!r}",
        f"model = {model!r}",
        f"test_dataloader = {test_dataloader!r}",
        "val_dataloader = test_dataloader",
    ]
    return "\n".join(lines) + "\n"
