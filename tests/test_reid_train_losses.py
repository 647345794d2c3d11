"""KPR training losses and BIPO: hand-checked values and the augmentation's promised effects."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kprtrack.reid.train.bipo import bipo
from kprtrack.reid.train.losses import (
    batch_hard_triplet,
    identity_loss,
    pairwise_part_distance,
    part_prediction_loss,
)

# --------------------------------------------------------------------------- losses


def test_pairwise_part_distance_matches_brute_force_with_visibility():
    g = torch.Generator().manual_seed(0)
    parts = torch.randn(5, 3, 4, generator=g)
    vis = torch.tensor([[1, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 1, 0]], dtype=torch.bool)
    d = pairwise_part_distance(parts, vis)
    for i in range(5):
        for j in range(5):
            shared = [k for k in range(3) if vis[i, k] and vis[j, k]]
            if not shared:
                assert math.isnan(d[i, j])
            else:
                ref = np.mean([float((parts[i, k] - parts[j, k]).norm()) for k in shared])
                assert d[i, j].item() == pytest.approx(ref, abs=1e-5)
    full = pairwise_part_distance(parts)
    assert full[0, 3].item() == pytest.approx(np.mean([float((parts[0, k] - parts[3, k]).norm()) for k in range(3)]))


def test_pairwise_part_distance_has_finite_gradient_at_zero_distance():
    parts = torch.ones(2, 2, 3, requires_grad=True)
    pairwise_part_distance(parts).sum().backward()
    assert torch.isfinite(parts.grad).all()


def test_batch_hard_triplet_hand_example():
    labels = torch.tensor([0, 0, 1, 1])
    dist = torch.tensor(
        [
            [0.0, 1.0, 0.5, 2.0],
            [1.0, 0.0, 3.0, 3.0],
            [0.5, 3.0, 0.0, 0.2],
            [2.0, 3.0, 0.2, 0.0],
        ]
    )
    # anchor 0: pos 1.0, neg 0.5 -> 0.8; anchor 1: pos 1.0, neg 3.0 -> 0; anchor 2: pos 0.2, neg 0.5 -> 0;
    # anchor 3: pos 0.2, neg 2.0 -> 0
    assert batch_hard_triplet(dist, labels, margin=0.3).item() == pytest.approx(0.8 / 4)
    assert batch_hard_triplet(dist, labels, margin=0.0).item() == pytest.approx(0.5 / 4)


def test_batch_hard_triplet_ignores_pairs_without_shared_parts():
    labels = torch.tensor([0, 0, 1])
    dist = torch.tensor([[0.0, float("nan"), 1.0], [float("nan"), 0.0, 1.0], [1.0, 1.0, 0.0]])
    # no anchor has both a valid positive and a valid negative
    assert batch_hard_triplet(dist, labels).item() == 0.0


def test_identity_loss_uses_label_smoothing():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    labels = torch.tensor([0])
    logp = F.log_softmax(logits, 1)[0]
    expected = -(0.9 * logp[0] + 0.1 * logp.mean())
    assert identity_loss(logits, labels, 0.1).item() == pytest.approx(expected.item(), abs=1e-6)


def test_part_prediction_loss_downsamples_and_ignores_unlabelled_pixels():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1] = 5.0  # predicts part 1 everywhere
    parsing = torch.ones(1, 4, 4, dtype=torch.long)
    good = part_prediction_loss(logits, parsing, label_smoothing=0.0)
    parsing_bad = torch.full((1, 4, 4), 2, dtype=torch.long)
    assert good < part_prediction_loss(logits, parsing_bad, label_smoothing=0.0)
    mixed = parsing_bad.clone()
    mixed[0, :2, :2] = 1  # after nearest downsampling, pixel (0, 0) is part 1
    mixed[0, 2:, :] = 255
    mixed[0, :2, 2:] = 255
    assert part_prediction_loss(logits, mixed, 0.0, ignore_index=255).item() == pytest.approx(good.item(), abs=1e-6)
    everything_ignored = torch.full((1, 4, 4), 255, dtype=torch.long)
    assert part_prediction_loss(logits, everything_ignored, ignore_index=255).item() == 0.0


# --------------------------------------------------------------------------- BIPO


def _two_people():
    """Two 20 x 10 crops: person A (id 0) on the left half, person B (id 1) a block in the middle."""
    h, w = 20, 10
    images = torch.zeros(2, 3, h, w, dtype=torch.uint8)
    parsing = torch.zeros(2, h, w, dtype=torch.long)
    images[0] = 50
    parsing[0, 2:18, 1:5] = 4  # A's torso, left half
    images[1] = 200
    parsing[1, 5:15, 3:7] = 1  # B's body in the middle
    kps = torch.zeros(2, 17, 3)
    kps[0, 5] = torch.tensor([2.0, 4.0, 1.0])  # A: left shoulder on the left
    kps[0, 6] = torch.tensor([8.0, 10.0, 1.0])  # A: right shoulder on the right (will be covered)
    kps[1, 0] = torch.tensor([5.0, 6.0, 1.0])  # B's nose inside its body
    kps[1, 11] = torch.tensor([4.0, 14.0, 1.0])
    negs = [torch.zeros(0, 17, 3), torch.zeros(0, 17, 3)]
    return images, parsing, kps, negs, torch.tensor([0, 1])


class _FixedRng:
    """Stands in for numpy's generator: occlude crop 0 only, with occluder 1, shift (0, +2)."""

    def __init__(self):
        self.randoms = iter([0.0, 0.1, 0.99])  # crop 0 occluded, side +, crop 1 not occluded

    def random(self):
        return next(self.randoms)

    def choice(self, candidates):
        return candidates[0]

    def uniform(self, lo, hi):
        return 0.0 if lo < 0 else 0.2  # dy = 0, dx = 0.2 * 10 = 2


