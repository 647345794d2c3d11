"""Parity of the native YOLOX with the official Megvii implementation (shared/fixtures/yolox_reference).

Tolerances from the fixture README: probabilities atol 1e-4; raw box columns rtol 1e-4 + atol 1e-2 px;
detection boxes atol 1e-2 px; detection count, order and class exactly equal; preprocessing bit-exact
(same OpenCV resize).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from kprtrack.detect.fixture import run_fixture
from kprtrack.detect.weights import load_yolox, megvii_to_mmdet, read_yolox_state_dict
from tests.conftest import require_fixture

NAME = "yolox_reference"


@pytest.fixture(scope="module")
def fixture_dir() -> Path:
    return require_fixture(NAME)


@pytest.fixture(scope="module")
def expected(fixture_dir: Path) -> dict[str, np.ndarray]:
    with np.load(fixture_dir / "expected.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def outputs(fixture_dir: Path):
    return run_fixture(fixture_dir)


def assert_raw_close(got: np.ndarray, ref: np.ndarray) -> None:
    assert got.shape == ref.shape
    np.testing.assert_allclose(got[..., :4], ref[..., :4], rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(got[..., 4:], ref[..., 4:], rtol=0, atol=1e-4)


def assert_dets_equal(got: np.ndarray, ref: np.ndarray, box_atol: float) -> None:
    assert got.shape == ref.shape, f"detection count {got.shape[0]} != {ref.shape[0]}"
    np.testing.assert_array_equal(got[:, 6], ref[:, 6])  # class and order
    np.testing.assert_allclose(got[:, :4], ref[:, :4], rtol=0, atol=box_atol)
    np.testing.assert_allclose(got[:, 4:6], ref[:, 4:6], rtol=0, atol=1e-4)


def test_every_expected_key_is_produced(outputs, expected) -> None:
    assert sorted(set(expected) - set(outputs.arrays)) == []


def test_full_path_parity(outputs, expected) -> None:
    got = outputs.arrays
    for key in ("num_images", "test_size_hw"):
        np.testing.assert_array_equal(got[key], expected[key])
    for i in range(int(expected["num_images"])):
        p = f"img{i}_"
        np.testing.assert_array_equal(got[p + "preproc"], expected[p + "preproc"])
        assert got[p + "preproc"].dtype == np.float32
        assert float(got[p + "ratio"]) == float(expected[p + "ratio"])
        np.testing.assert_array_equal(got[p + "resized_hw"], expected[p + "resized_hw"])
        assert_raw_close(got[p + "raw_output"], expected[p + "raw_output"])
        ratio = float(expected[p + "ratio"])
        for key in ("dets", "dets_agnostic"):
            assert_dets_equal(got[p + key], expected[p + key], 1e-2)
        for key in ("dets_orig", "dets_agnostic_orig", "person_dets_orig"):
            assert_dets_equal(got[p + key], expected[p + key], 1e-2 / ratio)
        assert int(got[p + "num_candidates"]) == int(expected[p + "num_candidates"])
        for key in ("conf_margin", "cls_top2_margin", "nms_iou_margin", "score_gap_min"):
            np.testing.assert_allclose(got[p + key], expected[p + key], atol=1e-4)


def test_network_on_reference_preproc(fixture_dir, expected) -> None:
    """The network alone, fed the reference's own preprocessed tensor."""
    model, fmt = load_yolox(fixture_dir / "yolox_tiny.pth")
    assert fmt == "megvii"
    x = torch.from_numpy(np.stack([expected["img0_preproc"], expected["img1_preproc"]]))
    with torch.inference_mode():
        raw = model(x).numpy()
    for i in range(2):
        assert_raw_close(raw[i : i + 1], expected[f"img{i}_raw_output"])


def test_checker_cli(fixture_dir, tmp_path) -> None:
    from kprtrack.cli.check_fixture import command

    out = tmp_path / "outputs.npz"
    result = CliRunner().invoke(command, ["yolox", str(fixture_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "keys within tolerance" in result.output
    with np.load(out) as data:
        assert "img1_dets_orig" in data.files


def _write_mmdet_fixture(fixture_dir: Path, folder: Path) -> None:
    sd, _ = read_yolox_state_dict(fixture_dir / "yolox_tiny.pth")
    mm = megvii_to_mmdet(sd)
    meta = {"epoch": 300, "CLASSES": np.array(["person"] * 80), "hook_msgs": {"best_score": np.float64(0.3)}}
    ema = {"ema_backbone_stem_conv_conv_weight": sd["backbone.backbone.stem.conv.conv.weight"].clone()}
    torch.save(
        {"meta": meta, "state_dict": {**mm, **ema}},
        folder / "yolox_tiny_mmdet.pth",
        _use_new_zipfile_serialization=False,
    )
    shutil.copy(fixture_dir / "inputs.npz", folder / "inputs.npz")
    arch = {
        "models": {"yolox_tiny": {"checkpoint_file": "yolox_tiny_mmdet.pth", "test_size_hw": [416, 416]}},
        "postprocessing": {"score_thr": 0.1, "iou_threshold": 0.45},
    }
    (folder / "architecture.json").write_text(json.dumps(arch))


def test_mmdet_format_fixture(fixture_dir, expected, tmp_path) -> None:
    """An mmdet checkpoint (legacy pickle, numpy meta, mmdet names) runs with mmdet's conventions."""
    _write_mmdet_fixture(fixture_dir, tmp_path)
    got = run_fixture(tmp_path).arrays
    # mmdet rounds: 720x405 at 416 -> 416 x 234 (Megvii truncates to 415 x 233)
    np.testing.assert_array_equal(got["img1_resized_hw"], [416, 234])
    np.testing.assert_allclose(got["img1_scale_factor"], [234 / 405, 416 / 720])
    np.testing.assert_array_equal(got["img0_preproc"], expected["img0_preproc"])  # 480x640: both agree
    assert not np.all(got["img1_preproc"][:, 415, :234] == 114)  # last row is image, not padding
    # same weights: on the same input the mmdet-decoded raw output equals Megvii's
    megvii, _ = load_yolox(fixture_dir / "yolox_tiny.pth")
    with torch.inference_mode():
        ref = megvii(torch.from_numpy(got["img1_preproc"])[None]).numpy()
    assert_raw_close(got["img1_raw_output"], ref)
    # mmdet rescales with the per-axis factors *before* thresholding and NMS
    import torchvision

    raw = torch.from_numpy(got["img1_raw_output"][0])
    probs, labels = raw[:, 5:].max(1)
    keep = raw[:, 4] * probs >= 0.1
    cx, cy, w, h = raw[keep, :4].unbind(1)
    sx, sy = (float(v) for v in got["img1_scale_factor"])
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1) / torch.tensor([sx, sy, sx, sy])
    scores = raw[keep, 4] * probs[keep]
    order = torchvision.ops.batched_nms(boxes, scores, labels[keep], 0.45)
    assert_dets_equal(
        got["img1_dets_orig"],
        torch.cat(
            [boxes[order], raw[keep][order, 4:5], probs[keep][order, None], labels[keep][order, None].float()], 1
        ).numpy(),
        1e-3,
    )
