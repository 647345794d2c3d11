"""Released-format checkpoints: safe loading without yacs, strict key checks, writer round trip."""

from __future__ import annotations

import importlib.abc
import io
import os
import pickletools
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from kprtrack.checkpoints import CheckpointKeyError, UnsafeCheckpointError, load_checkpoint
from kprtrack.reid.build import build_kpr
from kprtrack.reid.checkpoint import (
    KEY_MAP,
    kpr_config_from_checkpoint,
    load_kpr_checkpoint,
    load_released_state_dict,
    released_state_dict,
    released_to_ours,
    save_kpr_checkpoint,
)
from tests import reid_common as rc


class _BlockYacs(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201
        if name == "yacs" or name.startswith("yacs."):
            raise ImportError(f"{name} is blocked in this test")
        return None


@pytest.fixture
def no_yacs(monkeypatch):
    for name in [m for m in sys.modules if m == "yacs" or m.startswith("yacs.")]:
        monkeypatch.delitem(sys.modules, name)
    blocker = _BlockYacs()
    sys.meta_path.insert(0, blocker)
    yield
    sys.meta_path.remove(blocker)


def _fixture_ckpt() -> Path:
    return rc.kpr_fixture_dir() / "checkpoint.pth.tar"


def test_fixture_loads_without_yacs(no_yacs) -> None:
    model, info = load_kpr_checkpoint(_fixture_ckpt())  # no architecture.json: shapes + config only
    assert not any(m == "yacs" or m.startswith("yacs.") for m in sys.modules)
    cfg = info.config
    assert cfg.swin.embed_dim == 32 and cfg.swin.depths == (2, 2, 2, 2) and cfg.swin.num_heads == (1, 2, 4, 8)
    assert cfg.swin.window_size == 7 and cfg.swin.semantic_weight == pytest.approx(0.2)
    assert (cfg.num_parts, cfg.prompt_channels, cfg.dim_reduce_output, cfg.num_classes) == (8, 10, 512, 16)
    assert cfg.image_size == (384, 128) and cfg.mean == (0.5, 0.5, 0.5)
    assert info.meta["epoch"] == 120
    assert info.torchreid_config.model.kpr.keypoints.prompt_preprocess == "cck8"
    assert not model.training


def test_architecture_json_and_shapes_agree() -> None:
    _, from_shapes = load_kpr_checkpoint(_fixture_ckpt())
    _, with_json = rc.fixture_model()
    assert from_shapes.config == with_json.config


def _fixture_state_dict() -> OrderedDict[str, torch.Tensor]:
    ckpt = load_checkpoint(_fixture_ckpt())
    return OrderedDict((k[len("module.") :], v) for k, v in ckpt["state_dict"].items())


def _fresh_fixture_model():
    model, _ = rc.fixture_model()
    return build_kpr(model.config)


def test_missing_key_is_named() -> None:
    sd = _fixture_state_dict()
    key = "backbone_appearance_feature_extractor.model.stages.2.blocks.1.norm2.weight"
    del sd[key]
    with pytest.raises(CheckpointKeyError, match=r"missing keys: .*stages\.2\.blocks\.1\.norm2\.weight"):
        load_released_state_dict(_fresh_fixture_model(), sd)


def test_unexpected_key_is_named() -> None:
    sd = _fixture_state_dict()
    sd["head_extra.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointKeyError, match=r"unexpected keys: head_extra\.weight"):
        load_released_state_dict(_fresh_fixture_model(), sd)


def test_mis_shaped_key_is_named() -> None:
    sd = _fixture_state_dict()
    sd["pixel_classifier.bn.weight"] = torch.zeros(255)
    with pytest.raises(CheckpointKeyError, match=r"shape mismatch: pixel_classifier\.bn\.weight: checkpoint \(255,\)"):
        load_released_state_dict(_fresh_fixture_model(), sd)


def test_missing_key_in_a_file_is_named(tmp_path: Path) -> None:
    ckpt = load_checkpoint(_fixture_ckpt())
    del ckpt["state_dict"]["module.global_identity_classifier.bn.running_var"]
    path = tmp_path / "broken.pth.tar"
    torch.save({"state_dict": ckpt["state_dict"]}, path)
    with pytest.raises(CheckpointKeyError, match=r"global_identity_classifier\.bn\.running_var"):
        load_kpr_checkpoint(path)


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        return (os.getcwd, ())


def test_disallowed_global_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "config": _Evil()}, path)
    with pytest.raises(UnsafeCheckpointError, match="getcwd"):
        load_kpr_checkpoint(path)


def test_unsupported_config_is_refused() -> None:
    _, info = rc.fixture_model()
    node = info.torchreid_config
    bad = {**node, "model": {**node["model"], "kpr": {**node["model"]["kpr"], "enable_fpn": True}}}
    with pytest.raises(ValueError, match="enable_fpn"):
        kpr_config_from_checkpoint(_fixture_state_dict(), bad)


def test_key_map_is_explicit_and_covers_the_release() -> None:
    assert KEY_MAP[-1] == ("", "head.")
    assert released_to_ours("backbone_appearance_feature_extractor.model.norm3.weight") == "image_encoder.norm3.weight"
    assert released_to_ours("backbone_appearance_feature_extractor.patch_embed.norm.bias") == (
        "image_encoder.patch_embed.norm.bias"
    )
    assert released_to_ours("msf.dim_reduce.layers.0.weight") == "head.msf.dim_reduce.layers.0.weight"


def test_writer_round_trip_in_release_format(tmp_path: Path, no_yacs) -> None:
    torch.manual_seed(3)
    model = build_kpr("kpr_swin_nano_k5", num_classes=9, image_size=(96, 48), dim_reduce_output=32).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    path = save_kpr_checkpoint(model, tmp_path / "model.pth.tar", epoch=7, rank1=0.5, mAP=0.25)

    raw = load_checkpoint(path)
    assert set(raw) == {"state_dict", "epoch", "rank1", "mAP", "config"}
    assert all(k.startswith("module.") for k in raw["state_dict"])
    assert [k[7:] for k in raw["state_dict"]] == list(released_state_dict(model))
    with zipfile.ZipFile(path) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    listing = io.StringIO()
    pickletools.dis(data, out=listing)
    assert "yacs.config CfgNode" in listing.getvalue()  # the reference reads it as a yacs config
    assert "kprtrack" not in listing.getvalue()

    loaded, info = load_kpr_checkpoint(path)
    assert info.config == model.config
    assert info.meta == {"epoch": 7, "rank1": 0.5, "mAP": 0.25}
    images = torch.randn(2, 3, 96, 48)
    prompts = torch.rand(2, model.config.prompt_channels, 96, 48)
    with torch.inference_mode():
        a, b = model(images, prompts), loaded(images, prompts)
    assert torch.equal(a.test_embeddings, b.test_embeddings)
    assert torch.equal(a.pixel_logits, b.pixel_logits)


def test_bare_state_dict_without_config_infers_from_shapes(tmp_path: Path) -> None:
    sd = {"module." + k: v for k, v in _fixture_state_dict().items()}
    path = tmp_path / "bare.pth"
    torch.save(sd, path)
    _, info = load_kpr_checkpoint(path)
    _, ref = rc.fixture_model()
    assert info.config.swin == ref.config.swin and info.config.prompt_grouping == "cck8"
    assert info.torchreid_config is None


def test_missing_file_raises() -> None:
    with pytest.raises(FileNotFoundError):
        load_kpr_checkpoint("/nonexistent/kpr.pth.tar")
