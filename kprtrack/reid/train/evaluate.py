"""ReID evaluation: Rank-1 and mAP, single query, no re-ranking, with or without keypoint prompts.

Every query is ranked against the whole gallery with the KPR part-based distance
(:func:`kprtrack.reid.distance.part_based_distance`); the Occluded-PoseTrack-ReID protocol uses
no camera filter (the reference ``mot_inter_intra_video`` setting), and a query never appears in
the gallery. Queries without any true match in the gallery are skipped (as torchreid does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kprtrack.reid.distance import part_based_distance
from kprtrack.reid.embedder import KPREmbedder
from kprtrack.reid.model import KPR
from kprtrack.reid.train.data import ReIDRecord, load_records, read_crop


@dataclass(frozen=True)
class ReIDMetrics:
    """Retrieval quality.

    Attributes:
        rank1: share of queries whose nearest gallery sample has the query's identity.
        mAP: mean average precision over the queries.
        num_queries: queries evaluated (those with at least one true match).
    """

    rank1: float
    mAP: float
    num_queries: int

    def as_percent(self) -> dict[str, float | int]:
        """``{"rank1": %, "mAP": %, "queries": n}``."""
        return {"rank1": round(100 * self.rank1, 2), "mAP": round(100 * self.mAP, 2), "queries": self.num_queries}


def rank1_map(
    distmat: np.ndarray | torch.Tensor, query_pids: Sequence[int], gallery_pids: Sequence[int]
) -> ReIDMetrics:
    """Rank-1 and mAP from a distance matrix.

    Args:
        distmat: ``(M, N)`` query x gallery distances (smaller = more similar). Ties are broken by
            gallery order (stable sort).
        query_pids: ``M`` identity labels.
        gallery_pids: ``N`` identity labels.

    AP of a query is the mean, over its true matches, of the precision at the rank of each match.
    """
    d = distmat.numpy() if isinstance(distmat, torch.Tensor) else np.asarray(distmat)
    q = np.asarray(query_pids)
    g = np.asarray(gallery_pids)
    if d.shape != (len(q), len(g)):
        raise ValueError(f"distmat: expected shape ({len(q)}, {len(g)}), got {d.shape}")
    order = np.argsort(d, axis=1, kind="stable")
    matches = g[order] == q[:, None]
    valid = matches.any(axis=1)
    if not valid.any():
        return ReIDMetrics(0.0, 0.0, 0)
    m = matches[valid]
    rank1 = float(m[:, 0].mean())
    hits = np.cumsum(m, axis=1)
    ranks = np.arange(1, m.shape[1] + 1)
    ap = ((hits / ranks) * m).sum(axis=1) / m.sum(axis=1)
    return ReIDMetrics(rank1, float(ap.mean()), int(valid.sum()))


def extract(
    model: KPR,
    records: Sequence[ReIDRecord],
    use_prompts: bool = True,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Test descriptors of crops, through the tracking pipeline's embedder preprocessing.

    Args:
        model: the KPR model (its training mode is restored afterwards).
        records: crops to embed (keypoints and negatives in crop pixels).
        use_prompts: feed the keypoint prompts (``False``: the prompt-optional mode).
        batch_size: crops per forward.
        device: where to run.

    Returns:
        ``embeddings (N, P, D)`` float32 (L2-normalised per entry) and ``visibility (N, P)`` bool.
    """
    was_training = model.training
    embedder = KPREmbedder(model, device=device, use_prompts=use_prompts, max_batch=batch_size)
    embs, viss = [], []
    try:
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            crops = [read_crop(r)[0] for r in chunk]
            out = embedder.embed_crops(
                crops, [r.keypoints for r in chunk], [r.negatives for r in chunk] if use_prompts else None
            )
            embs.append(out.embeddings)
            viss.append(out.visibility)
    finally:
        model.train(was_training)
    return np.concatenate(embs), np.concatenate(viss)


def evaluate_reid(
    model: KPR,
    data_root: str | os.PathLike[str],
    use_prompts: bool = True,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> dict[str, ReIDMetrics]:
    """Rank-1 / mAP of ``model`` on the query/gallery splits of an Occluded-PoseTrack-ReID folder.

    Returns:
        ``{"all": ..., "multi_person": ...}``: over every query, and over the queries with
        multi-person occlusion (MPOL > 0: another person's keypoints inside the box). The gallery
        is the full gallery in both cases.
    """
    root = Path(data_root)
    queries = load_records(root, "query")
    gallery = load_records(root, "gallery")
    q_emb, q_vis = extract(model, queries, use_prompts, batch_size, device)
    g_emb, g_vis = extract(model, gallery, use_prompts, batch_size, device)
    dist, _ = part_based_distance(q_emb, q_vis, g_emb, g_vis, normalize=False)
    q_pids = [r.pid for r in queries]
    g_pids = [r.pid for r in gallery]
    mpo = np.array([r.mpol > 0 for r in queries])
    dist_np = dist.numpy()
    return {
        "all": rank1_map(dist_np, q_pids, g_pids),
        "multi_person": rank1_map(dist_np[mpo], [p for p, m in zip(q_pids, mpo) if m], g_pids),
    }


def metrics_row(results: dict[str, ReIDMetrics], prefix: str = "") -> dict[str, Any]:
    """Flatten :func:`evaluate_reid` output into percent columns (``{prefix}all_rank1``, ...)."""
    row: dict[str, Any] = {}
    for subset, m in results.items():
        row[f"{prefix}{subset}_rank1"] = round(100 * m.rank1, 2)
        row[f"{prefix}{subset}_mAP"] = round(100 * m.mAP, 2)
    return row
