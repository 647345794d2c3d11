"""Keypoint HOTA exactly as the PoseTrack21 kit's ``HOTAeypoints`` metric.

Per labelled frame and joint type, one Hungarian assignment on the keypoint similarity serves all
19 alphas; counts, association (AssA/AssRe/AssPr), fragmentation (FragA) and localisation (LocA)
follow the kit, including its quirks. TrackEval's HOTA cannot be reused as is: the kit matches
per joint, does not weight the matching score by the global alignment score, and adds FragA.
Here the per-alpha accumulation is vectorised over all matches of a sequence instead of the
kit's per-frame, per-alpha loops. Exact definitions: docs/eval.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from kprtrack.eval.kit_view import KitSequence, similarity
from kprtrack.eval.options import ALPHAS, JOINT_NAMES

EPS = np.finfo(float).eps

#: Float fields with one value per alpha and column.
ARRAY_FIELDS: tuple[str, ...] = (
    "HOTA", "DetA", "AssA", "FragA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "RHOTA", "FA-HOTA", "FA-RHOTA",
)  # fmt: skip
#: Count fields with one value per alpha and column (the Total column is a sum).
COUNT_FIELDS: tuple[str, ...] = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
#: The kit's "(0)" fields: values at the first alpha (0.05).
FIRST_ALPHA_FIELDS: tuple[str, ...] = ("HOTA(0)", "LocA(0)", "HOTALocA(0)", "HOTA_TP(0)", "HOTA_FN(0)", "HOTA_FP(0)")
#: Every field of the kit's summary, in the kit's field order.
SUMMARY_FIELDS: tuple[str, ...] = ARRAY_FIELDS + COUNT_FIELDS

_A = len(ALPHAS)
_J = len(JOINT_NAMES)


@dataclass
class KeypointHota:
    """HOTAeypoints results of one sequence or of the combination of sequences.

    Attributes:
        arrays: ``ARRAY_FIELDS + COUNT_FIELDS`` -> (19, 16): rows are alphas, columns the 15
            joints and ``Total``.
        first_alpha: ``FIRST_ALPHA_FIELDS`` -> (16,).
    """

    arrays: dict[str, np.ndarray]
    first_alpha: dict[str, np.ndarray]

    def summary(self) -> dict[str, float]:
        """Every summary field: the mean over alphas of the Total column, plus the "(0)" totals."""
        out = {k: float(np.mean(self.arrays[k][:, -1])) for k in SUMMARY_FIELDS}
        out.update({k: float(self.first_alpha[k][-1]) for k in FIRST_ALPHA_FIELDS})
        return out

    def per_alpha(self) -> dict[str, list[float]]:
        """Field -> 19 values of the Total column."""
        return {k: [float(v) for v in self.arrays[k][:, -1]] for k in SUMMARY_FIELDS}

    def per_joint(self) -> dict[str, list[float]]:
        """Field -> 16 values (15 joints and Total), each the mean over alphas."""
        return {k: [float(v) for v in self.arrays[k].mean(axis=0)] for k in SUMMARY_FIELDS}


def _final_fields(res: dict[str, np.ndarray]) -> None:
    """Fields derived from TP/FN/FP/AssA/FragA (the kit's ``_compute_final_fields``), in place."""
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    res["RHOTA"] = np.sqrt(res["DetRe"] * res["AssA"])
    res["FA-HOTA"] = np.sqrt(res["DetA"] * np.sqrt(res["AssA"] * res["FragA"]))
    res["FA-RHOTA"] = np.sqrt(res["DetRe"] * np.sqrt(res["AssA"] * res["FragA"]))


def _first_alpha(res: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``(0)`` fields: HOTA, LocA, their product and the counts at the first alpha (copies)."""
    first = {f"{k}(0)": res[k][0].copy() for k in ("HOTA", "LocA", "HOTA_TP", "HOTA_FN", "HOTA_FP")}
    first["HOTALocA(0)"] = first["HOTA(0)"] * first["LocA(0)"]
    return first


def _finish_sequence(raw: dict[str, np.ndarray]) -> KeypointHota:
    """Per-sequence row: final fields per joint, then the Total column (mean of joints / sum of counts)."""
    _final_fields(raw)
    first = _first_alpha(raw)
    arrays = {}
    for k in ARRAY_FIELDS:
        arrays[k] = np.append(raw[k], raw[k].mean(axis=1, keepdims=True), axis=1)
    for k in COUNT_FIELDS:
        arrays[k] = np.append(raw[k], raw[k].sum(axis=1, keepdims=True), axis=1)
    for k in ("HOTA(0)", "LocA(0)", "HOTALocA(0)"):
        first[k] = np.append(first[k], first[k].mean())
    for k in ("HOTA_TP(0)", "HOTA_FN(0)", "HOTA_FP(0)"):
        first[k] = np.append(first[k], first[k].sum())
    return KeypointHota(arrays=arrays, first_alpha={k: first[k] for k in FIRST_ALPHA_FIELDS})


def _empty_raw() -> dict[str, np.ndarray]:
    return {k: np.zeros((_A, _J)) for k in ARRAY_FIELDS + COUNT_FIELDS}


def _gather_matches(seq: KitSequence, gt_uni: np.ndarray, pr_uni: np.ndarray, missing_frame_fn: str) -> tuple:
    """Run the per-frame, per-joint assignments; collect matches and the per-id joint counts."""
    gt_total = sum((f.gt_valid.sum(axis=0) for f in seq.frames), np.zeros(_J))
    pr_total = sum((f.pr_valid.sum(axis=0) for f in seq.frames), np.zeros(_J))
    g_count = np.zeros((gt_uni.size, _J))
    p_count = np.zeros((pr_uni.size, _J))
    base_gt, base_pr, fn_extra, fp_extra = (np.zeros(_J) for _ in range(4))
    cols: list[tuple[np.ndarray, ...]] = []
    for k, f in enumerate(seq.frames):
        g = np.searchsorted(gt_uni, f.gt_ids)
        p = np.searchsorted(pr_uni, f.pr_ids)
        g_count[g] += f.gt_valid
        p_count[p] += f.pr_valid
        if g.size == 0:  # the kit adds the whole sequence's predicted joints (unreachable: rejected on load)
            fp_extra += pr_total
            continue
        if p.size == 0:  # kit quirk: the whole sequence's GT joints (fact 16), or only this frame's
            fn_extra += gt_total if missing_frame_fn == "sequence" else f.gt_valid.sum(axis=0)
            continue
        base_gt += f.gt_valid.sum(axis=0)
        base_pr += f.pr_valid.sum(axis=0)
        sim = similarity(f.distances())
        for j in range(_J):
            rows, cols_j = linear_sum_assignment(-sim[:, :, j])
            s = sim[rows, cols_j, j]
            keep = s >= ALPHAS[0] - EPS
            if keep.any():
                n = int(keep.sum())
                cols.append((np.full(n, k), np.full(n, j), g[rows[keep]], p[cols_j[keep]], s[keep]))
    if cols:
        t, j, g, p, s = (np.concatenate(c) for c in zip(*cols))
    else:
        t = j = g = p = np.zeros(0, np.int64)
        s = np.zeros(0)
    return (t, j, g, p, s), g_count, p_count, base_gt, base_pr, fn_extra, fp_extra


def _per_alpha_joint_sum(index_j: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum (A, N) ``weights`` into (A, J) by the joint index of each of the N columns."""
    flat = (np.arange(_A)[:, None] * _J + index_j[None, :]).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=_A * _J).reshape(_A, _J)


def _fragment_sums(
    matches: tuple[np.ndarray, ...], matched: np.ndarray, pair: np.ndarray, pair_joint: np.ndarray, denom: np.ndarray
) -> np.ndarray:
    """``(A, J)`` sums of ``run_length^2 / denom`` over fragments, the maximal runs (in time) of matches of
    one GT id and joint with the same predicted id.

    Args:
        matches: ``(t, j, g, p)``, each ``(N,)``: frame, joint, GT id index and predicted id index of each match.
        matched: ``(A, N)`` whether each match counts at each alpha.
        pair: ``(N,)`` the (GT id, predicted id, joint) pair of each match.
        pair_joint: ``(P,)`` the joint of each pair.
        denom: ``(A, P)`` the association denominator of each pair.
    """
    t, j, g, p = matches
    order = np.lexsort((t, g, j))
    frag = np.zeros((_A, _J))
    for a in range(_A):
        idx = order[matched[a, order]]
        if idx.size == 0:
            continue
        jj, gg, pp = j[idx], g[idx], p[idx]
        start = np.ones(idx.size, bool)
        start[1:] = (jj[1:] != jj[:-1]) | (gg[1:] != gg[:-1]) | (pp[1:] != pp[:-1])
        starts = np.flatnonzero(start)
        lengths = np.diff(np.append(starts, idx.size)).astype(float)
        run_pair = pair[idx[starts]]
        frag[a] = np.bincount(pair_joint[run_pair], weights=lengths**2 / denom[a, run_pair], minlength=_J)
    return frag


def evaluate_sequence(seq: KitSequence, missing_frame_fn: str = "sequence") -> KeypointHota:
    """HOTAeypoints of one sequence.

    Args:
        seq: the kit's view of the sequence.
        missing_frame_fn: ``"sequence"`` (kit) or ``"frame"``, see :class:`~kprtrack.eval.options.EvalOptions`.
    """
    raw = _empty_raw()
    gt_ids = np.concatenate([f.gt_ids for f in seq.frames]) if seq.frames else np.zeros(0, np.int64)
    pr_ids = np.concatenate([f.pr_ids for f in seq.frames]) if seq.frames else np.zeros(0, np.int64)
    if pr_ids.size == 0:  # the kit returns early: every GT joint is a FN, LocA = 1
        raw["HOTA_FN"][:] = sum((f.gt_valid.sum(axis=0) for f in seq.frames), np.zeros(_J))[None]
        raw["LocA"][:] = 1.0
        return _finish_sequence(raw)
    if gt_ids.size == 0:
        raw["HOTA_FP"][:] = sum((f.pr_valid.sum(axis=0) for f in seq.frames), np.zeros(_J))[None]
        raw["LocA"][:] = 1.0
        return _finish_sequence(raw)

    gt_uni, pr_uni = np.unique(gt_ids), np.unique(pr_ids)
    (t, j, g, p, s), g_count, p_count, base_gt, base_pr, fn_extra, fp_extra = _gather_matches(
        seq, gt_uni, pr_uni, missing_frame_fn
    )
    matched = s[None, :] >= (ALPHAS - EPS)[:, None]  # (A, N): an assigned pair matches at alpha a
    tp = _per_alpha_joint_sum(j, matched.astype(float))
    loc = _per_alpha_joint_sum(j, matched * s[None, :])

    # association: match counts per (gt id, predicted id, joint) pair
    key = (g * pr_uni.size + p) * _J + j
    pairs, inv = np.unique(key, return_inverse=True)
    kj = pairs % _J
    kp = (pairs // _J) % pr_uni.size
    kg = pairs // _J // pr_uni.size
    npairs = pairs.size
    counts = np.bincount((np.arange(_A)[:, None] * npairs + inv[None, :])[matched], minlength=_A * npairs).reshape(
        _A, npairs
    )
    gk, pk = g_count[kg, kj], p_count[kp, kj]
    denom = np.maximum(1, gk + pk - counts)
    sq = counts.astype(float) ** 2
    tp1 = np.maximum(1, tp)
    raw["AssA"] = _per_alpha_joint_sum(kj, sq / denom) / tp1
    raw["AssRe"] = _per_alpha_joint_sum(kj, sq / np.maximum(1, gk)) / tp1
    raw["AssPr"] = _per_alpha_joint_sum(kj, sq / np.maximum(1, pk)) / tp1

    raw["FragA"] = _fragment_sums((t, j, g, p), matched, inv, kj, denom) / tp1

    raw["HOTA_TP"] = tp
    raw["HOTA_FN"] = base_gt[None, :] - tp + fn_extra[None, :]
    raw["HOTA_FP"] = base_pr[None, :] - tp + fp_extra[None, :]
    raw["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return _finish_sequence(raw)


def combine_sequences(results: list[KeypointHota]) -> KeypointHota:
    """The kit's COMBINED row: counts summed, association TP-weighted, the rest recomputed.

    Every operation is element-wise over the 16 columns, so the combined Total column pools
    joints (it is not a mean over joints). Pass the sequences in sorted name order (the kit's).
    """
    res: dict[str, np.ndarray] = {}
    for k in COUNT_FIELDS:
        res[k] = sum((r.arrays[k] for r in results), np.zeros((_A, _J + 1)))
    tp = res["HOTA_TP"]
    for k in ("AssRe", "AssPr", "AssA", "FragA"):
        res[k] = sum((r.arrays[k] * r.arrays["HOTA_TP"] for r in results), np.zeros((_A, _J + 1))) / np.maximum(1.0, tp)
    loc = sum((r.arrays["LocA"] * r.arrays["HOTA_TP"] for r in results), np.zeros((_A, _J + 1)))
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    _final_fields(res)
    first = _first_alpha(res)
    return KeypointHota(
        arrays={k: res[k] for k in ARRAY_FIELDS + COUNT_FIELDS},
        first_alpha={k: first[k] for k in FIRST_ALPHA_FIELDS},
    )


def combine_counts(counts: list[dict[str, int]]) -> dict[str, int]:
    """The kit's COMBINED ``Count``: sums of Dets, GT_Dets, IDs and GT_IDs (no Frames)."""
    return {k: int(sum(c[k] for c in counts)) for k in ("Dets", "GT_Dets", "IDs", "GT_IDs")}