def test_bipo_pastes_occluder_updates_labels_and_prompts():
    images, parsing, kps, negs, labels = _two_people()
    out_img, out_parsing, out_kps, out_negs = bipo(images, parsing, kps, negs, labels, p=0.3, rng=_FixedRng())
    occluder = torch.zeros(20, 10, dtype=torch.bool)
    occluder[5:15, 5:9] = True  # B's body shifted by dx = +2
    # occluder pixels pasted, elsewhere unchanged
    assert (out_img[0][:, occluder] == 200).all()
    assert (out_img[0][:, ~occluder] == 50).all()
    # target parsing becomes background under the occluder, kept elsewhere
    assert (out_parsing[0][occluder] == 0).all()
    assert torch.equal(out_parsing[0][~occluder], parsing[0][~occluder])
    # covered positive joint loses its confidence, the uncovered one keeps it
    assert out_kps[0, 6, 2] == 0 and out_kps[0, 5, 2] == 1
    # the occluder's joints (shifted) become a negative skeleton
    assert out_negs[0].shape == (1, 17, 3)
    assert out_negs[0][0, 0].tolist() == [7.0, 6.0, 1.0]
    assert out_negs[0][0, 11].tolist() == [6.0, 14.0, 1.0]
    # the second crop is untouched, and the inputs are not modified
    assert torch.equal(out_img[1], images[1]) and out_negs[1].shape[0] == 0
    assert (images[0] == 50).all() and kps[0, 6, 2] == 1


def test_bipo_probability_zero_is_identity_and_never_uses_same_identity():
    images, parsing, kps, negs, labels = _two_people()
    out = bipo(images, parsing, kps, negs, labels, p=0.0, rng=np.random.default_rng(0))
    assert torch.equal(out[0], images) and torch.equal(out[1], parsing) and torch.equal(out[2], kps)
    same = torch.tensor([3, 3])
    out = bipo(images, parsing, kps, negs, same, p=1.0, rng=np.random.default_rng(0))
    assert torch.equal(out[0], images)  # no occluder with another identity
    rng = np.random.default_rng(1)
    changed = sum(
        not torch.equal(bipo(images, parsing, kps, negs, labels, 0.3, rng)[0][0], images[0]) for _ in range(400)
    )
    assert 0.2 < changed / 400 < 0.4  # about p = 0.3 of the crops


def test_bipo_never_pastes_pixels_without_parsing_ground_truth():
    images, parsing, kps, negs, labels = _two_people()
    parsing[1] = 255  # the only possible occluder has no parsing labels (e.g. real PoseTrack21)
    out = bipo(images, parsing, kps, negs, labels, p=1.0, rng=np.random.default_rng(0), ignore_index=255)
    assert torch.equal(out[0][0], images[0]) and out[3][0].shape[0] == 0
    parsing[1, :10] = 1  # labelled upper half: only those pixels can be pasted
    out = bipo(images, parsing, kps, negs, labels, p=0.3, rng=_FixedRng(), ignore_index=255)
    pasted = (out[0][0] != 50).any(0)
    assert pasted.any() and not pasted[10:].any()
