"""ReID metrics on hand-made rankings, and the evaluation of a model on query/gallery records."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.reid.build import build_kpr
from kprtrack.reid.train.evaluate import evaluate_reid, extract, metrics_row, rank1_map
from tests.synth_data import occ_ptrack


def test_rank1_and_map_hand_example():
    dist = np.array(
        [
            [0.5, 0.1, 0.9, 0.3],  # pid 0: ranking 1, 2, 0, 0 -> miss at rank 1; AP = (1/3 + 2/4) / 2
            [0.2, 0.1, 0.3, 0.4],  # pid 1: ranking 1, ... -> hit; AP = 1
            [0.1, 0.2, 0.3, 0.4],  # pid 5: no true match in the gallery -> not counted
        ]
    )
    m = rank1_map(dist, [0, 1, 5], [0, 1, 0, 2])
    assert m.num_queries == 2
    assert m.rank1 == pytest.approx(0.5)
    assert m.mAP == pytest.approx(((1 / 3 + 2 / 4) / 2 + 1.0) / 2)
    assert m.as_percent() == {"rank1": 50.0, "mAP": pytest.approx(70.83, abs=0.01), "queries": 2}


def test_rank1_map_perfect_ties_and_errors():
    dist = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    m = rank1_map(dist, [7, 8], [7, 8, 8])
    assert m.rank1 == 1.0 and m.mAP == 1.0
    # ties resolved in gallery order: the impostor listed first ranks first
    tie = rank1_map(np.array([[0.3, 0.3]]), [1], [2, 1])
    assert tie.rank1 == 0.0 and tie.mAP == pytest.approx(0.5)
    assert rank1_map(np.zeros((1, 2)), [3], [1, 2]).num_queries == 0
    with pytest.raises(ValueError, match="distmat"):
        rank1_map(np.zeros((2, 2)), [1], [1, 2])


def test_evaluate_reid_on_built_split(tmp_path_factory):
    out = occ_ptrack(tmp_path_factory, with_train=False)
    model = build_kpr("kpr_swin_nano_k8", image_size=(64, 32), dim_reduce_output=16, num_classes=4)
    model.train()
    res = evaluate_reid(model, out, use_prompts=True, batch_size=16)
    assert model.training  # mode restored
    assert set(res) == {"all", "multi_person"}
    assert res["all"].num_queries >= res["multi_person"].num_queries > 0
    row = metrics_row(res)
    assert set(row) == {"all_rank1", "all_mAP", "multi_person_rank1", "multi_person_mAP"}
    from kprtrack.reid.train.data import load_records

    queries = load_records(out, "query")
    emb, vis = extract(model, queries[:3], use_prompts=False, batch_size=2)
    assert emb.shape == (3, 9, 16) and vis.shape == (3, 9) and vis[:, 0].all()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)
