"""KPREmbedder: crops, keypoint handling, negatives selection, batching, shapes and input errors."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.reid.build import build_kpr
from kprtrack.reid.embedder import KPREmbedder, crop_boxes, keypoints_in_box, select_negatives
from kprtrack.stages import Embedder
from tests import reid_common as rc


def _skeleton(x0: float, y0: float, conf: float = 0.9) -> np.ndarray:
    """A 17-joint skeleton spread over a 40x100 box whose top-left corner is (x0, y0)."""
    rng = np.random.default_rng(int(x0 * 7 + y0))
    xy = rng.uniform(0, 1, (17, 2)) * [40, 100] + [x0, y0]
    return np.concatenate([xy, np.full((17, 1), conf)], axis=1)


@pytest.fixture(scope="module")
def small_embedder() -> KPREmbedder:
    import torch

    torch.manual_seed(0)
    model = build_kpr("kpr_swin_nano_k8", num_classes=4, image_size=(64, 32), dim_reduce_output=24)
    with torch.no_grad():  # a non-zero prompt embedding so prompts matter
        model.prompt_encoder.masks_patch_embed.projection.weight.normal_(0, 0.5)
    return KPREmbedder(model)


@pytest.fixture(scope="module")
def frame_and_people() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[10, 20, 50, 120], [30, 40, 70, 140], [200.4, 100.6, 240.2, 200.5], [300, 150, 330, 260]])
    kps = np.stack([_skeleton(b[0], b[1]) for b in boxes])
    return frame, boxes.astype(np.float32), kps.astype(np.float32)


def test_select_negatives_keeps_in_box_joints_of_others() -> None:
    boxes = np.array([[0, 0, 100, 100], [50, 50, 150, 150], [500, 500, 510, 510]], dtype=np.float32)
    kps = np.zeros((3, 17, 3), np.float32)
    kps[0, :, :] = [10, 10, 0.9]  # person 0: all joints at (10, 10)
    kps[1, 0] = [60, 60, 0.8]  # inside box 0 and box 1
    kps[1, 1] = [120, 60, 0.8]  # inside box 1 only
    kps[1, 2] = [70, 70, 0.0]  # inside box 0 but confidence 0
    kps[2, :] = [505, 505, 0.9]  # far away
    neg = select_negatives(boxes, kps)
    assert [n.shape for n in neg] == [(1, 17, 3), (0, 17, 3), (0, 17, 3)]
    assert neg[0].dtype == np.float32
    np.testing.assert_array_equal(neg[0][0, 0], kps[1, 0])
    assert (neg[0][0, 1:] == 0).all()  # outside the box or confidence 0: dropped
    # box 1 contains nothing of person 0 (all at 10, 10) nor of person 2
    assert select_negatives(np.zeros((0, 4)), np.zeros((0, 17, 3))) == []


def test_select_negatives_box_edges_follow_tracklab() -> None:
    boxes = np.array([[10, 10, 20, 20], [0, 0, 1, 1]], dtype=np.float32)
    kps = np.zeros((2, 17, 3), np.float32)
    kps[1, 0] = [10, 10, 1]  # on the top-left edge: inside
    kps[1, 1] = [20, 15, 1]  # x == x2: outside
    neg = select_negatives(boxes, kps)[0]
    assert neg.shape == (1, 17, 3) and neg[0, 0, 2] == 1 and neg[0, 1, 2] == 0


def test_crop_boxes_clip_and_round_like_tracklab() -> None:
    windows = crop_boxes((100, 200), np.array([[10.4, 20.6, 50.5, 80.5], [-5, -5, 300, 300], [1.5, 1.5, 2.5, 2.5]]))
    np.testing.assert_array_equal(windows[0], [10, 21, 50, 80])  # round half to even
    np.testing.assert_array_equal(windows[1], [0, 0, 199, 99])  # clipped to W - 1, H - 1
    assert (windows[:, 2] > windows[:, 0]).all() and (windows[:, 3] > windows[:, 1]).all()


def test_keypoints_in_box_zeroes_outside_and_absent_joints() -> None:
    kps = np.array([[15, 25, 0.9], [5, 25, 0.9], [15, 25, 0.0]] + [[0, 0, 0]] * 14)
    rel = keypoints_in_box(kps, np.array([10, 20, 30, 60]))
    np.testing.assert_array_equal(rel[0], [5, 5, 0.9])
    assert (rel[1:] == 0).all()


def test_embed_shapes_and_protocol(small_embedder, frame_and_people) -> None:
    frame, boxes, kps = frame_and_people
    assert isinstance(small_embedder, Embedder)
    emb, vis = small_embedder.embed(frame, boxes, kps)
    assert emb.shape == (4, 9, 24) and emb.dtype == np.float32
    assert vis.shape == (4, 9) and vis.dtype == bool and vis[:, 0].all()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1, atol=1e-5)
    out = small_embedder.embed_frame(frame, boxes, kps, return_attention=True)
    assert out.attention.shape == (4, 9, 16, 8)
    np.testing.assert_allclose(out.attention.sum(1), 1, atol=1e-5)


def test_embed_batches_consistently(small_embedder, frame_and_people) -> None:
    frame, boxes, kps = frame_and_people
    emb, vis = small_embedder.embed(frame, boxes, kps)
    chunked = KPREmbedder(small_embedder.model, max_batch=3)
    emb2, vis2 = chunked.embed(frame, boxes, kps)
    np.testing.assert_allclose(emb, emb2, atol=1e-5)
    np.testing.assert_array_equal(vis, vis2)
    for i in range(len(boxes)):  # person i alone, with the same negatives
        negs = select_negatives(boxes, kps)
        e1, v1 = small_embedder.embed(frame, boxes[i : i + 1], kps[i : i + 1], [negs[i]])
        np.testing.assert_allclose(e1[0], emb[i], atol=1e-5)
        np.testing.assert_array_equal(v1[0], vis[i])


def test_automatic_negatives_equal_explicit_ones(small_embedder, frame_and_people) -> None:
    frame, boxes, kps = frame_and_people
    auto, _ = small_embedder.embed(frame, boxes, kps)
    explicit, _ = small_embedder.embed(frame, boxes, kps, select_negatives(boxes, kps))
    np.testing.assert_array_equal(auto, explicit)
    none_neg, _ = small_embedder.embed(frame, boxes, kps, [np.zeros((0, 17, 3))] * len(boxes))
    assert not np.allclose(none_neg[:2], auto[:2])  # boxes 0 and 1 overlap: negatives matter


def test_prompt_optional_modes_agree(small_embedder, frame_and_people) -> None:
    frame, boxes, kps = frame_and_people
    no_kps, _ = small_embedder.embed(frame, boxes, None)
    no_prompt = KPREmbedder(small_embedder.model, use_prompts=False)
    ignored, _ = no_prompt.embed(frame, boxes, kps)
    np.testing.assert_array_equal(no_kps, ignored)
    with_kps, _ = small_embedder.embed(frame, boxes, kps)
    assert not np.allclose(no_kps, with_kps)


def test_empty_frame(small_embedder, frame_and_people) -> None:
    frame = frame_and_people[0]
    emb, vis = small_embedder.embed(frame, np.zeros((0, 4), np.float32), np.zeros((0, 17, 3), np.float32))
    assert emb.shape == (0, 9, 24) and vis.shape == (0, 9)


def test_frame_path_matches_reference_for_a_pasted_crop() -> None:
    model, _ = rc.fixture_model()
    embedder = KPREmbedder(model)
    crop = rc.inputs()["crop_2"]  # 96x40, no prompt
    frame = np.zeros((300, 200, 3), np.uint8)
    frame[100:196, 50:90] = crop
    kps = np.zeros((1, 17, 3), np.float32)
    emb, vis = embedder.embed(frame, np.array([[50, 100, 90, 196]], np.float32), kps)
    np.testing.assert_allclose(emb[0], rc.expected()["test_embeddings_2"], atol=1e-4)
    np.testing.assert_array_equal(vis[0], rc.expected()["test_visibility_2"])


def test_bad_inputs_raise_clear_errors(small_embedder, frame_and_people) -> None:
    frame, boxes, kps = frame_and_people
    with pytest.raises(ValueError, match="frame"):
        small_embedder.embed(frame.astype(np.float32), boxes, kps)
    with pytest.raises(ValueError, match="frame"):
        small_embedder.embed(frame[..., :2], boxes, kps)
    with pytest.raises(ValueError, match="boxes"):
        small_embedder.embed(frame, boxes[:, :3], kps)
    with pytest.raises(ValueError, match="boxes"):
        small_embedder.embed(frame, boxes[:, [2, 1, 0, 3]], kps)
    with pytest.raises(ValueError, match="NaN"):
        small_embedder.embed(frame, np.full((4, 4), np.nan), kps)
    with pytest.raises(ValueError, match="keypoints"):
        small_embedder.embed(frame, boxes, kps[:3])
    with pytest.raises(ValueError, match="negatives"):
        small_embedder.embed(frame, boxes, kps, [np.zeros((0, 17, 3))])
    with pytest.raises(ValueError, match=r"negatives\[1\]"):
        small_embedder.embed(frame, boxes, kps, [np.zeros((0, 17, 3)), np.zeros((1, 5, 3))] * 2)
    with pytest.raises(ValueError, match="dtype"):
        KPREmbedder(small_embedder.model, dtype="float64")
    with pytest.raises(ValueError, match="crops"):
        small_embedder.embed_crops([np.zeros((0, 5, 3), np.uint8)])


def test_bfloat16_autocast_runs_on_cpu(small_embedder, frame_and_people) -> None:
    frame, boxes, kps = frame_and_people
    ref, _ = small_embedder.embed(frame, boxes, kps)
    bf16 = KPREmbedder(small_embedder.model, dtype="bfloat16")
    emb, vis = bf16.embed(frame, boxes, kps)
    assert emb.dtype == np.float32 and vis.shape == (4, 9)
    cos = (emb * ref).sum(-1)
    assert cos.min() > 0.95
