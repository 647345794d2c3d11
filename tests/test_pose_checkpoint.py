"""mmpose checkpoint I/O: strict keys, conventions, formats (on a tiny random HRNet-W8 96x128)."""

from __future__ import annotations

import dataclasses
import os
import pickle

import numpy as np
import pytest
import torch

from kprtrack.checkpoints import CheckpointKeyError, UnsafeCheckpointError, load_checkpoint
from kprtrack.pose.checkpoint import load_pose_model, map_mmpose_keys, save_mmpose_checkpoint
from kprtrack.pose.variants import build_pose_model, get_variant


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    net = build_pose_model(get_variant("hrnet_w8_128x96", keypoint_format="posetrack21"))
    path = save_mmpose_checkpoint(net, tmp_path_factory.mktemp("ckpt") / "tiny.pth", meta={"epoch": 3})
    return net, path


def _resave(path, tmp_path, edit):
    ckpt = load_checkpoint(path)
    edit(ckpt)
    out = tmp_path / "edited.pth"
    torch.save(ckpt, out)
    return out


def test_round_trip_recovers_weights_config_and_convention(tiny):
    net, path = tiny
    loaded, cfg = load_pose_model(path)
    assert cfg == net.cfg  # architecture, 96x128 codec and pipeline come from meta['cfg']
    assert cfg.keypoint_format == "posetrack21"  # declared by meta['dataset_meta']
    got = loaded.state_dict()
    for key, value in net.state_dict().items():
        assert torch.equal(got[key], value), key
    meta = load_checkpoint(path)["meta"]
    assert meta["epoch"] == 3 and meta["dataset_meta"]["keypoint_id2name"][1] == "head_bottom"


def test_missing_and_unexpected_keys_are_named(tiny, tmp_path):
    _, path = tiny

    def edit(ckpt):
        del ckpt["state_dict"]["backbone.stage3.2.branches.1.3.bn2.running_var"]
        ckpt["state_dict"]["head.extra_layer.weight"] = torch.zeros(1)

    with pytest.raises(CheckpointKeyError) as err:
        load_pose_model(_resave(path, tmp_path, edit))
    msg = str(err.value)
    assert "missing keys: backbone.stage3.2.branches.1.3.bn2.running_var" in msg
    assert "unexpected keys: head.extra_layer.weight" in msg
    assert "edited.pth" in msg


def test_wrong_architecture_names_mismatched_shapes(tiny):
    _, path = tiny
    with pytest.raises(CheckpointKeyError, match=r"shape mismatch: backbone\.transition1\.0\.0\.weight"):
        load_pose_model(path, config="hrnet_w16_256x192")


def test_keypoint_convention_from_meta_and_override(tiny, tmp_path):
    _, path = tiny

    def coco(ckpt):
        ckpt["meta"]["dataset_meta"] = {"dataset_name": "coco", "keypoint_id2name": {i: n for i, n in enumerate(
            ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle"))}}  # fmt: skip

    assert load_pose_model(_resave(path, tmp_path, coco))[1].keypoint_format == "coco17"

    def strange(ckpt):
        ckpt["meta"]["dataset_meta"]["keypoint_id2name"] = {i: f"joint{i}" for i in range(17)}

    odd = _resave(path, tmp_path, strange)
    with pytest.raises(ValueError, match="joint0.*keypoint_format"):
        load_pose_model(odd)
    assert load_pose_model(odd, keypoint_format="coco17")[1].keypoint_format == "coco17"


def test_legacy_format_with_numpy_meta_and_no_config(tiny, tmp_path):
    """publish_model-style file: legacy serialisation, numpy arrays in meta, no cfg: shapes + explicit size."""
    net, path = tiny
    ckpt = load_checkpoint(path)
    del ckpt["meta"]["cfg"]
    ckpt["meta"]["dataset_meta"]["sigmas"] = np.linspace(0.02, 0.1, 17)
    legacy = tmp_path / "legacy.pth"
    torch.save(ckpt, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(legacy, weights_only=True)  # torch's default refuses it
    loaded, cfg = load_pose_model(legacy, config=get_variant("hrnet_w8_128x96"))
    assert cfg.keypoint_format == "posetrack21"
    assert torch.equal(loaded.head.final_layer.weight, net.head.final_layer.weight)
    _, inferred = load_pose_model(legacy)  # architecture from tensor shapes, 256x192 defaults
    assert inferred.backbone == net.cfg.backbone and inferred.head == net.cfg.head


def test_mmpose_0x_head_keys_are_mapped(tiny, tmp_path):
    net, path = tiny

    def old(ckpt):
        sd = ckpt["state_dict"]
        for key in [k for k in sd if k.startswith("head.")]:
            sd["keypoint_head." + key[len("head.") :]] = sd.pop(key)

    loaded, _ = load_pose_model(_resave(path, tmp_path, old))
    assert torch.equal(loaded.head.final_layer.bias, net.head.final_layer.bias)
    mapped = map_mmpose_keys({"keypoint_head.final_layer.0.weight": 0, "keypoint_head.final_layer.3.weight": 1})
    assert mapped == {"head.conv_layers.0.weight": 0, "head.final_layer.weight": 1}


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_malicious_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"meta": {"x": _Evil()}, "state_dict": {}}, path)
    with pytest.raises(UnsafeCheckpointError, match="system"):
        load_pose_model(path)


def test_saved_config_text_is_an_mmpose_config(tiny):
    from kprtrack.pose.mmconfig import parse_config_text

    _, path = tiny
    cfg = parse_config_text(load_checkpoint(path)["meta"]["cfg"])
    assert cfg["model"]["backbone"]["type"] == "HRNet"
    assert cfg["test_dataloader"]["dataset"]["type"] == "PoseTrack18Dataset"
    assert dataclasses.asdict(get_variant("hrnet_w8_128x96"))["codec"]["input_size"] == (96, 128)
