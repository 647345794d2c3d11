"""KPR model: reference parity (model only), released key lists, variants, training outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.reid.build import KPR_REGISTRY, build_kpr, kpr_config
from kprtrack.reid.checkpoint import released_state_dict
from kprtrack.reid.config import KPRConfig
from tests import reid_common as rc

ATOL = 1e-4  # README: model outputs


@pytest.fixture(scope="module")
def fixture_outputs():
    model, _ = rc.fixture_model()
    images = torch.from_numpy(rc.stacked("image_tensor"))
    prompts = torch.from_numpy(rc.stacked("prompt_masks"))
    with torch.inference_mode():
        return model(images, prompts)


def test_parity_model_only(fixture_outputs) -> None:
    out = fixture_outputs
    normed = torch.nn.functional.normalize(out.test_embeddings, dim=-1)
    checks = {
        "parts": out.embeddings["parts"],
        "foreg": out.embeddings["bn_foreg"],
        "foreg_raw": out.embeddings["foreg"],
        "globl": out.embeddings["globl"],
        "bn_parts": out.embeddings["bn_parts"],
        "pixel_logits": out.pixel_logits,
        "part_attention": out.part_attention,
        "test_masks": out.test_masks,
        "test_embeddings": normed,
    }
    for key, got in checks.items():
        np.testing.assert_allclose(got.numpy(), rc.stacked(key), atol=ATOL, rtol=0, err_msg=key)
    np.testing.assert_array_equal(out.visibility["parts"].numpy(), rc.stacked("visibility"))
    np.testing.assert_array_equal(out.test_visibility.numpy(), rc.stacked("test_visibility"))
    for s, feat in enumerate(out.stage_features):
        np.testing.assert_allclose(feat.mean(dim=(2, 3)).numpy(), rc.stacked(f"stage{s}_mean"), atol=ATOL, rtol=0)
    np.testing.assert_allclose(out.spatial_features[0].numpy(), rc.expected()["spatial_features_0"], atol=ATOL)


def test_prompt_optional_mode_equals_empty_prompt() -> None:
    model, _ = rc.fixture_model()
    image = torch.from_numpy(rc.expected()["image_tensor_2"])[None]  # sample 2 has no prompt
    prompt = torch.from_numpy(rc.expected()["prompt_masks_2"])[None]
    with torch.inference_mode():
        without = model(image, None)
        with_empty = model(image, prompt)
    assert torch.equal(without.test_embeddings, with_empty.test_embeddings)
    np.testing.assert_allclose(without.embeddings["parts"][0].numpy(), rc.expected()["parts_2"], atol=ATOL)


def test_batch_of_four_matches_one_at_a_time(fixture_outputs) -> None:
    model, _ = rc.fixture_model()
    images = torch.from_numpy(rc.stacked("image_tensor"))
    prompts = torch.from_numpy(rc.stacked("prompt_masks"))
    with torch.inference_mode():
        one = model(images[1:2], prompts[1:2])
    np.testing.assert_allclose(one.embeddings["parts"][0], fixture_outputs.embeddings["parts"][1], atol=1e-5)
    assert torch.equal(one.test_visibility[0], fixture_outputs.test_visibility[1])


def _released(path_name: str, num_classes: int) -> list[tuple[str, str]]:
    lines = (rc.kpr_fixture_dir() / path_name).read_text().splitlines()
    return [(k, s.replace("num_classes", str(num_classes))) for k, s in (line.split("\t") for line in lines)]


@pytest.mark.parametrize(("variant", "listing"), [("kpr_swin_base_k8", "K8"), ("kpr_swin_base_k5", "K5")])
def test_swin_base_keys_and_shapes_equal_release(variant: str, listing: str) -> None:
    with torch.device("meta"):  # 91M parameters, nothing allocated
        model = build_kpr(variant, num_classes=702)
    ours = [(k, str(tuple(v.shape))) for k, v in released_state_dict(model).items()]
    assert ours == _released(f"released_swin_base_keys_{listing}.txt", 702)  # keys, shapes and order


def test_release_variants_without_semantic_layers_and_with_sie() -> None:
    with torch.device("meta"):
        k5 = build_kpr("kpr_swin_base_k5", swin={"semantic_weight": -1.0})
        k8_sie = build_kpr("kpr_swin_base_k8", swin={"semantic_weight": -1.0}, num_cameras=8)
    assert len(released_state_dict(k5)) == 462
    sd = released_state_dict(k8_sie)
    assert len(sd) == 481
    assert tuple(sd["backbone_appearance_feature_extractor.sie_embed"].shape) == (8, 1, 128)
    assert not any("semantic_embed" in k for k in sd)


@pytest.mark.parametrize("variant", sorted(KPR_REGISTRY))
def test_every_variant_builds_on_meta(variant: str) -> None:
    with torch.device("meta"):
        model = KPR_REGISTRY[variant](num_classes=5)
    cfg = model.config
    sd = released_state_dict(model)
    assert tuple(sd["pixel_classifier.classifier.weight"].shape)[0] == cfg.num_parts + 1
    assert tuple(sd["backbone_appearance_feature_extractor.masks_patch_embed.projection.weight"].shape)[1] == (
        cfg.prompt_channels
    )


def test_training_outputs_for_gilt_loss() -> None:
    torch.manual_seed(0)
    model = build_kpr("kpr_swin_nano_k8", num_classes=7, image_size=(64, 32), dim_reduce_output=16)
    model.train()
    images = torch.randn(3, 3, 64, 32)
    prompts = torch.rand(3, model.config.prompt_channels, 64, 32)
    out = model(images, prompts)
    k = model.num_parts
    assert out.id_logits["globl"].shape == (3, 7)
    assert out.id_logits["foreg"].shape == (3, 7)
    assert out.id_logits["conct"].shape == (3, 7)
    assert out.id_logits["parts"].shape == (3, k, 7)
    assert out.pixel_logits.shape == (3, k + 1, 16, 8)
    assert out.embeddings["parts"].shape == (3, k, 16)
    assert out.embeddings["conct"].shape == (3, k * 16)
    assert out.visibility["parts"].dtype == torch.bool
    loss = sum(out.id_logits[n].logsumexp(-1).mean() for n in ("globl", "foreg", "conct"))
    loss = loss + out.embeddings["parts"].pow(2).mean() + out.pixel_logits.pow(2).mean()
    loss.backward()
    patch = model.image_encoder.patch_embed.projection.weight
    assert patch.grad is not None and patch.grad.abs().sum() > 0
    assert model.prompt_encoder.masks_patch_embed.projection.weight.grad is not None
    assert model.image_encoder.semantic_embed_w[0].weight.grad is None  # frozen as in the reference


def test_odd_sizes_pad_like_the_reference() -> None:
    """Maps that are not multiples of the window or of 2 still run (unmasked padding, corner pad)."""
    model = build_kpr("kpr_swin_nano_k5", num_classes=3, image_size=(100, 52)).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 100, 52), None)
    assert out.pixel_logits.shape == (2, 6, 25, 13)
    assert out.test_embeddings.shape == (2, 6, 512)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="prompt_grouping"):
        KPRConfig(prompt_grouping="cck7")
    with pytest.raises(ValueError, match="test_embeddings"):
        KPRConfig(test_embeddings=("bn_foreg", "nope"))
    with pytest.raises(ValueError, match="num_heads"):
        kpr_config("kpr_swin_nano_k8", swin={"num_heads": (3, 2, 4, 8)})
    with pytest.raises(ValueError, match="unknown KPR variant"):
        build_kpr("kpr_swin_huge")
    with pytest.raises(ValueError, match="images"):
        build_kpr("kpr_swin_nano_k8", image_size=(64, 32))(torch.zeros(1, 4, 64, 32))


def test_fresh_model_buffers_equal_the_reference() -> None:
    """A model built here (e.g. to train) has the reference's relative-position index buffers."""
    ref, _ = rc.fixture_model()
    fresh = build_kpr(ref.config)
    ref_sd, fresh_sd = ref.state_dict(), fresh.state_dict()
    keys = [k for k in fresh_sd if k.endswith("relative_position_index")]
    assert len(keys) == 8
    for k in keys:
        assert torch.equal(fresh_sd[k], ref_sd[k]), k


def test_config_dict_round_trip() -> None:
    cfg = kpr_config("kpr_swin_base_k5", num_classes=751, num_cameras=6)
    assert KPRConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown fields"):
        KPRConfig.from_dict({**cfg.to_dict(), "bogus": 1})
