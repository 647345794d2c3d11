"""Load and save mmpose top-down checkpoints (``{'meta': {...}, 'state_dict': ...}``).

Reading goes through :func:`kprtrack.checkpoints.load_checkpoint` (restricted unpickler: mmpose
files hold numpy arrays in ``meta`` and use torch's legacy format). The architecture comes from, in
this order: the ``config`` argument (a :class:`PoseModelConfig`, a registered variant name, an
mmpose ``config.py`` or an ``architecture.json``), the config text mmengine stores in
``meta['cfg']``, or the tensor shapes. The keypoint convention comes from the ``keypoint_format``
argument, else ``meta['dataset_meta']`` (keypoint names / dataset name), else the config's dataset.
Loading is strict: a missing, unexpected or mis-shaped key raises
:class:`kprtrack.checkpoints.CheckpointKeyError` naming it.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from kprtrack.checkpoints import extract_state_dict, load_checkpoint, load_state_dict_strict, with_extra
from kprtrack.keypoints import CONVENTIONS, FLIP_INDEX
from kprtrack.pose.config import PoseModelConfig
from kprtrack.pose.infer import infer_pose_config
from kprtrack.pose.mmconfig import (
    keypoint_format_from_dataset,
    keypoint_format_from_names,
    mmpose_config_text,
    parse_config_text,
    pose_config_from_architecture_json,
    pose_config_from_mmpose,
    read_mmengine_config,
)
from kprtrack.pose.model import TopdownHeatmapNet
from kprtrack.pose.variants import VARIANTS, get_variant

logger = logging.getLogger(__name__)

ConfigSource = PoseModelConfig | Mapping[str, Any] | str | os.PathLike[str] | None


def map_mmpose_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename mmpose 0.x keys (``keypoint_head.*``) to the 1.x layout (``head.*``); 1.x keys pass through.

    In 0.x, intermediate head convs lived in ``final_layer.<i>`` with the last conv as the highest
    index; 1.x calls them ``conv_layers.<i>`` and the last one ``final_layer``.
    """
    out: dict[str, torch.Tensor] = {}
    old_final = sorted(
        {int(k.split(".")[2]) for k in state_dict if k.startswith("keypoint_head.final_layer.") and k.count(".") == 3}
    )
    last = old_final[-1] if old_final else None
    for key, value in state_dict.items():
        if not key.startswith("keypoint_head."):
            out[key] = value
            continue
        rest = key[len("keypoint_head.") :]
        parts = rest.split(".")
        if parts[0] == "final_layer" and len(parts) == 3:
            rest = f"final_layer.{parts[2]}" if int(parts[1]) == last else f"conv_layers.{parts[1]}.{parts[2]}"
        out["head." + rest] = value
    return out


def keypoint_format_from_meta(meta: Mapping[str, Any] | None) -> str | None:
    """The convention ``meta['dataset_meta']`` declares, ``None`` when the checkpoint has no dataset meta.

    Raises:
        ValueError: dataset meta is present but names a keypoint set kprtrack does not know.
    """
    dm = (meta or {}).get("dataset_meta") if isinstance(meta, Mapping) else None
    if not isinstance(dm, Mapping):
        return None
    id2name = dm.get("keypoint_id2name")
    if isinstance(id2name, Mapping) and id2name:
        names = [str(id2name[i]) for i in sorted(id2name, key=int)]
        fmt = keypoint_format_from_names(names)
        if fmt is None:
            raise ValueError(
                f"checkpoint keypoints {names} (dataset {dm.get('dataset_name')!r}) match none of the "
                f"conventions {sorted(CONVENTIONS)}; pass keypoint_format= to declare one"
            )
        return fmt
    return keypoint_format_from_dataset(str(dm.get("dataset_name", ""))) or None


def _flip_indices_from_meta(meta: Mapping[str, Any] | None) -> tuple[int, ...] | None:
    dm = (meta or {}).get("dataset_meta") if isinstance(meta, Mapping) else None
    if isinstance(dm, Mapping) and isinstance(dm.get("flip_indices"), (list, tuple)):
        return tuple(int(i) for i in dm["flip_indices"])
    return None


def config_from_source(config: ConfigSource) -> PoseModelConfig | None:
    """Turn a ``config`` argument into a :class:`PoseModelConfig` (``None`` stays ``None``)."""
    if config is None or isinstance(config, PoseModelConfig):
        return config
    if isinstance(config, Mapping):
        return pose_config_from_mmpose(config)
    text = os.fspath(config)
    if text in VARIANTS and not Path(text).exists():
        return get_variant(text)
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"pose config not found (neither a file nor a variant of {sorted(VARIANTS)}): {text}")
    if path.suffix == ".json":
        return pose_config_from_architecture_json(path)
    return replace(pose_config_from_mmpose(read_mmengine_config(path)), name=path.stem)


