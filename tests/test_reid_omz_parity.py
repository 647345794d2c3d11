"""Parity of the native OMZ re-id port with OpenVINO (``shared/real/reid/reference``), and its crops."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from kprtrack.reid.embedder import crop_boxes
from kprtrack.reid.omz import load_omz_reid
from kprtrack.reid.omz_embedder import OMZReidEmbedder
from kprtrack.weights import load_manifest, sha256sum
from tests.conftest import REPO, require_real

MODELS = ("0288", "0287")


def _reference() -> dict[str, np.ndarray]:
    with np.load(require_real("reid/reference/omz_reid_reference.npz")) as z:
        return {k: z[k] for k in z.files}


def _normalized(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """Both models converted from the IR by ``tools/convert_omz_reid.py`` (0287 is not shipped)."""
    source = require_real("reid")
    out = tmp_path_factory.mktemp("omz_reid")
    spec = importlib.util.spec_from_file_location("convert_omz_reid", REPO / "tools" / "convert_omz_reid.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules["convert_omz_reid"] = tool  # its dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(tool)
        assert tool.main(["--source", str(source), "--models", *MODELS, "--out", str(out)]) == 0
    finally:
        del sys.modules["convert_omz_reid"]
    return out


@pytest.fixture(scope="module")
def coco_people() -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixture's 13 people: ``(RGB frame, GT box xywh)`` in fixture order."""
    root = require_real("coco_keypoints")
    anns = {a["id"]: a for a in json.loads((root / "test_coco.json").read_text())["annotations"]}
    out = []
    for source in _reference()["source"]:
        name, ann_id = str(source).split("#")
        frame = cv2.cvtColor(cv2.imread(str(root / name)), cv2.COLOR_BGR2RGB)
        out.append((frame, np.asarray(anns[int(ann_id)]["bbox"], np.float64)))
    return out


@pytest.mark.parametrize("model_id", MODELS)
def test_native_embeddings_match_openvino(converted, model_id):
    ref = _reference()
    torch.set_num_threads(1)
    model = load_omz_reid(converted / f"omz_reid_{model_id}.pth")
    with torch.inference_mode():
        ours = model(torch.from_numpy(ref["input_bgr_0_255"])).numpy()
    expected = ref[f"retail_{model_id}/embedding"]
    cosine = (_normalized(ours) * _normalized(expected)).sum(1)
    assert cosine.shape == (13,)
    assert cosine.min() > 0.9999, cosine


def test_converter_is_deterministic_and_matches_the_manifest(converted):
    """The IR -> state dict conversion gives the shipped 0288 bytes and the manifest's sha256 for both."""
    manifest = load_manifest()
    shipped = REPO / "weights" / "omz_reid_0288.pth"
    assert (converted / "omz_reid_0288.pth").read_bytes() == shipped.read_bytes()
    assert manifest["omz_reid_0288"].shipped and manifest["omz_reid_0288"].sha256 == sha256sum(shipped)
    assert manifest["omz_reid_0287"].sha256 == sha256sum(converted / "omz_reid_0287.pth")


def test_embedder_preprocessing_is_the_fixtures(coco_people):
    """Cut at the fixture's windows (COCO xywh truncated), the embedder's resize/BGR/float input is bit-exact."""
    ref = _reference()
    embedder = OMZReidEmbedder.from_checkpoint(REPO / "weights" / "omz_reid_0288.pth")
    crops = []
    for frame, (x, y, w, h) in coco_people:
        l, t = int(x), int(y)
        crops.append(frame[t : t + int(h), l : l + int(w)])
    images = embedder.preprocess(crops).numpy()
    np.testing.assert_array_equal(images, ref["input_bgr_0_255"])


@pytest.mark.parametrize("model_id", MODELS)
def test_embedder_on_gt_boxes_reproduces_the_reference(converted, coco_people, model_id):
    """``embed`` on the GT boxes (its own rounded windows, within 2 px of the fixture's) finds the same people."""
    ref = _reference()
    embedder = OMZReidEmbedder.from_checkpoint(converted / f"omz_reid_{model_id}.pth")
    rows = []
    for frame, (x, y, w, h) in coco_people:
        box = np.array([[x, y, x + w, y + h]])
        window = crop_boxes(frame.shape[:2], box)[0]
        fixture_window = np.array([int(x), int(y), int(x) + int(w), int(y) + int(h)])
        assert np.abs(window - fixture_window).max() <= 2  # the fixture truncates x, y, w and h separately
        emb, vis = embedder.embed(frame, box, None)
        assert emb.shape == (1, 1, 256) and emb.dtype == np.float32 and vis.tolist() == [[True]]
        rows.append(emb[0, 0])
    sim = np.stack(rows) @ _normalized(ref[f"retail_{model_id}/embedding"]).T  # (13 ours, 13 reference)
    own = np.diag(sim)
    assert (sim.argmax(1) == np.arange(13)).all()  # every crop is closest to its own reference
    assert own.min() > 0.9 and np.median(own) > 0.98, own  # a half-pixel shift of the window, not another person
    assert (own - np.where(np.eye(13, dtype=bool), -1, sim).max(1)).min() > 0.2
