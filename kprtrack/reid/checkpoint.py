"""Read and write KPR checkpoints in the released format.

A released checkpoint (``torch.save`` of ``{'state_dict', 'epoch', 'rank1', 'mAP', 'config'}``)
has every key prefixed ``module.`` and stores the torchreid yacs ``CfgNode`` as a pickled object.
:func:`load_kpr_checkpoint` reads it with :func:`kprtrack.checkpoints.load_checkpoint` (restricted
unpickler: no yacs, no arbitrary code), derives the architecture from tensor shapes, the config
and optionally an ``architecture.json``, maps the reference key names onto ours with
:data:`KEY_MAP` and loads strictly, naming every missing, unexpected or mis-shaped key (in the
release's names). :func:`save_kpr_checkpoint` writes the same format, so the reference code and
this loader both read checkpoints trained here.
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import json
import math
import os
import pickle
import re
import types
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kprtrack.checkpoints import (
    CheckpointKeyError,
    ConfigNode,
    check_keys,
    extract_state_dict,
    load_checkpoint,
    with_extra,
)
from kprtrack.reid.config import PART_NAMES, KPRConfig, SwinConfig
from kprtrack.reid.model import KPR, build_kpr_model
from kprtrack.reid.prompts import PROMPT_GROUPINGS

_BACKBONE = "backbone_appearance_feature_extractor."

#: Release key prefix -> our key prefix, tried in order (first match wins). The release stores
#: the image patch embedding twice (``patch_embed`` and ``model.patch_embed`` are one module);
#: both map to ``image_encoder.patch_embed``. Everything not listed belongs to the head.
KEY_MAP: tuple[tuple[str, str], ...] = (
    (_BACKBONE + "parts_embed", "prompt_encoder.parts_embed"),
    (_BACKBONE + "sie_embed", "image_encoder.sie_embed"),
    (_BACKBONE + "patch_embed.", "image_encoder.patch_embed."),
    (_BACKBONE + "masks_patch_embed.", "prompt_encoder.masks_patch_embed."),
    (_BACKBONE + "model.", "image_encoder."),
    ("", "head."),
)
#: The duplicate alias the release writes for ``image_encoder.patch_embed``.
_ALIAS_PREFIX = _BACKBONE + "patch_embed."


def released_to_ours(key: str) -> str:
    """Our parameter name for a release key (without ``module.``)."""
    for src, dst in KEY_MAP:
        if key.startswith(src):
            return dst + key[len(src) :]
    raise AssertionError("unreachable: the last KEY_MAP rule matches every key")  # pragma: no cover


def ours_to_released(key: str) -> str:
    """The release key of one of our parameters (the ``model.patch_embed`` spelling for the patch embedding)."""
    for src, dst in KEY_MAP:
        if src == _ALIAS_PREFIX:
            continue
        if key.startswith(dst):
            return src + key[len(dst) :]
    raise ValueError(f"parameter {key!r} has no release name")


def released_state_dict(model: KPR) -> OrderedDict[str, torch.Tensor]:
    """The model's state dict under release names and in release order (no ``module.`` prefix).

    Order: ``[sie_embed], parts_embed, patch_embed.*, masks_patch_embed.*, model.*`` then the head,
    as the reference modules register them.
    """
    own = model.state_dict()
    groups: dict[str, list[tuple[str, torch.Tensor]]] = {"first": [], "alias": [], "masks": [], "model": [], "head": []}
    for key, value in own.items():
        name = ours_to_released(key)
        if name in (_BACKBONE + "sie_embed", _BACKBONE + "parts_embed"):
            groups["first"].append((name, value))
        elif name.startswith(_BACKBONE + "masks_patch_embed."):
            groups["masks"].append((name, value))
        elif name.startswith(_BACKBONE + "model."):
            if key.startswith("image_encoder.patch_embed."):
                groups["alias"].append((_ALIAS_PREFIX + key[len("image_encoder.patch_embed.") :], value))
            groups["model"].append((name, value))
        else:
            groups["head"].append((name, value))
    groups["first"].sort(key=lambda kv: 0 if kv[0].endswith("sie_embed") else 1)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for part in ("first", "alias", "masks", "model", "head"):
        out.update(groups[part])
    return out


def _check_released(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], source: str) -> None:
    check_keys(expected, given, source, "the KPR model")


def load_released_state_dict(model: KPR, state_dict: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Load a release-named state dict (``module.`` already stripped) into ``model``, strictly.

    Raises:
        CheckpointKeyError: naming every missing, unexpected and mis-shaped release key.
    """
    _check_released(released_state_dict(model), state_dict, source)
    ours: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith(_ALIAS_PREFIX):
            continue  # same tensor as model.patch_embed.*, which the reference loads last
        ours[released_to_ours(key)] = value
    model.load_state_dict(ours, strict=True)


