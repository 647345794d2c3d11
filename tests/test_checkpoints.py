import os
import pickle
from collections import OrderedDict

import pytest
import torch

from kprtrack.checkpoints import (
    CheckpointKeyError,
    ConfigNode,
    UnsafeCheckpointError,
    extract_state_dict,
    load_checkpoint,
    load_state_dict_strict,
)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_disallowed_global_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": OrderedDict(w=torch.zeros(2)), "payload": Evil()}, path)
    with pytest.raises(UnsafeCheckpointError, match="posix.system|os.system"):
        load_checkpoint(path)


def test_legacy_and_zip_formats_load(tmp_path):
    sd = OrderedDict(w=torch.arange(4.0), n=torch.tensor(3))
    for legacy in (False, True):
        path = tmp_path / f"ckpt_{legacy}.pth"
        torch.save({"state_dict": sd, "meta": {"epoch": 3}}, path, _use_new_zipfile_serialization=not legacy)
        ckpt = load_checkpoint(path)
        assert torch.equal(ckpt["state_dict"]["w"], sd["w"]) and ckpt["meta"]["epoch"] == 3


def test_missing_file_and_garbage(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises((ValueError, pickle.UnpicklingError)):
        load_checkpoint(bad)


def test_config_node_attribute_access():
    node = ConfigNode(a=ConfigNode(b=1))
    assert node.a.b == 1
    with pytest.raises(AttributeError):
        _ = node.missing


def test_extract_state_dict_strips_module_prefix():
    sd = extract_state_dict({"state_dict": {"module.a.weight": torch.zeros(1)}, "epoch": 1})
    assert list(sd) == ["a.weight"]
    assert list(extract_state_dict({"model": {"b": torch.zeros(1)}})) == ["b"]
    with pytest.raises(ValueError, match="no state dict"):
        extract_state_dict({"epoch": 1})


def test_strict_loading_names_missing_unexpected_and_misshaped_keys():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    sd = dict(model.state_dict())
    sd.pop("1.running_var")
    sd["extra.weight"] = torch.zeros(1)
    sd["0.weight"] = torch.zeros(4, 2)
    with pytest.raises(CheckpointKeyError) as err:
        load_state_dict_strict(model, sd, "x.pth")
    msg = str(err.value)
    assert "missing keys: 1.running_var" in msg and "unexpected keys: extra.weight" in msg
    assert "0.weight: checkpoint (4, 2) vs model (3, 2)" in msg and "x.pth" in msg
    load_state_dict_strict(model, model.state_dict())


def test_reference_fixture_checkpoints_load_without_yacs(fixture_dir):
    import sys

    root = fixture_dir("kpr_reference")
    ckpt = load_checkpoint(root / "checkpoint.pth.tar")
    assert "yacs" not in sys.modules
    assert ckpt["config"].model.kpr.backbone.startswith("solider_swin")
    assert all(k.startswith("module.") for k in ckpt["state_dict"])
