"""Experiment (negative result): part pooling of the OMZ re-id feature map over keypoint-derived body parts.

For every evaluated pedestrian of ``mot17_mini`` (ground-truth boxes), PP-TinyPose 256x192 (the
OpenVINO IR in ``../shared/real/pose/pptinypose``; needs the ``openvino`` package) estimates 17 COCO
joints; each of the 8 KPR parts (``cck8`` joint groups: head, arms, torso, legs, feet) gets a mask on
the 16x8 feature map (maximum of gaussians of ``--sigma`` cells around its joints scoring over the
threshold; the part is visible when one of them does). Two ways to pool a part:

* ``average``: masked average of the last feature map (C channels, zero-padded to D);
* ``head``: the head's learned depthwise pooling with the mask (rescaled to mean 1) multiplied in,
  then the head's linear layer and PReLU (a D-vector in the global embedding's space).

Descriptors ``(N, 1 + 8, D)`` (global first) are compared with the tracker's part distance and the
same pairs as ``tools/eval_real_reid.py``. The figures are in ``docs/reid_omz.md``: the parts make
every figure worse, so the embedder does not offer them. Nothing derived from the frames is written.

    python tools/eval_omz_part_pooling.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tools"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from eval_real_reid import REAL, Crops, clip_names, gt_frames, match_summary, pair_distances  # noqa: E402

from kprtrack.pose.codecs import heatmap_maximum, refine_dark_udp  # noqa: E402
from kprtrack.pose.transforms import bbox_xyxy_to_center_scale, fix_aspect_ratio, get_udp_warp_matrix  # noqa: E402
from kprtrack.reid.embedder import crop_boxes  # noqa: E402
from kprtrack.reid.omz_embedder import OMZReidEmbedder  # noqa: E402
from kprtrack.reid.prompts import PROMPT_GROUPINGS  # noqa: E402

PARTS = tuple(PROMPT_GROUPINGS["cck8"].values())
POSE_XML = REAL / "pose" / "pptinypose" / "ov_fp16_tinypose_256_192.xml"
POSE_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
POSE_STD = np.array([0.229, 0.224, 0.225], np.float32)


class TinyPose:
    """PP-TinyPose 256x192 in OpenVINO: UDP crop (box x1.25), argmax + DARK-UDP, back to frame pixels."""

    def __init__(self) -> None:
        import openvino as ov

        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": 1, "CPU_DENORMALS_OPTIMIZATION": True}
        self.model = core.compile_model(core.read_model(str(POSE_XML)), "CPU", config)

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """``(N, 17, 3)`` ``x, y, score`` in frame pixels."""
        centers, scales = bbox_xyxy_to_center_scale(boxes, 1.25)
        scales = fix_aspect_ratio(scales, 192 / 256)
        out = np.zeros((len(boxes), 17, 3), np.float32)
        for i in range(len(boxes)):
            mat = get_udp_warp_matrix(centers[i], scales[i], (192, 256))
            crop = cv2.warpAffine(frame, mat, (192, 256), flags=cv2.INTER_LINEAR)
            x = ((crop.astype(np.float32) / 255 - POSE_MEAN) / POSE_STD).transpose(2, 0, 1)[None]
            heatmaps = self.model(x)[0].astype(np.float32)
            locs, vals = heatmap_maximum(heatmaps)
            crop_xy = refine_dark_udp(locs, heatmaps, 3)[0] * np.array([191 / 47, 255 / 63], np.float32)
            inv = cv2.invertAffineTransform(mat)
            out[i, :, :2] = crop_xy @ inv[:, :2].T + inv[:, 2]
            out[i, :, 2] = vals[0]
        return out


def part_masks(cells: np.ndarray, scores: np.ndarray, thr: float, sigma: float, size=(16, 8)):
    """``(K, h, w)`` masks and ``(K,)`` visibility from joints in feature cells ``(17, 2)``."""
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float64)
    masks = np.zeros((len(PARTS), *size))
    for k, joints in enumerate(PARTS):
        for j in joints:
            if scores[j] > thr:
                g = np.exp(-((xx - cells[j, 0]) ** 2 + (yy - cells[j, 1]) ** 2) / (2 * sigma**2))
                masks[k] = np.maximum(masks[k], g)
    return masks, masks.sum((1, 2)) > 1e-3


def part_entries(embedder: OMZReidEmbedder, fmap: torch.Tensor, masks: np.ndarray, vis: np.ndarray, mode: str):
    """``(K, D)`` normalised part vectors (zero where invisible)."""
    head = embedder.model.head
    out = np.zeros((len(PARTS), embedder.dim), np.float32)
    f = fmap.numpy().astype(np.float64)  # (C, h, w)
    for k in np.flatnonzero(vis):
        m = masks[k]
        if mode == "average":
            v = (f * m).sum((1, 2)) / m.sum()
        else:
            w = head.pool.weight.detach().numpy()[:, 0].astype(np.float64)
            pooled = (w * f * m * (m.size / m.sum())).sum((1, 2)) + head.pool.bias.detach().numpy()
            with torch.inference_mode():
                v = head.embed(torch.from_numpy(pooled[None].astype(np.float32)))[0].numpy()
        out[k, : len(v)] = v / max(np.linalg.norm(v), 1e-12)
    return out


def evaluate(items: list[dict], emb: np.ndarray, vis: np.ndarray, title: str, occluded_only: bool = False) -> None:
    """Print the pair figures of descriptors ``emb (N, P, D)`` / ``vis (N, P)`` of ``items``; ``occluded_only``:
    only the pairs with a crop of visibility < 0.5."""
    clips = []
    for seq in sorted({it["seq"] for it in items}):
        idx = np.array([i for i, it in enumerate(items) if it["seq"] == seq])
        column = {key: np.array([items[i][key] for i in idx]) for key in ("frame", "id", "visibility", "height")}
        clips.append(
            Crops(seq, column["frame"], column["id"], column["visibility"], column["height"], emb[idx], vis[idx])
        )
    keep = (lambda c: c.visibility < 0.5) if occluded_only else None
    pos, neg, _ = pair_distances(clips, keep, either=True)
    auc, thr, false_rate = match_summary(pos, neg)
    print(
        f"{title:62s} {len(pos):5d}/{len(neg):5d} pairs  AUC {auc:.4f}  "
        f"d95 {thr:.3f}  false-match rate there {false_rate:.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights" / "omz_reid_0288.pth")
    parser.add_argument("--mot17", type=Path, default=REAL / "mot17_mini")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    embedder = OMZReidEmbedder.from_checkpoint(args.weights)
    pose = TinyPose()
    items = []
    for seq in clip_names(args.mot17):
        for f, frame, sel, boxes in gt_frames(args.mot17, seq):
            kps = pose.estimate(frame, boxes.astype(np.float32))
            windows = crop_boxes(frame.shape[:2], boxes)
            x = embedder.preprocess([frame[t:b, l:r] for l, t, r, b in windows])
            glob = embedder.forward(x).numpy()
            with torch.inference_mode():
                fmap = embedder.model.feature_map(x)
            h, w = fmap.shape[2:]
            cell = np.stack([(windows[:, 2] - windows[:, 0]) / w, (windows[:, 3] - windows[:, 1]) / h], 1)
            cells = (kps[:, :, :2] - windows[:, None, :2]) / cell[:, None] - 0.5
            for i in range(len(sel)):
                items.append(dict(seq=seq, frame=f, id=int(sel[i, 1]), visibility=sel[i, 8], height=sel[i, 5],
                                  glob=glob[i], fmap=fmap[i], cells=cells[i], scores=kps[i, :, 2]))  # fmt: skip
    n = len(items)
    glob = np.stack([it["glob"] for it in items])[:, None]
    ones = np.ones((n, 1), bool)
    evaluate(items, glob, ones, "global only")
    variants = {"average": (0.3, 1.0), "head": (0.5, 1.0)}
    parts = {}
    for mode, (thr, sigma) in variants.items():
        rows, vis = [], []
        for it in items:
            masks, v = part_masks(it["cells"], it["scores"], thr, sigma)
            rows.append(part_entries(embedder, it["fmap"], masks, v, mode))
            vis.append(v)
        parts[mode] = (np.concatenate([glob, np.stack(rows)], 1), np.concatenate([ones, np.stack(vis)], 1))
        evaluate(items, *parts[mode], f"global + 8 {mode} parts (score > {thr}, sigma {sigma} cell)")
    evaluate(items, glob, ones, "occluded pairs (a crop with visibility < 0.5): global only", occluded_only=True)
    evaluate(items, *parts["head"], "occluded pairs: global + 8 head parts", occluded_only=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
