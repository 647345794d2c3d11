"""Safe mmpose config reading, the variant registry and architecture inference."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest
import torch

from kprtrack.pose.config import PoseModelConfig
from kprtrack.pose.mmconfig import (
    Unresolved,
    mmpose_config_text,
    parse_config_text,
    pose_config_from_mmpose,
    read_mmengine_config,
)
from kprtrack.pose.variants import VARIANTS, build_pose_model, get_variant, hrnet_config

W32_CONFIG = textwrap.dedent(
    """
    _base_ = ['base_runtime.py']
    codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    norm_cfg = dict(type='SyncBN', requires_grad=True)
    model = dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(
            type='HRNet', in_channels=3,
            extra=dict(
                stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ), num_channels=(64, )),
                stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4), num_channels=(32, 64)),
                stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                            num_channels=(32, 64, 128)),
                stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                            num_channels=(32, 64, 128, 256))),
            init_cfg=dict(type='Pretrained', checkpoint='https://download.openmmlab.com/mmpose/'
                          'pretrain_models/hrnet_w32-36af842e.pth')),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=17, deconv_out_channels=None,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
        test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
    dataset_type = 'PoseTrack18Dataset'
    data_root = 'data/posetrack18/'
    val_pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=codec['input_size']),
        dict(type='PackPoseInputs'),
    ]
    val_dataloader = dict(batch_size=32, dataset=dict(type=dataset_type, data_root=data_root,
                          ann_file=data_root + 'annotations/val.json', pipeline=val_pipeline))
    test_dataloader = val_dataloader
    """
)


@pytest.fixture
def w32_config_file(tmp_path):
    (tmp_path / "base_runtime.py").write_text(
        "default_scope = 'mmpose'\nlog_level = 'INFO'\nenv_cfg = dict(a=1, b=2)\n"
    )
    path = tmp_path / "td-hm_hrnet-w32_8xb64-20e_posetrack18-256x192.py"
    path.write_text(W32_CONFIG)
    return path


def test_bundled_style_config_is_read_without_executing(w32_config_file):
    cfg = read_mmengine_config(w32_config_file)
    assert cfg["default_scope"] == "mmpose"  # from _base_
    assert cfg["val_dataloader"]["dataset"]["ann_file"] == "data/posetrack18/annotations/val.json"
    pose = pose_config_from_mmpose(cfg)
    assert dataclasses.replace(pose, name="x") == dataclasses.replace(
        get_variant("hrnet_w32_256x192", keypoint_format="posetrack21"), name="x"
    )


def test_code_in_a_config_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    text = textwrap.dedent(
        f"""
        import os
        os.system('touch {marker}')
        x = __import__('os').system('touch {marker}')
        y = open('{marker}', 'w')
        def f():
            return 1
        z = f()
        ok = dict(a=1, b=[1, 2] * 2, c='a' + 'b', d=-3, e=2 ** 3)
        """
    )
    cfg = parse_config_text(text)
    assert not marker.exists()
    for name in ("x", "y", "z"):
        assert isinstance(cfg[name], Unresolved), name
    assert cfg["ok"] == {"a": 1, "b": [1, 2, 1, 2], "c": "ab", "d": -3, "e": 8}


def test_unresolved_model_field_is_named():
    cfg = parse_config_text("model = dict(type='TopdownPoseEstimator', backbone=make_backbone())\n")
    with pytest.raises(ValueError, match="'model' could not be read safely.*make_backbone"):
        pose_config_from_mmpose(cfg)


def test_base_merge_and_delete(tmp_path):
    (tmp_path / "base.py").write_text("a = dict(x=1, y=dict(p=1, q=2))\nb = dict(k=1, m=2)\nc = [1]\n")
    child = tmp_path / "child.py"
    child.write_text("_base_ = './base.py'\na = dict(y=dict(q=3))\nb = dict(_delete_=True, n=5)\nc = [2]\n")
    cfg = read_mmengine_config(child)
    assert cfg["a"] == {"x": 1, "y": {"p": 1, "q": 3}}
    assert cfg["b"] == {"n": 5}
    assert cfg["c"] == [2]


def test_new_style_config_is_refused():
    text = "from mmengine.config import read_base\nwith read_base():\n    from .base import *\n"
    with pytest.raises(ValueError, match="read_base"):
        parse_config_text(text)


def test_unsupported_architectures_are_refused():
    text = W32_CONFIG.replace("type='HRNet'", "type='ResNet'")
    with pytest.raises(ValueError, match="ResNet.*mmpose backend"):
        pose_config_from_mmpose(parse_config_text(text))


@pytest.mark.parametrize("codec", ["msra", "dark", "udp"])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_config_round_trips_through_mmpose_config_text(name, codec):
    cfg = get_variant(name, codec=codec)
    assert pose_config_from_mmpose(parse_config_text(mmpose_config_text(cfg)), name=cfg.name) == cfg


def test_udp_and_dark_variants_follow_mmpose_configs():
    udp = get_variant("hrnet_w32_256x192", codec="udp")
    assert udp.codec.type == "UDPHeatmap" and udp.pipeline.use_udp and not udp.pipeline.shift_heatmap
    dark = get_variant("hrnet_w48_384x288", codec="dark")
    assert dark.codec.unbiased and dark.pipeline.shift_heatmap and dark.codec.heatmap_size == (72, 96)


@pytest.mark.parametrize(
    ("name", "params"),
    [("hrnet_w32_256x192", 28_536_113), ("hrnet_w48_384x288", 63_595_745), ("hrnet_w8_256x192", 2_139_305)],
)
def test_parameter_counts_match_mmpose(name, params):
    """mmpose reports 28.54M (W32) and 63.60M (W48); W8 is the fixture's 2,139,305."""
    with torch.device("meta"):
        net = build_pose_model(name)
    assert sum(p.numel() for p in net.parameters()) == params
    assert len(net.state_dict()) == 1754


def test_small_variant_forward_shape():
    torch.manual_seed(0)
    net = build_pose_model("hrnet_w8_128x96")
    with torch.inference_mode():
        out = net(torch.randn(2, 3, 128, 96))
    assert out.shape == (2, 17, 32, 24)


def test_unknown_variant_lists_the_registry():
    with pytest.raises(ValueError, match="hrnet_w32_256x192"):
        get_variant("hrnet_w99")


def test_infer_config_from_shapes_recovers_head_layers():
    from kprtrack.pose.config import HeadConfig
    from kprtrack.pose.infer import infer_pose_config

    base = hrnet_config(16, (96, 128))
    head = HeadConfig(
        in_channels=16, out_channels=17, deconv_out_channels=(32,), deconv_kernel_sizes=(4,),
        conv_out_channels=(24,), conv_kernel_sizes=(3,), final_kernel_size=1,
    )  # fmt: skip
    cfg = dataclasses.replace(base, head=head, codec=dataclasses.replace(base.codec, heatmap_size=(48, 64)))
    with torch.device("meta"):
        sd = build_pose_model(cfg).state_dict()
    inferred = infer_pose_config(sd, input_size=(96, 128))
    assert inferred.backbone == cfg.backbone
    assert inferred.head == cfg.head
    assert inferred.codec.heatmap_size == (48, 64)


def test_config_validation_names_the_field():
    base = hrnet_config(32)
    with pytest.raises(ValueError, match="head.in_channels=16"):
        PoseModelConfig(backbone=base.backbone, head=dataclasses.replace(base.head, in_channels=16))
    with pytest.raises(ValueError, match="unknown keypoint convention"):
        hrnet_config(32, keypoint_format="mpii")
