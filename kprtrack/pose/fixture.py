"""``hrnet`` mode of the fixture checker: the full path on a folder laid out like ``hrnet_mmpose_reference``.

The folder holds ``checkpoint.pth`` (mmpose ``{'meta', 'state_dict'}``), ``inputs.npz`` (``num_images``,
``img{i}`` BGR uint8 images and ``img{i}_bboxes_xyxy`` boxes) and optionally ``config.py`` (read safely)
or ``architecture.json``; without either, the config stored in the checkpoint is used. Every image
goes through :class:`HRNetPoseEstimator` twice, with and without the flip test, from the image
(converted to RGB, the pipeline convention) and its boxes; like mmpose's ``inference_topdown``, an
image without boxes is processed as one whole-image box.

Tolerances (the fixture README's): crops exact, centre/scale 1e-3 px, heatmaps 1e-4, scores 1e-4,
keypoints 1e-3 px. Keypoints the reference flags as unstable (``*_sensitivity`` > 0: they move when
the heatmaps get 1e-5 noise) get that much extra tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kprtrack.fixture_check import FixtureOutputs, load_image_inputs, tolerance_table
from kprtrack.pose.checkpoint import load_pose_model
from kprtrack.pose.codecs import HeatmapCodec
from kprtrack.pose.estimator import HRNetPoseEstimator
from kprtrack.pose.transforms import keypoints_to_image

#: Noise protocol of the ``*_sensitivity`` outputs.
SENSITIVITY_SIGMA = 1e-5
SENSITIVITY_DRAWS = 16

#: Tolerance of each output; keypoints also get the reference's sensitivity (see :func:`run_fixture`).
_TOLERANCES = tolerance_table(
    {
        0.0: ("num_images", "*_crop_bgr"),
        1e-3: ("*_input_center", "*_input_scale", "*_sensitivity", "*_keypoints_flip", "*_keypoints_noflip"),
        1e-4: ("*_keypoint_scores_*", "*_heatmaps_flip", "*_heatmaps_noflip", "*_heatmaps_flipped_input_raw"),
    },
    default=1e-4,
)


def keypoint_sensitivity(
    codec: HeatmapCodec,
    heatmaps: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    input_size: tuple[int, int],
    sigma: float = SENSITIVITY_SIGMA,
    draws: int = SENSITIVITY_DRAWS,
    seed: int = 0,
) -> np.ndarray:
    """Largest keypoint move (frame pixels) when the heatmaps get ``N(0, sigma^2)`` noise.

    Args:
        codec: the decoder.
        heatmaps: ``(N, K, H, W)`` float32.
        centers: ``(N, 2)``.
        scales: ``(N, 2)``.
        input_size: crop ``(w, h)``.
        sigma: noise standard deviation.
        draws: number of noisy decodes.
        seed: RNG seed.

    Returns:
        ``(N, K)`` float32, 0 where the decode is stable.
    """
    rng = np.random.default_rng(seed)
    base = keypoints_to_image(codec.decode(heatmaps)[0], centers, scales, input_size)
    worst = np.zeros(base.shape[:2], dtype=np.float32)
    for _ in range(draws):
        noisy = heatmaps + rng.normal(0.0, sigma, heatmaps.shape).astype(np.float32)
        moved = keypoints_to_image(codec.decode(noisy)[0], centers, scales, input_size)
        worst = np.maximum(worst, np.linalg.norm(moved - base, axis=-1))
    return worst


def _config_source(fixture_dir: Path) -> Path | None:
    for name in ("config.py", "architecture.json"):
        if (fixture_dir / name).is_file():
            return fixture_dir / name
    return None


def _image_outputs(
    rgb: np.ndarray,
    boxes: np.ndarray,
    with_flip: HRNetPoseEstimator,
    without_flip: HRNetPoseEstimator,
    input_size: tuple[int, int],
) -> dict[str, np.ndarray]:
    """One image's outputs, named as in ``expected.npz`` without the ``img{i}_`` prefix.

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        boxes: ``(N, 4)`` float32 xyxy; none means the whole image (as mmpose's ``inference_topdown``).
        with_flip: the estimator with the flip test.
        without_flip: the same network without it.
        input_size: crop ``(w, h)``.
    """
    if len(boxes) == 0:
        boxes = np.array([[0, 0, rgb.shape[1], rgb.shape[0]]], dtype=np.float32)
    flip = with_flip.predict(rgb, boxes)
    plain = without_flip.predict(rgb, boxes)
    out = {
        "input_center": flip.centers,
        "input_scale": flip.scales,
        "crop_bgr": np.ascontiguousarray(flip.crops[..., ::-1]),
        "heatmaps_flip": flip.heatmaps,
    }
    if flip.heatmaps_flipped_raw is not None:
        out["heatmaps_flipped_input_raw"] = flip.heatmaps_flipped_raw
    out["heatmaps_noflip"] = plain.heatmaps
    for tag, pred in (("flip", flip), ("noflip", plain)):
        out[f"keypoints_{tag}"] = pred.keypoints
        out[f"keypoint_scores_{tag}"] = pred.scores
        out[f"keypoints_{tag}_sensitivity"] = keypoint_sensitivity(
            with_flip.codec, pred.heatmaps, pred.centers, pred.scales, input_size
        )
    return out


def run_fixture(fixture_dir: str | Path) -> FixtureOutputs:
    """Compute every ``expected.npz`` key of an HRNet fixture folder through the full path.

    Args:
        fixture_dir: the folder.

    Returns:
        Outputs named like ``expected.npz`` and their tolerances.
    """
    fixture_dir = Path(fixture_dir)
    if not (fixture_dir / "checkpoint.pth").is_file():
        raise FileNotFoundError(f"{fixture_dir}: checkpoint.pth is missing")
    num_images, inputs = load_image_inputs(fixture_dir / "inputs.npz", ("img{i}", "img{i}_bboxes_xyxy"))
    net, cfg = load_pose_model(fixture_dir / "checkpoint.pth", config=_config_source(fixture_dir))
    with_flip = HRNetPoseEstimator(net, flip_test=True)
    without_flip = HRNetPoseEstimator(net, flip_test=False)
    arrays: dict[str, np.ndarray] = {"num_images": np.asarray(num_images, dtype=np.int64)}
    for i in range(num_images):
        rgb = np.ascontiguousarray(inputs[f"img{i}"][..., ::-1])  # cv2 BGR -> the pipeline's RGB
        boxes = np.asarray(inputs[f"img{i}_bboxes_xyxy"], dtype=np.float32).reshape(-1, 4)
        outputs = _image_outputs(rgb, boxes, with_flip, without_flip, cfg.pipeline.input_size)
        arrays.update({f"img{i}_{key}": value for key, value in outputs.items()})
    extra = _reference_sensitivity(fixture_dir / "expected.npz")

    def tolerance(key: str) -> float:
        return _TOLERANCES(key) + extra.get(key, 0.0)  # extra: keypoints the reference flags as unstable

    return FixtureOutputs(arrays=arrays, tolerance=tolerance)


def _reference_sensitivity(expected: Path) -> dict[str, float]:
    """Keypoint key -> the reference's largest ``*_sensitivity`` (extra tolerance for unstable keypoints)."""
    if not expected.is_file():
        return {}
    out: dict[str, float] = {}
    with np.load(expected, allow_pickle=False) as ref:
        for key in ref.files:
            if key.endswith("_sensitivity") and ref[key].size:
                out[key[: -len("_sensitivity")]] = float(np.max(ref[key]))
    return out
