"""The OMZ re-id port without real assets: architecture, strict loading, the embedder contract, denormals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.checkpoints import CheckpointKeyError
from kprtrack.denormals import denormals_flushed, flush_denormals
from kprtrack.reid.distance import cosine_to_tracking_distance, tracking_distance, tracking_to_cosine_distance
from kprtrack.reid.omz import OMZ_REID_REGISTRY, build_omz_reid, load_omz_reid
from kprtrack.reid.omz_embedder import OMZReidEmbedder
from kprtrack.stages import Embedder
from tests.conftest import REPO

WEIGHTS = REPO / "weights" / "omz_reid_0288.pth"


@pytest.fixture(scope="module")
def embedder() -> OMZReidEmbedder:
    torch.set_num_threads(1)
    return OMZReidEmbedder.from_checkpoint(WEIGHTS)


@pytest.mark.parametrize(("name", "params"), [("omz_reid_0288", 181_459), ("omz_reid_0287", 589_984)])
def test_architectures(name, params):
    model = OMZ_REID_REGISTRY[name]()
    assert sum(p.numel() for p in model.parameters()) == params
    with torch.inference_mode():
        x = torch.rand(2, 3, 256, 128) * 255
        assert model(x).shape == (2, 256)
        assert model.feature_map(x).shape == (2, model.config.feature_channels, 16, 8)
    with pytest.raises(ValueError, match=r"expected \(N, 3, 256, 128\)"):
        model(torch.zeros(1, 3, 128, 64))


def test_strict_loading_names_keys(tmp_path):
    state = dict(load_omz_reid(WEIGHTS).state_dict())
    state["head.extra.weight"] = torch.zeros(1)
    del state["stem.norm.bias"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(
        CheckpointKeyError, match=r"missing keys: stem\.norm\.bias.*unexpected keys: head\.extra\.weight"
    ):
        load_omz_reid(path)
    with pytest.raises(ValueError, match="unknown OMZ re-id model"):
        build_omz_reid("omz_reid_9999")
    torch.save({"stem.conv.weight": torch.zeros(7, 3, 7, 7)}, path)
    with pytest.raises(ValueError, match="7-channel stem"):
        load_omz_reid(path)


def test_embedder_contract(embedder):
    assert isinstance(embedder, Embedder)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    boxes = np.array([[10, 5, 60, 110], [100.4, 20.6, 150.2, 119.9], [-5, -5, 30, 40]], np.float32)
    emb, vis = embedder.embed(frame, boxes, np.zeros((3, 17, 3), np.float32))
    assert emb.shape == (3, 1, 256) and emb.dtype == np.float32
    assert vis.shape == (3, 1) and vis.dtype == bool and vis.all()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)
    # batching does not change the result
    one_by_one = np.concatenate([embedder.embed(frame, boxes[i : i + 1])[0] for i in range(3)])
    np.testing.assert_allclose(one_by_one, emb, atol=1e-5)
    small = OMZReidEmbedder(embedder.model, max_batch=2, keypoint_format="posetrack21")
    np.testing.assert_allclose(small.embed(frame, boxes)[0], emb, atol=1e-5)
    low = OMZReidEmbedder(embedder.model, dtype="bfloat16").embed(frame, boxes)[0]  # autocast (CPU here)
    assert low.dtype == np.float32 and (low * emb).sum(-1).min() > 0.95
    empty_emb, empty_vis = embedder.embed(frame, np.zeros((0, 4), np.float32), None)
    assert empty_emb.shape == (0, 1, 256) and empty_vis.shape == (0, 1)


def test_embedder_rejects_bad_input(embedder):
    frame = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(ValueError, match="boxes: expected shape"):
        embedder.embed(frame, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="x1 <= x2"):
        embedder.embed(frame, np.array([[30.0, 0, 10, 20]]))
    with pytest.raises(ValueError, match="frame: expected a uint8"):
        embedder.embed(frame.astype(np.float32), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="max_batch"):
        OMZReidEmbedder(embedder.model, max_batch=0)
    with pytest.raises(ValueError, match="dtype"):
        OMZReidEmbedder(embedder.model, dtype="int8")
    with pytest.raises(ValueError, match="keypoint"):
        OMZReidEmbedder(embedder.model, keypoint_format="mpii")


def test_tracking_distance_is_a_function_of_cosine(embedder):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (100, 160, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 50, 99], [40, 10, 100, 90], [90, 0, 159, 99]], np.float32)
    emb, vis = embedder.embed(frame, boxes)
    d = tracking_distance(emb, vis, emb, vis)
    cos = emb[:, 0] @ emb[:, 0].T
    np.testing.assert_allclose(d, cosine_to_tracking_distance(1 - cos), atol=2e-3)  # sqrt near 0 on the diagonal
    np.testing.assert_allclose(tracking_to_cosine_distance(cosine_to_tracking_distance([0.0, 0.53, 2.0])),
                               [0.0, 0.53, 2.0], atol=1e-12)  # fmt: skip
    assert float(cosine_to_tracking_distance(0.53)) == pytest.approx(0.5148, abs=1e-4)


def test_flush_denormals_is_scoped():
    before = denormals_flushed()
    with flush_denormals() as active:
        assert denormals_flushed() == active
    assert denormals_flushed() == before
    torch.set_flush_denormal(True)
    try:
        if denormals_flushed():  # the CPU supports flushing
            with flush_denormals():
                pass
            assert denormals_flushed()  # a block does not switch off a setting made outside it
            with flush_denormals(enabled=False) as active:
                assert active
    finally:
        torch.set_flush_denormal(before)