def _config_from_meta(
    meta: Mapping[str, Any] | None, state_dict: Mapping[str, torch.Tensor], source: str
) -> PoseModelConfig:
    meta = meta if isinstance(meta, Mapping) else {}
    cfg_text = meta.get("cfg")
    name = str(meta.get("kprtrack_variant") or meta.get("experiment_name") or Path(source).stem)
    reason = "the checkpoint stores no config"
    if isinstance(cfg_text, (str, Mapping)):
        try:
            parsed = parse_config_text(cfg_text, source=f"{source}:meta.cfg") if isinstance(cfg_text, str) else cfg_text
            return pose_config_from_mmpose(parsed, name=name)
        except ValueError as exc:
            reason = f"its stored config is not usable ({exc})"
    logger.info("%s: %s; inferring the architecture from tensor shapes", source, reason)
    return infer_pose_config(state_dict, name=name)


def load_pose_model(
    checkpoint: str | os.PathLike[str],
    config: ConfigSource = None,
    keypoint_format: str | None = None,
) -> tuple[TopdownHeatmapNet, PoseModelConfig]:
    """Build the network for an mmpose checkpoint and load its weights strictly.

    Args:
        checkpoint: ``.pth`` file (``{'meta', 'state_dict'}``, a bare state dict, or ``{'model': ...}``).
        config: architecture source (see the module docstring); ``None`` uses the checkpoint.
        keypoint_format: declare the convention explicitly (``coco17`` / ``posetrack21``).

    Returns:
        The network in eval mode on the CPU and its resolved config.

    Raises:
        CheckpointKeyError: keys or shapes do not match the architecture (all of them named).
        ValueError: unreadable file or config, unknown keypoint convention.
    """
    source = os.fspath(checkpoint)
    ckpt = load_checkpoint(source)
    meta = ckpt.get("meta") if isinstance(ckpt, Mapping) and isinstance(ckpt.get("meta"), Mapping) else None
    state_dict = map_mmpose_keys(extract_state_dict(ckpt, keys=("state_dict", "model")))
    cfg = config_from_source(config) or _config_from_meta(meta, state_dict, source)
    fmt = keypoint_format or keypoint_format_from_meta(meta)
    if fmt is not None:
        cfg = cfg.with_keypoint_format(fmt)
    flip = _flip_indices_from_meta(meta)
    if flip is not None and flip != cfg.pipeline.flip_indices:
        cfg = replace(cfg, pipeline=replace(cfg.pipeline, flip_indices=flip))
    net = TopdownHeatmapNet(cfg)
    load_state_dict_strict(net, state_dict, source)
    return net.eval(), cfg


def save_mmpose_checkpoint(
    net: TopdownHeatmapNet,
    path: str | os.PathLike[str],
    meta: Mapping[str, Any] | None = None,
    config_text: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save ``{'meta', 'state_dict'}`` as mmengine's Runner does, readable by :func:`load_pose_model` and mmpose.

    ``meta['dataset_meta']`` carries the keypoint names, dataset name and flip indices of the
    network's convention so that the file declares it; ``meta['cfg']`` holds an mmengine config
    describing the architecture, codec and test pipeline (:func:`mmpose_config_text` by default),
    so the file loads without a separate config.

    Args:
        net: the network (its config supplies the convention and flip indices).
        path: output file.
        meta: extra meta entries (epoch, iter, ...).
        config_text: mmengine config source to embed instead of the generated one.
        extra: further top-level entries (``optimizer``, resume state, as mmengine's ``optimizer`` /
            ``message_hub``), ignored by the loaders.

    Returns:
        The written path.
    """
    cfg = net.cfg
    names = CONVENTIONS[cfg.keypoint_format]
    flip = list(cfg.pipeline.flip_indices) if len(cfg.pipeline.flip_indices) == len(names) else list(FLIP_INDEX)
    full_meta: dict[str, Any] = {
        "time": time.strftime("%Y%m%d_%H%M%S"),
        "kprtrack_variant": cfg.name,
        "dataset_meta": {
            "dataset_name": "posetrack18" if cfg.keypoint_format == "posetrack21" else "coco",
            "num_keypoints": len(names),
            "keypoint_id2name": dict(enumerate(names)),
            "keypoint_name2id": {n: i for i, n in enumerate(names)},
            "flip_indices": flip,
        },
    }
    full_meta["cfg"] = config_text if config_text is not None else mmpose_config_text(cfg)
    full_meta.update(meta or {})
    state = OrderedDict((k, v.detach().cpu()) for k, v in net.state_dict().items())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt: dict[str, Any] = {"meta": full_meta, "state_dict": state}
    torch.save(with_extra(ckpt, extra, "save_mmpose_checkpoint"), path)
    return path
