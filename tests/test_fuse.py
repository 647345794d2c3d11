"""BatchNorm folding (:mod:`kprtrack.fuse`): the inference copy computes what the original does."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kprtrack.fuse import fold_batchnorms, fold_conv_bn, inference_copy


def _randomise_batchnorms(net: nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) - 0.5)


def test_fold_conv_bn_equals_conv_then_batchnorm():
    torch.manual_seed(0)
    for bias in (False, True):
        conv, bn = nn.Conv2d(4, 6, 3, padding=1, bias=bias), nn.BatchNorm2d(6).eval()
        _randomise_batchnorms(bn)
        x = torch.randn(2, 4, 9, 7)
        torch.testing.assert_close(fold_conv_bn(conv, bn)(x), bn(conv(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="cannot fold"):
        fold_conv_bn(nn.Conv2d(4, 6, 1), nn.BatchNorm2d(5))


@pytest.mark.parametrize("name", ["hrnet_w32_256x192", "yolox_nano"])
def test_inference_copy_folds_every_batchnorm_and_keeps_the_outputs(name: str):
    from kprtrack.detect.variants import build_yolox
    from kprtrack.pose.variants import build_pose_model

    torch.manual_seed(0)
    if name.startswith("yolox"):
        net, x = build_yolox(name, 80), torch.randn(1, 3, 160, 192)
        run = lambda m: torch.cat([t.flatten() for t in m.forward_levels(x)])  # noqa: E731
    else:
        net, x = build_pose_model(name), torch.randn(2, 3, 128, 96)
        run = lambda m: m(x)  # noqa: E731
    net.eval()
    _randomise_batchnorms(net)
    fast = inference_copy(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # the original is untouched
    with torch.inference_mode():
        expected, got = run(net), run(fast)
    assert float((got - expected).abs().max() / expected.abs().max()) < 1e-5


def test_only_declared_pairs_are_folded():
    class BatchNormFirst(nn.Module):
        BN_PAIRS = ()

        def __init__(self) -> None:
            super().__init__()
            self.bn, self.conv = nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1)

    net = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1), BatchNormFirst())
    assert fold_batchnorms(net) == 0
    assert fold_batchnorms(nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3), nn.ReLU())) == 1
