"""YOLOX architecture variants, checkpoint formats and key errors, letterbox rounding traps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.checkpoints import CheckpointKeyError
from kprtrack.detect.model import YOLOXArch
from kprtrack.detect.preprocess import letterbox
from kprtrack.detect.variants import BUILDERS, VARIANTS, build_yolox, canonical_variant
from kprtrack.detect.weights import (
    infer_arch,
    load_yolox,
    megvii_to_mmdet,
    mmdet_to_megvii,
    save_megvii_checkpoint,
)

# Parameter counts of the official models (80 classes), as printed by Megvii's model summary
# (README "Benchmark" table: nano 0.91M, tiny 5.06M, s 9.0M, m 25.3M, l 54.2M, x 99.1M).
OFFICIAL_PARAMS_M = {
    "yolox_nano": 0.91,
    "yolox_tiny": 5.06,
    "yolox_s": 8.97,
    "yolox_m": 25.3,
    "yolox_l": 54.2,
    "yolox_x": 99.1,
}


def _meta_model(name: str, num_classes: int = 80):
    with torch.device("meta"):
        return build_yolox(name, num_classes)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_match_official_sizes(name: str) -> None:
    model = _meta_model(name)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert params == pytest.approx(OFFICIAL_PARAMS_M[name], rel=0.01)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-3 and m.momentum == 0.03 for m in bns)
    assert any(".dconv." in k for k in model.state_dict()) == (name == "yolox_nano")
    assert infer_arch(model.state_dict()) == model.arch


def test_tiny_is_exactly_the_fixture_architecture() -> None:
    model = _meta_model("tiny")
    assert sum(p.numel() for p in model.parameters()) == 5_055_855
    assert len(model.state_dict()) == 462


def test_registry_names_and_builder() -> None:
    assert set(BUILDERS) == set(VARIANTS)
    assert canonical_variant("YOLOX-S") == "yolox_s" and canonical_variant("x") == "yolox_x"
    with pytest.raises(ValueError, match="unknown YOLOX variant"):
        canonical_variant("yolox_xxl")
    with pytest.raises(ValueError, match="width"):
        YOLOXArch(0.33, 0.27)


def test_decoding_layout_and_prior_bias() -> None:
    torch.manual_seed(0)
    model = build_yolox("nano", num_classes=3)
    out = model(torch.zeros(2, 3, 64, 96))
    assert out.shape == (2, 8 * 12 + 4 * 6 + 2 * 3, 8)
    levels = model.forward_levels(torch.zeros(1, 3, 64, 96))
    assert [tuple(x.shape[2:]) for x in levels] == [(8, 12), (4, 6), (2, 3)]
    assert torch.allclose(model.head.cls_preds[0].bias, torch.full((3,), -4.59512), atol=1e-4)
    # the anchor at level 1, row 1, column 2 decodes its centre at (reg + (2, 1)) * 16
    a = 8 * 12 + 1 * 6 + 2
    reg = levels[1][0, :2, 1, 2]
    assert torch.allclose(out[0, a, :2].detach(), ((reg + torch.tensor([2.0, 1.0])) * 16).detach(), atol=1e-4)


def test_mmdet_key_map_names_and_round_trip() -> None:
    sd = _meta_model("nano").state_dict()
    mm = megvii_to_mmdet(sd)
    for key in (
        "backbone.stem.conv.conv.weight",
        "backbone.stage1.0.depthwise_conv.conv.weight",
        "backbone.stage1.1.main_conv.conv.weight",
        "backbone.stage1.1.blocks.0.conv2.pointwise_conv.bn.running_var",
        "backbone.stage4.1.conv2.conv.weight",
        "backbone.stage4.2.final_conv.bn.weight",
        "neck.reduce_layers.0.conv.weight",
        "neck.top_down_blocks.1.short_conv.conv.weight",
        "neck.downsamples.1.depthwise_conv.conv.weight",
        "neck.bottom_up_blocks.1.blocks.0.conv1.conv.weight",
        "neck.out_convs.2.bn.bias",
        "bbox_head.multi_level_cls_convs.0.1.pointwise_conv.conv.weight",
        "bbox_head.multi_level_conv_obj.2.bias",
    ):
        assert key in mm, key
    assert mmdet_to_megvii(mm).keys() == sd.keys()


def test_mmdet_unknown_key_is_named() -> None:
    mm = megvii_to_mmdet(_meta_model("tiny").state_dict())
    mm["neck.extra_layer.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match=r"neck\.extra_layer\.weight"):
        mmdet_to_megvii(mm, "x.pth")


def test_missing_unexpected_and_misshaped_keys_are_named(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_yolox("nano", num_classes=2)
    path = save_megvii_checkpoint(tmp_path / "nano.pth", model)
    ckpt = torch.load(path, weights_only=True)
    del ckpt["model"]["head.obj_preds.1.bias"]
    ckpt["model"]["head.extra.weight"] = torch.zeros(2)
    torch.save(ckpt, tmp_path / "bad.pth")
    with pytest.raises(CheckpointKeyError) as err:
        load_yolox(tmp_path / "bad.pth")
    msg = str(err.value)
    assert "missing keys: head.obj_preds.1.bias" in msg and "unexpected keys: head.extra.weight" in msg
    assert "bad.pth" in msg
    with pytest.raises(CheckpointKeyError, match=r"shape mismatch: backbone\.backbone\.stem\.conv\.conv\.weight"):
        load_yolox(path, arch=YOLOXArch(0.33, 0.375, False, 2))
    with pytest.raises(CheckpointKeyError, match=r"missing keys .*head\.cls_preds\.0\.weight"):
        load_yolox({"model": {"backbone.backbone.stem.conv.conv.weight": torch.zeros(16, 12, 3, 3)}})


def test_megvii_file_with_optimizer_round_trip(tmp_path) -> None:
    torch.manual_seed(1)
    model = build_yolox("nano", num_classes=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    path = save_megvii_checkpoint(tmp_path / "m.pth", model, optimizer=opt, start_epoch=3)
    ckpt = torch.load(path, weights_only=True)  # Megvii's own loader works on it
    assert {"start_epoch", "model", "optimizer"} <= set(ckpt)
    loaded, fmt = load_yolox(path)
    assert fmt == "megvii" and loaded.arch == model.arch
    x = torch.rand(1, 3, 64, 64) * 255
    assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize(
    ("shape", "megvii_hw", "mmdet_hw"),
    [
        ((720, 405), (415, 233), (416, 234)),
        ((480, 640), (312, 416), (312, 416)),
        ((1080, 1920), (234, 416), (234, 416)),
    ],
)
def test_letterbox_rounding(shape, megvii_hw, mmdet_hw) -> None:
    img = np.full((*shape, 3), 7, dtype=np.uint8)
    canvas, info = letterbox(img, (416, 416), "megvii")
    assert info.resized_hw == megvii_hw and canvas.shape == (416, 416, 3)
    assert info.box_scale_xy == (info.ratio, info.ratio) == (min(416 / shape[0], 416 / shape[1]),) * 2
    assert np.all(canvas[: megvii_hw[0], : megvii_hw[1]] == 7)
    assert np.all(canvas[megvii_hw[0] :] == 114) and np.all(canvas[:, megvii_hw[1] :] == 114)
    canvas, info = letterbox(img, (416, 416), "mmdet")
    assert info.resized_hw == mmdet_hw and canvas.shape == (416, 416, 3)
    assert info.box_scale_xy == (mmdet_hw[1] / shape[1], mmdet_hw[0] / shape[0])
    assert np.all(canvas[: mmdet_hw[0], : mmdet_hw[1]] == 7) and np.all(canvas[:, mmdet_hw[1] :] == 114)


def test_letterbox_rejects_bad_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        letterbox(np.zeros((10, 10, 3), np.float32), (64, 64))
    with pytest.raises(ValueError, match="empty"):
        letterbox(np.zeros((0, 10, 3), np.uint8), (64, 64))
    with pytest.raises(ValueError, match="convention"):
        letterbox(np.zeros((10, 10, 3), np.uint8), (64, 64), "yolov5")