# --------------------------------------------------------------------------- architecture


def _get(cfg: Any, path: str, default: Any = None) -> Any:
    node = cfg
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _int(x: Any) -> int:
    return int(x.item() if hasattr(x, "item") else x)


def _tensor(sd: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in sd:
        raise CheckpointKeyError(f"checkpoint does not match the KPR model: missing keys: {key}")
    return sd[key]


def _stage_depths(sd: Mapping[str, torch.Tensor]) -> list[int]:
    depth: dict[int, int] = {}
    pat = re.compile(re.escape(_BACKBONE) + r"model\.stages\.(\d+)\.blocks\.(\d+)\.")
    for key in sd:
        m = pat.match(key)
        if m:
            s, b = int(m.group(1)), int(m.group(2))
            depth[s] = max(depth.get(s, 0), b + 1)
    return [depth[s] for s in sorted(depth)]


def _swin_from_shapes(sd: Mapping[str, torch.Tensor], base: SwinConfig) -> SwinConfig:
    proj = _tensor(sd, _BACKBONE + "model.patch_embed.projection.weight")
    embed = int(proj.shape[0])
    depths = _stage_depths(sd)
    if not depths:
        raise CheckpointKeyError(f"checkpoint does not match the KPR model: missing keys: {_BACKBONE}model.stages.*")
    heads, window = [], base.window_size
    for s in range(len(depths)):
        table = _tensor(sd, f"{_BACKBONE}model.stages.{s}.blocks.0.attn.w_msa.relative_position_bias_table")
        heads.append(int(table.shape[1]))
        window = int(round((math.sqrt(table.shape[0]) + 1) / 2))
    fc1 = _tensor(sd, f"{_BACKBONE}model.stages.0.blocks.0.ffn.layers.0.0.weight")
    qkv_bias = f"{_BACKBONE}model.stages.0.blocks.0.attn.w_msa.qkv.bias" in sd
    semantic = f"{_BACKBONE}model.semantic_embed_w.0.weight" in sd
    weight = base.semantic_weight
    if semantic and weight < 0:
        weight = SwinConfig().semantic_weight
    if not semantic:
        weight = -1.0
    return SwinConfig(
        embed_dim=embed,
        depths=tuple(depths),
        num_heads=tuple(heads),
        window_size=window,
        patch_size=int(proj.shape[-1]),
        mlp_ratio=fc1.shape[0] / embed,
        qkv_bias=qkv_bias,
        drop_path_rate=base.drop_path_rate,
        semantic_weight=weight,
    )


_UNSUPPORTED: tuple[tuple[str, Any], ...] = (
    ("model.kpr.enable_fpn", False),
    ("model.kpr.learnable_attention_enabled", True),
    ("model.kpr.normalization", "identity"),
    ("model.kpr.test_use_target_segmentation", "none"),
    ("model.kpr.use_prompt_visibility_score", False),
    ("model.kpr.shared_parts_id_classifier", False),
    ("model.kpr.msf_spatial_scale", -1),
    ("model.kpr.keypoints.prompt_masks", "keypoints_gaussian"),
    ("model.kpr.keypoints.vis_continous", False),
    ("model.promptable_trans.pose_encoding_strategy", "embed_heatmaps_patches"),
    ("model.promptable_trans.pose_encoding_all_layers", False),
    ("model.promptable_trans.disable_inference_prompting", False),
    ("model.promptable_trans.use_abs_pos_embed", False),
)


def _check_supported(cfg: Any) -> None:
    for path, value in _UNSUPPORTED:
        got = _get(cfg, path, value)
        if got != value:
            raise ValueError(f"checkpoint config {path} = {got!r} is not supported (kprtrack implements {value!r})")
    if _get(cfg, "model.kpr.dim_reduce", "after_pooling") != "after_pooling":
        raise ValueError(
            f"checkpoint config model.kpr.dim_reduce = {_get(cfg, 'model.kpr.dim_reduce')!r} is not supported "
            "(kprtrack implements 'after_pooling')"
        )


def _grouping_from_channels(channels: int, negative: bool, background: bool) -> str:
    groups = channels - int(negative) - int(background)
    found = [name for name, g in PROMPT_GROUPINGS.items() if len(g) == groups]
    if len(found) != 1:
        raise ValueError(f"cannot infer the prompt grouping from {channels} prompt channels; pass architecture.json")
    return found[0]


def _setting(cfg: Any, arch: Mapping[str, Any], arch_key: str, cfg_path: str, default: Any = None) -> Any:
    """``arch[arch_key]`` if the ``architecture.json`` has it, else the config's ``cfg_path``, else ``default``."""
    return arch.get(arch_key, _get(cfg, cfg_path, default))


def _swin_from_architecture(a: Mapping[str, Any], swin: SwinConfig) -> SwinConfig:
    """``swin`` with the values an ``architecture.json`` ``swin`` section states."""
    return SwinConfig(
        embed_dim=int(a.get("embed_dims", swin.embed_dim)),
        depths=tuple(a.get("depths", swin.depths)),
        num_heads=tuple(a.get("num_heads", swin.num_heads)),
        window_size=int(a.get("window_size", swin.window_size)),
        patch_size=int(a.get("patch_size", swin.patch_size)),
        mlp_ratio=float(a.get("mlp_ratio", swin.mlp_ratio)),
        qkv_bias=bool(a.get("qkv_bias", swin.qkv_bias)),
        drop_path_rate=swin.drop_path_rate,
        semantic_weight=swin.semantic_weight,
    )


def _swin_config(
    state_dict: Mapping[str, torch.Tensor], cfg: Any, arch: Mapping[str, Any], defaults: SwinConfig
) -> SwinConfig:
    """The image encoder: tensor shapes, the semantic weight and drop path of the config, ``arch`` overrides."""
    sw = float(_setting(cfg, arch, "semantic_weight", "model.solider.semantic_weight", defaults.semantic_weight))
    drop_path = float(_get(cfg, "model.promptable_trans.drop_path", defaults.drop_path_rate))
    swin = _swin_from_shapes(state_dict, SwinConfig(semantic_weight=sw, drop_path_rate=drop_path))
    if "swin" in arch:
        swin = _swin_from_architecture(arch["swin"], swin)
    if not arch.get("semantic_layers_present", swin.semantic) and swin.semantic:
        swin = dataclasses.replace(swin, semantic_weight=-1.0)
    return swin


def _part_names(num_parts: int, cfg: Any, arch: Mapping[str, Any]) -> tuple[str, ...]:
    """The stated part names if there are ``num_parts`` of them, else the release's names for K = 8 / 5."""
    names = _setting(cfg, arch, "parts_names", "model.kpr.masks.parts_names")
    if not names or len(names) != num_parts:
        fallback = {8: PART_NAMES["eight"], 5: PART_NAMES["five_v"]}
        names = fallback.get(num_parts, [f"part_{i}" for i in range(num_parts)])
    return tuple(names)


def _prompt_grouping(
    state_dict: Mapping[str, torch.Tensor], cfg: Any, arch: Mapping[str, Any], negative: bool, background: bool
) -> str:
    """The stated prompt grouping, or the one whose size matches the prompt embedding's input channels."""
    grouping = _setting(cfg, arch, "prompt_grouping_name", "model.kpr.keypoints.prompt_preprocess")
    if grouping in PROMPT_GROUPINGS:
        return grouping
    masks_w = _tensor(state_dict, _BACKBONE + "masks_patch_embed.projection.weight")
    return _grouping_from_channels(int(masks_w.shape[1]) + int(not background), negative, background)


def kpr_config_from_checkpoint(
    state_dict: Mapping[str, torch.Tensor],
    config: Mapping[str, Any] | None = None,
    architecture: Mapping[str, Any] | None = None,
) -> KPRConfig:
    """Derive the architecture of a released checkpoint.

    Tensor shapes decide everything they determine (Swin dims, K, prompt channels, D, MSF,
    identity classes, SIE cameras, semantic layers present); the pickled torchreid config gives
    the rest (semantic weight value, input size, normalisation, part names, prompt grouping,
    pooling, test embeddings, visibility mode); ``architecture`` (the fixture's
    ``architecture.json`` format) overrides both where it has a value.

    Args:
        state_dict: release-named tensors (``module.`` stripped).
        config: the checkpoint's ``config`` entry (a :class:`~kprtrack.checkpoints.ConfigNode`).
        architecture: optional ``architecture.json`` content.

    Raises:
        ValueError: a needed tensor is missing or the config asks for an unsupported feature.
    """
    cfg = config or {}
    arch = dict(architecture or {})
    _check_supported(cfg)
    defaults = KPRConfig()

    def setting(arch_key: str, cfg_path: str, default: Any) -> Any:
        return _setting(cfg, arch, arch_key, cfg_path, default)

    swin = _swin_config(state_dict, cfg, arch, defaults.swin)
    num_parts = int(_tensor(state_dict, "pixel_classifier.classifier.weight").shape[0]) - 1
    negative = bool(_get(cfg, "model.kpr.keypoints.use_negative_keypoints", True))
    background = not bool(_get(cfg, "model.promptable_trans.no_background_token", False))
    sie = state_dict.get(_BACKBONE + "sie_embed")
    return KPRConfig(
        swin=swin,
        parts_names=_part_names(num_parts, cfg, arch),
        prompt_grouping=_prompt_grouping(state_dict, cfg, arch, negative, background),
        use_negative_keypoints=negative,
        background_token=background,
        masks_prompting=bool(_get(cfg, "model.promptable_trans.masks_prompting", True)),
        image_size=(
            _int(setting("H", "data.height", defaults.image_size[0])),
            _int(setting("W", "data.width", defaults.image_size[1])),
        ),
        mean=tuple(setting("mean", "data.norm_mean", defaults.mean)),
        std=tuple(setting("std", "data.norm_std", defaults.std)),
        dim_reduce_output=int(_tensor(state_dict, "parts_after_pooling_dim_reduce.layers.0.weight").shape[0]),
        enable_msf="msf.dim_reduce.layers.0.weight" in state_dict,
        pooling=str(setting("pooling", "model.kpr.pooling", defaults.pooling)),
        num_classes=int(_tensor(state_dict, "global_identity_classifier.classifier.weight").shape[0]),
        num_cameras=int(sie.shape[0]) if sie is not None else 0,
        sie_coe=float(_get(cfg, "model.transreid.sie_coe", defaults.sie_coe)),
        training_binary_visibility=bool(
            _get(cfg, "model.kpr.training_binary_visibility_score", defaults.training_binary_visibility)
        ),
        testing_binary_visibility=bool(
            setting(
                "testing_binary_visibility_score",
                "model.kpr.testing_binary_visibility_score",
                defaults.testing_binary_visibility,
            )
        ),
        test_embeddings=tuple(setting("test_embeddings", "model.kpr.test_embeddings", defaults.test_embeddings)),
        vis_thresh=float(setting("vis_thresh", "model.kpr.keypoints.vis_thresh", defaults.vis_thresh)),
    )


@dataclass
class LoadedCheckpoint:
    """What :func:`load_kpr_checkpoint` returns besides the model.

    Attributes:
        config: the architecture the model was built with.
        meta: the checkpoint's other top-level entries (``epoch``, ``rank1``, ``mAP``, ...).
        torchreid_config: the pickled torchreid config, as nested dicts (``None`` if absent).
    """

    config: KPRConfig
    meta: dict[str, Any]
    torchreid_config: ConfigNode | None


def read_architecture(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an ``architecture.json`` (the parity fixture's format)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable architecture.json ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def load_kpr_checkpoint(
    path: str | os.PathLike[str],
    architecture: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[KPR, LoadedCheckpoint]:
    """Build the model a released KPR checkpoint describes and load its weights strictly.

    Args:
        path: ``.pth`` / ``.pth.tar`` in the released format (or a bare state dict).
        architecture: optional ``architecture.json`` path or its content (overrides the config).
        map_location: device to put the model on.

    Returns:
        The model in eval mode and a :class:`LoadedCheckpoint`.

    Raises:
        FileNotFoundError: the file does not exist.
        kprtrack.checkpoints.UnsafeCheckpointError: the pickle references a disallowed global.
        kprtrack.checkpoints.CheckpointKeyError: missing / unexpected / mis-shaped keys (named).
        ValueError: unreadable file or unsupported configuration.
    """
    ckpt = load_checkpoint(path)
    sd = extract_state_dict(ckpt)
    cfg_node = ckpt.get("config") if isinstance(ckpt, Mapping) else None
    if cfg_node is not None and not isinstance(cfg_node, Mapping):
        raise ValueError(f"{path}: 'config' entry is a {type(cfg_node).__name__}, expected a config mapping")
    arch = read_architecture(architecture) if isinstance(architecture, (str, os.PathLike)) else architecture
    config = kpr_config_from_checkpoint(sd, cfg_node, arch)
    with torch.device("meta"):
        model = build_kpr_model(config)
    model = model.to_empty(device=map_location)  # every tensor is then overwritten by the strict load
    load_released_state_dict(model, sd, str(path))
    model.eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "config")} if isinstance(ckpt, Mapping) else {}
    return model, LoadedCheckpoint(config=config, meta=meta, torchreid_config=cfg_node)


# --------------------------------------------------------------------------- writing


class _YacsCfgNode(ConfigNode):
    """Pickled under the global name ``yacs.config.CfgNode`` (see :class:`_ReleasePickler`)."""


_YACS_GLOBAL = b"cyacs.config\nCfgNode\n"  # GLOBAL opcode 'c' + module + name


class _ReleasePickler(pickle._Pickler):  # the pure-Python pickler lets us write one global by name
    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is _YacsCfgNode:
            self.write(_YACS_GLOBAL)
            self.memoize(obj)
            return
        super().save_global(obj, name)

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is _YacsCfgNode:
            state = {
                "__immutable__": False,
                "__deprecated_keys__": set(),
                "__renamed_keys__": {},
                "__new_allowed__": False,
            }
            return (copyreg.__newobj__, (_YacsCfgNode,), state, None, iter(dict.items(obj)))
        return NotImplemented


def _release_pickle_module() -> types.ModuleType:
    mod = types.ModuleType("kprtrack_release_pickle")
    mod.Pickler = _ReleasePickler  # type: ignore[attr-defined]
    mod.Unpickler = pickle.Unpickler  # type: ignore[attr-defined]
    mod.__name__ = "pickle"
    return mod


def _node(data: Mapping[str, Any]) -> _YacsCfgNode:
    node = _YacsCfgNode()
    for key, value in data.items():
        dict.__setitem__(node, key, _node(value) if isinstance(value, Mapping) else value)
    return node


def torchreid_config(config: KPRConfig) -> dict[str, Any]:
    """The torchreid config entries describing ``config`` (the keys the reference and our loader read)."""
    h, w = config.image_size
    feat = sum(config.swin.num_features) if config.enable_msf else config.swin.num_features[-1]
    return {
        "model": {
            "name": "kpr",
            "kpr": {
                # the reference knows this one Swin builder; other dims are read back from tensor shapes
                "backbone": "solider_swin_base_patch4_window7_224",
                "spatial_feature_shape": [h // config.swin.patch_size, w // config.swin.patch_size, feat],
                "pooling": config.pooling,
                "normalization": "identity",
                "dim_reduce": "after_pooling",
                "dim_reduce_output": config.dim_reduce_output,
                "learnable_attention_enabled": True,
                "test_embeddings": list(config.test_embeddings),
                "test_use_target_segmentation": "none",
                "training_binary_visibility_score": config.training_binary_visibility,
                "testing_binary_visibility_score": config.testing_binary_visibility,
                "use_prompt_visibility_score": False,
                "enable_fpn": False,
                "enable_msf": config.enable_msf,
                "msf_spatial_scale": -1,
                "shared_parts_id_classifier": False,
                "keypoints": {
                    "enabled": True,
                    "vis_thresh": config.vis_thresh,
                    "vis_continous": False,
                    "prompt_masks": "keypoints_gaussian",
                    "prompt_preprocess": config.prompt_grouping,
                    "use_negative_keypoints": config.use_negative_keypoints,
                },
                "masks": {
                    "parts_num": config.num_parts,
                    "parts_names": list(config.parts_names),
                    "prompt_parts_num": len(PROMPT_GROUPINGS[config.prompt_grouping]),
                    "prompt_parts_names": list(PROMPT_GROUPINGS[config.prompt_grouping]),
                },
            },
            "promptable_trans": {
                "masks_prompting": config.masks_prompting,
                "disable_inference_prompting": False,
                "no_background_token": not config.background_token,
                "pose_encoding_strategy": "embed_heatmaps_patches",
                "pose_encoding_all_layers": False,
                "use_abs_pos_embed": False,
                "drop_path": config.swin.drop_path_rate,
            },
            "transreid": {
                "cam_num": config.num_cameras,
                "sie_camera": config.num_cameras > 0,
                "sie_coe": config.sie_coe,
            },
            "solider": {"semantic_weight": config.swin.semantic_weight},
        },
        "data": {"height": h, "width": w, "norm_mean": list(config.mean), "norm_std": list(config.std)},
    }


def save_kpr_checkpoint(
    model: KPR,
    path: str | os.PathLike[str],
    epoch: int = 0,
    rank1: float = 0.0,
    mAP: float = 0.0,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` in the released format (``module.``-prefixed release keys, yacs-style config).

    The config is pickled as a ``yacs.config.CfgNode`` object (protocol 2) without needing yacs,
    so the reference implementation loads the file too, and :func:`load_kpr_checkpoint` reads it
    back without yacs.

    Args:
        model: the model to save.
        path: destination file.
        epoch, rank1, mAP: the release's bookkeeping entries.
        extra: more top-level entries (plain Python / tensors only).

    Returns:
        The written path.
    """
    sd = OrderedDict(("module." + k, v.detach().cpu().clone()) for k, v in released_state_dict(model).items())
    payload: dict[str, Any] = {
        "state_dict": sd,
        "epoch": int(epoch),
        "rank1": float(rank1),
        "mAP": float(mAP),
        "config": _node(torchreid_config(model.config)),
    }
    payload = with_extra(payload, extra, "save_kpr_checkpoint")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(payload, buf, pickle_module=_release_pickle_module(), pickle_protocol=2)
    path.write_bytes(buf.getvalue())
    return path
