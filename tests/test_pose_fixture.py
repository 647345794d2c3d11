"""Parity with mmpose 1.3.2 on ../shared/fixtures/hrnet_mmpose_reference (tolerances of its README)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.conftest import require_fixture

NAME = "hrnet_mmpose_reference"

@pytest.fixture(scope="module")
def fixture_path():
    return require_fixture(NAME)


@pytest.fixture(scope="module")
def expected(fixture_path):
    with np.load(fixture_path / "expected.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def inputs(fixture_path):
    with np.load(fixture_path / "inputs.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def model(fixture_path):
    from kprtrack.pose.checkpoint import load_pose_model

    return load_pose_model(fixture_path / "checkpoint.pth", config=fixture_path / "config.py")


@pytest.fixture(scope="module")
def outputs(fixture_path):
    from kprtrack.pose.fixture import run_fixture

    return run_fixture(fixture_path)


def _images(expected):
    return range(int(expected["num_images"]))


def test_full_path_matches_every_expected_key(outputs, fixture_path):
    from kprtrack.fixture_check import compare

    rows = compare(outputs, fixture_path / "expected.npz")
    with np.load(fixture_path / "expected.npz") as data:
        assert {r.key for r in rows} == set(data.files), "some expected keys were not produced"
    bad = [f"{r.key}: {r.max_abs_diff:.3g} > {r.tolerance:.3g} {r.note}" for r in rows if not r.ok]
    assert not bad, bad


def test_full_path_tolerances_are_the_readme_ones(outputs):
    tol = outputs.tolerance
    assert tol("img0_crop_bgr") == 0.0
    assert tol("img0_heatmaps_flip") == pytest.approx(1e-4)
    assert tol("img1_heatmaps_flipped_input_raw") == pytest.approx(1e-4)
    assert tol("img0_keypoint_scores_noflip") == pytest.approx(1e-4)
    assert tol("img1_keypoints_flip") == pytest.approx(1e-3)  # the reference marks no keypoint unstable


def test_preprocessing_is_exact(outputs, expected):
    for i in _images(expected):
        for key in (f"img{i}_input_center", f"img{i}_input_scale", f"img{i}_crop_bgr"):
            got = outputs.arrays[key]
            assert got.dtype == expected[key].dtype, key
            np.testing.assert_array_equal(got, expected[key], err_msg=key)


def test_network_on_reference_crops(model, expected):
    """The network alone, fed mmpose's own crops (README: test it separately from the warp)."""
    from kprtrack.pose.model import predict_heatmaps
    from kprtrack.pose.transforms import normalize_crops

    net, cfg = model
    p = cfg.pipeline
    for i in _images(expected):
        x = normalize_crops(expected[f"img{i}_crop_bgr"], p.mean, p.std, swap_channels=True)  # BGR -> RGB
        with torch.inference_mode():
            merged, original, flipped = predict_heatmaps(net, x, p.flip_indices, p.shift_heatmap)
        np.testing.assert_allclose(original.numpy(), expected[f"img{i}_heatmaps_noflip"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(flipped.numpy(), expected[f"img{i}_heatmaps_flipped_input_raw"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(merged.numpy(), expected[f"img{i}_heatmaps_flip"], rtol=0, atol=1e-4)


def test_flip_merge_on_reference_heatmaps(expected):
    """flip back + permute + shift right + average, on the reference's own arrays."""
    from kprtrack.keypoints import FLIP_INDEX
    from kprtrack.pose.model import flip_heatmaps

    for i in _images(expected):
        raw = torch.from_numpy(expected[f"img{i}_heatmaps_flipped_input_raw"])
        merged = (torch.from_numpy(expected[f"img{i}_heatmaps_noflip"]) + flip_heatmaps(raw, FLIP_INDEX, True)) * 0.5
        np.testing.assert_allclose(merged.numpy(), expected[f"img{i}_heatmaps_flip"], rtol=0, atol=1e-6)


def test_decoder_on_reference_heatmaps(model, expected):
    """MSRA decode + back-projection of the reference heatmaps reproduce the reference keypoints and scores."""
    from kprtrack.pose.codecs import HeatmapCodec
    from kprtrack.pose.transforms import keypoints_to_image

    _, cfg = model
    codec = HeatmapCodec(cfg.codec)
    n_unset = 0
    for i in _images(expected):
        for tag in ("flip", "noflip"):
            kp, scores = codec.decode(expected[f"img{i}_heatmaps_{tag}"])
            kp = keypoints_to_image(kp, expected[f"img{i}_input_center"], expected[f"img{i}_input_scale"], (192, 256))
            np.testing.assert_allclose(kp, expected[f"img{i}_keypoints_{tag}"], rtol=0, atol=1e-3)
            np.testing.assert_array_equal(scores, expected[f"img{i}_keypoint_scores_{tag}"])
            n_unset += int((scores <= 0).sum())
    assert n_unset == 4  # README: four non-positive maps in the flip-off outputs decode to (-1, -1)


def test_config_sources_agree(fixture_path, model):
    """config.py, architecture.json, the config text in the checkpoint meta and the tensor shapes agree."""
    from kprtrack.checkpoints import extract_state_dict, load_checkpoint
    from kprtrack.pose.checkpoint import load_pose_model
    from kprtrack.pose.infer import infer_pose_config
    from kprtrack.pose.mmconfig import pose_config_from_architecture_json

    _, from_py = model
    from_json = pose_config_from_architecture_json(fixture_path / "architecture.json")
    _, from_meta = load_pose_model(fixture_path / "checkpoint.pth")
    inferred = infer_pose_config(extract_state_dict(load_checkpoint(fixture_path / "checkpoint.pth")))
    for other in (from_json, from_meta, inferred):
        assert dataclasses.replace(other, name="x") == dataclasses.replace(from_py, name="x")
    assert from_py.keypoint_format == "coco17"
    assert from_py.pipeline.flip_test and from_py.pipeline.shift_heatmap and from_py.codec.variant == "msra"


def test_checkpoint_facts(model):
    net, _ = model
    sd = net.state_dict()
    assert len(sd) == 1754
    assert sum(p.numel() for p in net.parameters()) == 2_139_305


def test_check_fixture_cli(fixture_path):
    from click.testing import CliRunner

    from kprtrack.cli.check_fixture import command

    result = CliRunner().invoke(command, ["hrnet", str(fixture_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "25/25 keys within tolerance" in result.output


def test_estimate_api_matches_reference(fixture_path, inputs, expected):
    """The stage interface (RGB frame in, (N, 17, 3) out) gives mmpose's flip-test keypoints and scores."""
    from kprtrack.pose.estimator import HRNetPoseEstimator

    est = HRNetPoseEstimator.from_checkpoint(fixture_path / "checkpoint.pth")
    assert est.keypoint_format == "coco17" and est.flip_test
    for i in _images(expected):
        rgb = np.ascontiguousarray(inputs[f"img{i}"][..., ::-1])
        out = est.estimate(rgb, inputs[f"img{i}_bboxes_xyxy"])
        assert out.shape == (len(inputs[f"img{i}_bboxes_xyxy"]), 17, 3) and out.dtype == np.float32
        np.testing.assert_allclose(out[..., :2], expected[f"img{i}_keypoints_flip"], rtol=0, atol=1e-3)
        np.testing.assert_allclose(out[..., 2], expected[f"img{i}_keypoint_scores_flip"], rtol=0, atol=1e-4)


@pytest.mark.parametrize("variant", ["dark", "udp"])
def test_checker_honours_dark_and_udp_configs(fixture_path, expected, tmp_path, variant):
    """A fixture folder whose config names DARK or UDP is decoded (and, for UDP, warped) accordingly."""
    import shutil

    from kprtrack.pose.fixture import run_fixture

    text = (fixture_path / "config.py").read_text()
    if variant == "dark":
        text = text.replace("type='MSRAHeatmap')", "type='MSRAHeatmap', unbiased=True)")
    else:
        text = text.replace("type='MSRAHeatmap')", "type='UDPHeatmap')")
        text = text.replace("type='TopdownAffine')", "type='TopdownAffine', use_udp=True)")
        text = text.replace("shift_heatmap=True", "shift_heatmap=False")
    assert text.count("unbiased=True" if variant == "dark" else "UDPHeatmap") >= 3  # codec, decoder, encoder
    (tmp_path / "config.py").write_text(text)
    for name in ("checkpoint.pth", "inputs.npz"):
        shutil.copy(fixture_path / name, tmp_path / name)
    out = run_fixture(tmp_path).arrays
    assert set(out) == set(expected)
    crops_same = np.array_equal(out["img0_crop_bgr"], expected["img0_crop_bgr"])
    assert crops_same == (variant == "dark")  # UDP uses its own warp matrix
    if variant == "dark":  # same network input: same heatmaps, refined by DARK instead of the quarter shift
        np.testing.assert_allclose(out["img0_heatmaps_flip"], expected["img0_heatmaps_flip"], atol=1e-4)
        assert np.isfinite(out["img0_keypoints_flip"]).all()
        assert not np.allclose(out["img0_keypoints_flip"], expected["img0_keypoints_flip"], atol=1e-3)
