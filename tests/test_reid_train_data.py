"""ReID training data: records, items, augmentation, PK sampling and seeded batches."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

from kprtrack.reid.train.data import (
    IGNORE,
    AugmentSettings,
    ReIDCropDataset,
    SeededBatchSampler,
    collate,
    load_records,
    random_erasing,
    random_pad_crop,
    resize_sample,
)
from kprtrack.train.common import PKSampler


def test_pk_sampler_batches_have_p_identities_times_k():
    labels = [0] * 10 + [1] * 2 + [2] * 6 + [3] * 5
    sampler = PKSampler(labels, p=3, k=4, seed=0)
    assert len(sampler) == len(labels) // 12
    sampler.set_epoch(0)
    first = list(sampler)
    for batch in first:
        ids = Counter(labels[i] for i in batch)
        assert len(batch) == 12 and len(ids) == 3 and set(ids.values()) == {4}
    assert first == list(sampler)  # deterministic for an epoch
    sampler.set_epoch(1)
    assert list(sampler) != first or len(first) == 1
    with pytest.raises(ValueError, match="P >= 2"):
        PKSampler(labels, p=1, k=4)
    with pytest.raises(ValueError, match="at least P"):
        PKSampler(labels, p=5, k=2)


def test_seeded_batch_sampler_is_reproducible_and_capped():
    labels = [i // 4 for i in range(64)]
    a = SeededBatchSampler(PKSampler(labels, 4, 4, seed=3), seed=3, max_batches=2)
    b = SeededBatchSampler(PKSampler(labels, 4, 4, seed=3), seed=3, max_batches=2)
    a.set_epoch(5)
    b.set_epoch(5)
    batches = list(a)
    assert len(a) == 2 and len(batches) == 2 and batches == list(b)
    seeds = [s for batch in batches for _, s in batch]
    assert len(set(seeds)) == len(seeds)  # every position has its own stream
    b.set_epoch(6)
    assert list(b) != batches


def test_resize_sample_scales_keypoints_and_fills_missing_parsing():
    img = np.zeros((40, 20, 3), np.uint8)
    kps = np.zeros((17, 3), np.float32)
    kps[0] = [10, 20, 1]
    kps[1] = [25, 5, 1]  # beyond the crop: clipped to the border (prompt builder behaviour)
    negs = np.zeros((1, 17, 3), np.float32)
    negs[0, 3] = [4, 8, 0.9]
    out_img, lab, k, n = resize_sample(img, None, kps, negs, (80, 40))
    assert out_img.shape == (80, 40, 3) and lab.shape == (80, 40) and (lab == IGNORE).all()
    assert k[0].tolist() == [20, 40, 1] and k[1].tolist() == [38, 10, 1]
    assert n[0, 3].tolist() == pytest.approx([8, 16, 0.9])
    assert (k[2] == 0).all()


def test_pad_crop_moves_pixels_labels_and_keypoints_together():
    rng = np.random.default_rng(0)
    img = np.zeros((32, 16, 3), np.uint8)
    parsing = np.zeros((32, 16), np.uint8)
    img[10, 8] = 255
    parsing[10, 8] = 3
    kps = np.zeros((17, 3), np.float32)
    kps[0] = [8, 10, 1]
    kps[1] = [0.5, 0.5, 1]  # likely pushed out
    negs = np.zeros((0, 17, 3), np.float32)
    for _ in range(10):
        out_img, out_lab, out_k, _ = random_pad_crop(img, parsing, kps, negs, 3, rng)
        ys, xs = np.nonzero(out_lab == 3)
        assert len(ys) == 1
        assert out_img[ys[0], xs[0]].tolist() == [255, 255, 255]
        assert out_k[0, :2].tolist() == [xs[0], ys[0]]
        if out_k[1, 2] > 0:
            assert 0 <= out_k[1, 0] < 16 and 0 <= out_k[1, 1] < 32
        else:
            assert (out_k[1] == 0).all()


def test_random_erasing_turns_erased_labels_into_background():
    rng = np.random.default_rng(0)
    img = np.full((64, 32, 3), 7, np.uint8)
    parsing = np.full((64, 32), 2, np.uint8)
    out_img, out_lab = random_erasing(img, parsing, AugmentSettings(erasing_p=1.0), rng)
    erased = (out_img != 7).any(axis=2)
    assert erased.any() and (out_lab[erased] == 0).all() and (out_lab[~erased] == 2).all()
    same_img, _ = random_erasing(img, parsing, AugmentSettings(erasing_p=0.0), rng)
    assert same_img is img


def test_dataset_items_and_collate(occ_root):
    records = load_records(occ_root, "train")
    ds = ReIDCropDataset(records, (64, 32), AugmentSettings())
    assert ds.num_classes == len({r.pid for r in records})
    item = ds[(0, 123)]
    assert item["image"].shape == (64, 32, 3) and item["image"].dtype == torch.uint8
    assert item["parsing"].shape == (64, 32) and int(item["parsing"].max()) <= 8
    assert item["keypoints"].shape == (17, 3) and item["negatives"].shape[1:] == (17, 3)
    again = ds[(0, 123)]
    assert torch.equal(item["image"], again["image"]) and torch.equal(item["keypoints"], again["keypoints"])
    test = ReIDCropDataset(records, (64, 32))
    plain = test[0]
    # without augmentation, the visible keypoints lie on the target's parsing labels (mostly)
    k = plain["keypoints"]
    on = k[:, 2] > 0
    hits = plain["parsing"][k[on, 1].long(), k[on, 0].long()] > 0
    assert hits.float().mean() > 0.6
    with_negs = next(i for i, r in enumerate(records) if len(r.negatives))
    batch = collate([ds[(with_negs, 1)], ds[(0, 2)]])
    assert batch["image"].shape == (2, 64, 32, 3) and batch["pid"].dtype == torch.int64
    assert isinstance(batch["negatives"], list) and batch["negatives"][1].shape[1:] == (17, 3)


def test_load_records_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_occ_ptrack"):
        load_records(tmp_path, "train")
    (tmp_path / "train.json").write_text(json.dumps({"records": [{"image": "x.jpg"}]}))
    with pytest.raises(ValueError, match=r"records\[0\]"):
        load_records(tmp_path, "train")
