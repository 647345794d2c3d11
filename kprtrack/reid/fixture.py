"""``kpr`` mode of ``kprtrack check-fixture``: the full path from crops + keypoints on a fixture folder.

A fixture folder (laid out like ``../shared/fixtures/kpr_reference/``) holds ``checkpoint.pth.tar``
(released format), optionally ``architecture.json``, ``inputs.npz`` with ``crop_i`` (RGB uint8),
``pos_i`` ``(17, 3)`` and ``neg_i`` ``(n, 17, 3)`` in crop pixels, and optionally ``expected.npz``.
All samples run as one batch, like the reference outputs were computed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kprtrack.fixture_check import FixtureOutputs, tolerance_table
from kprtrack.reid.checkpoint import load_kpr_checkpoint
from kprtrack.reid.distance import part_based_distance
from kprtrack.reid.embedder import KPREmbedder
from kprtrack.reid.head import KPROutput
from kprtrack.reid.prompts import clip_keypoints, pad_negatives, scale_keypoints

#: Absolute tolerance of an ``expected.npz`` key (README tolerances): visibilities (booleans) exact,
#: preprocessing 1e-6, model outputs 1e-4, distances 1e-4 off the diagonal and 1e-3 on it (one
#: tolerance per key, so distance keys use the diagonal's), keypoints exact float64.
tolerance = tolerance_table(
    {
        0.0: ("visibility_*", "test_visibility_*"),
        1e-6: ("image_tensor_*", "prompt_masks_*"),
        1e-9: ("keypoints_resized_*", "negative_keypoints_resized_*"),
        1e-3: ("dist*", "synthetic_dist*"),
    },
    default=1e-4,
)


def load_inputs(path: Path) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """``crop_i``, ``pos_i`` and ``neg_i`` of an ``inputs.npz``, in index order."""
    if not path.is_file():
        raise FileNotFoundError(f"fixture inputs not found: {path}")
    crops, pos, neg = [], [], []
    with np.load(path, allow_pickle=False) as data:
        i = 0
        while f"crop_{i}" in data.files:
            for key in (f"pos_{i}", f"neg_{i}"):
                if key not in data.files:
                    raise KeyError(f"{path}: missing {key!r} for crop_{i}")
            crops.append(np.ascontiguousarray(data[f"crop_{i}"]))
            pos.append(np.asarray(data[f"pos_{i}"], dtype=np.float64))
            neg.append(np.asarray(data[f"neg_{i}"], dtype=np.float64).reshape(-1, 17, 3))
            i += 1
    if not crops:
        raise ValueError(f"{path}: no crop_0 entry")
    return crops, np.stack(pos), neg


def _sample_outputs(out: KPROutput, images: torch.Tensor, prompts: torch.Tensor | None) -> dict[str, np.ndarray]:
    """Per-sample model inputs and outputs, ``<name>_<i>`` as in ``expected.npz``."""
    emb = out.embeddings
    test_emb = out.test_embeddings.float()
    arrays: dict[str, np.ndarray] = {}
    for i in range(len(images)):
        arrays[f"image_tensor_{i}"] = images[i].numpy()
        if prompts is not None:
            arrays[f"prompt_masks_{i}"] = prompts[i].numpy()
        arrays[f"parts_{i}"] = emb["parts"][i].numpy()
        arrays[f"foreg_{i}"] = emb["bn_foreg"][i].numpy()
        arrays[f"visibility_{i}"] = out.visibility["parts"][i].numpy()
        arrays[f"part_attention_{i}"] = out.part_attention[i].numpy()
        arrays[f"pixel_logits_{i}"] = out.pixel_logits[i].numpy()
        arrays[f"test_masks_{i}"] = out.test_masks[i].numpy()
        arrays[f"test_embeddings_{i}"] = F.normalize(test_emb[i], p=2, dim=-1).numpy()
        arrays[f"test_visibility_{i}"] = out.test_visibility[i].numpy()
        arrays[f"globl_{i}"] = emb["globl"][i].numpy()
        arrays[f"foreg_raw_{i}"] = emb["foreg"][i].numpy()
        arrays[f"bn_parts_{i}"] = emb["bn_parts"][i].numpy()
        for s, feat in enumerate(out.stage_features):
            arrays[f"stage{s}_mean_{i}"] = feat[i].mean(dim=(1, 2)).numpy()
        arrays[f"spatial_features_mean_{i}"] = out.spatial_features[i].mean(dim=(1, 2)).numpy()
    arrays["spatial_features_0"] = out.spatial_features[0].contiguous().numpy()
    return arrays


def _resized_keypoints(
    crops: list[np.ndarray], pos: np.ndarray, neg: list[np.ndarray], image_size: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Positive and negative keypoints clipped to their crop and resized to the model input, per sample."""
    sizes = torch.tensor([[c.shape[1], c.shape[0]] for c in crops], dtype=torch.float64)
    kp_resized = scale_keypoints(clip_keypoints(torch.from_numpy(pos), sizes), sizes, image_size)
    neg_resized = scale_keypoints(clip_keypoints(pad_negatives(neg, len(crops)), sizes), sizes, image_size)
    arrays: dict[str, np.ndarray] = {}
    for i in range(len(crops)):
        arrays[f"keypoints_resized_{i}"] = kp_resized[i].numpy()
        arrays[f"negative_keypoints_resized_{i}"] = neg_resized[i, : len(neg[i])].numpy()
    return arrays


def _distances(test_emb: torch.Tensor, visibility: torch.Tensor, expected: Path) -> dict[str, np.ndarray]:
    """Part-based distances of the batch to itself, also with the reference's synthetic visibility if given."""
    dist, per_part = part_based_distance(test_emb, visibility, test_emb, visibility)
    arrays = {"dist": dist.numpy(), "dist_half": (dist / 2).numpy(), "dist_body_parts": per_part.numpy()}
    if expected.is_file():
        with np.load(expected, allow_pickle=False) as data:
            if "synthetic_test_visibility" in data.files:
                syn_vis = torch.from_numpy(data["synthetic_test_visibility"])
                syn, syn_parts = part_based_distance(test_emb, syn_vis, test_emb, syn_vis)
                arrays["synthetic_dist"] = syn.numpy()
                arrays["synthetic_dist_body_parts"] = syn_parts.numpy()
    return arrays


def run_fixture(fixture_dir: Path) -> FixtureOutputs:
    """Load the fixture's checkpoint and inputs, run preprocessing + model + distance, name outputs as expected.npz."""
    fixture_dir = Path(fixture_dir)
    arch = fixture_dir / "architecture.json"
    model, _ = load_kpr_checkpoint(fixture_dir / "checkpoint.pth.tar", arch if arch.is_file() else None)
    embedder = KPREmbedder(model, device="cpu", normalize=False, max_batch=1 << 30)
    crops, pos, neg = load_inputs(fixture_dir / "inputs.npz")
    with torch.inference_mode():
        images, prompts = embedder.preprocess(crops, pos, neg)
        out = embedder.run_model(images, prompts)
    arrays = _sample_outputs(out, images, prompts)
    arrays.update(_resized_keypoints(crops, pos, neg, model.config.image_size))
    arrays.update(_distances(out.test_embeddings.float(), out.test_visibility, fixture_dir / "expected.npz"))
    return FixtureOutputs(arrays=arrays, tolerance=tolerance)
