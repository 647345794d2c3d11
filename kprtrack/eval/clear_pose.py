"""CLEAR-MOT per joint for poses (MOTA, IDSW, precision, recall, MOTP), as poseval computes it.

For each joint type and sequence, one accumulator sees, frame by frame, the GT persons that have
the joint (objects), the predicted persons that have it (hypotheses) and their head-normalised
distances; a pair is a candidate iff ``d <= 0.5`` (PCKh 0.5). The matching follows
``motmetrics.MOTAccumulator.update`` (the library poseval uses):

1. an object keeps the hypothesis it was last matched to (at any earlier frame) if that pair is
   a candidate now;
2. the remaining objects and hypotheses get a maximum-cardinality, minimum-total-distance
   assignment over the candidates; a match whose object was last matched to another
   hypothesis is an identity switch (IDSW);
3. unmatched objects are misses (FN), unmatched hypotheses false positives (FP).

Per joint: ``MOTA = 1 - (FN + FP + IDSW) / GT``, ``precision = TP / (TP + FP)``,
``recall = TP / GT`` where TP counts matches including switches; the totals are means over the
joints with GT (poseval's), IDSW/FN/FP/TP/GT are sums over joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from kprtrack.eval.options import JOINT_NAMES

_J = len(JOINT_NAMES)
COUNT_NAMES = ("GT", "TP", "FN", "FP", "IDSW")


@dataclass
class ClearCounts:
    """Per-joint CLEAR-MOT counts, (15,) each.

    Attributes:
        gt: number of GT joints (motmetrics' ``num_objects``).
        tp: matched GT joints, switches included (``num_detections``).
        fn, fp, idsw: misses, false positives, identity switches.
        dist_sum: sum of the matched distances.
        dist_sum_poseval: poseval's MOTP numerator: the sum of every distance in the event log
            (every candidate pair, every match and every transfer event).
    """

    gt: np.ndarray = field(default_factory=lambda: np.zeros(_J, np.int64))
    tp: np.ndarray = field(default_factory=lambda: np.zeros(_J, np.int64))
    fn: np.ndarray = field(default_factory=lambda: np.zeros(_J, np.int64))
    fp: np.ndarray = field(default_factory=lambda: np.zeros(_J, np.int64))
    idsw: np.ndarray = field(default_factory=lambda: np.zeros(_J, np.int64))
    dist_sum: np.ndarray = field(default_factory=lambda: np.zeros(_J))
    dist_sum_poseval: np.ndarray = field(default_factory=lambda: np.zeros(_J))

    def __add__(self, other: ClearCounts) -> ClearCounts:
        return ClearCounts(
            self.gt + other.gt,
            self.tp + other.tp,
            self.fn + other.fn,
            self.fp + other.fp,
            self.idsw + other.idsw,
            self.dist_sum + other.dist_sum,
            self.dist_sum_poseval + other.dist_sum_poseval,
        )


def _assign(cost: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-cardinality minimum-cost assignment over the valid entries (motmetrics + scipy)."""
    finite = np.where(valid, cost, 0.0)
    if not valid.all():
        c = np.abs(cost[valid]).max() + 1
        finite = np.where(valid, cost, 2 * min(cost.shape) * c + 1)
    rows, cols = linear_sum_assignment(finite)
    ok = valid[rows, cols]
    return rows[ok], cols[ok]


class JointAccumulator:
    """One joint type of one sequence, updated frame by frame (motmetrics' algorithm)."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}  # object -> last matched hypothesis
        self.last_object: dict[int, int] = {}  # hypothesis -> last object matched in step 2
        self.seen_hyps: set[int] = set()
        self.seen_objs: set[int] = set()

    def update(self, oids: np.ndarray, hids: np.ndarray, dist: np.ndarray) -> tuple[int, int, int, int, float, float]:
        """Match one frame.

        Args:
            oids: (n,) object (GT track) ids.
            hids: (m,) hypothesis (predicted track) ids.
            dist: (n, m) distances, NaN where the pair is not a candidate.

        Returns:
            ``(tp, fn, fp, idsw, matched distance sum, poseval event distance sum)``; ``tp``
            includes the switches.
        """
        n, m = len(oids), len(hids)
        valid = np.isfinite(dist)
        event_sum = float(dist[valid].sum()) if n and m else 0.0
        if n == 0 or m == 0:
            return 0, n, m, 0, 0.0, event_sum
        o_used = np.zeros(n, bool)
        h_used = np.zeros(m, bool)
        tp = sw = 0
        dsum = 0.0
        position = {int(h): k for k, h in enumerate(hids)}
        for i, o in enumerate(oids.tolist()):  # 1. carry previous correspondences forward
            k = position.get(self.last.get(o, -1))
            if k is None or h_used[k] or not valid[i, k]:
                continue
            o_used[i] = h_used[k] = True
            tp += 1
            dsum += dist[i, k]
            self.seen_objs.add(o)
            self.seen_hyps.add(int(hids[k]))
        rest = valid & ~o_used[:, None] & ~h_used[None, :]
        if rest.any():  # 2. assign the rest
            for i, k in zip(*_assign(dist, rest)):
                o, h = int(oids[i]), int(hids[k])
                if o in self.last and self.last[o] != h:
                    sw += 1
                    if h not in self.seen_hyps:  # motmetrics logs an ASCEND event
                        event_sum += dist[i, k]
                if h in self.last_object and self.last_object[h] != o:  # TRANSFER (+ MIGRATE)
                    event_sum += dist[i, k] * (1 if o in self.seen_objs else 2)
                tp += 1
                dsum += dist[i, k]
                self.last[o] = h
                self.last_object[h] = o
                self.seen_objs.add(o)
                self.seen_hyps.add(h)
                o_used[i] = h_used[k] = True
        event_sum += dsum
        return tp, int(n - o_used.sum()), int(m - h_used.sum()), sw, dsum, event_sum


class SequenceClear:
    """The 15 joint accumulators of one sequence and their counts."""

    def __init__(self) -> None:
        self.joints = [JointAccumulator() for _ in range(_J)]
        self.counts = ClearCounts()

    def add_frame(
        self, gt_ids: np.ndarray, gt_has: np.ndarray, pr_ids: np.ndarray, pr_has: np.ndarray, dist: np.ndarray
    ) -> None:
        """Add a frame.

        Args:
            gt_ids: (G,) GT track ids; gt_has: (G, 15) joint exists.
            pr_ids: (P,) predicted track ids; pr_has: (P, 15).
            dist: (G, P, 15) head-normalised distances (any value where a joint is missing).
        """
        c = self.counts
        for j in range(_J):
            rows, cols = np.flatnonzero(gt_has[:, j]), np.flatnonzero(pr_has[:, j])
            d = dist[rows[:, None], cols[None, :], j]
            with np.errstate(invalid="ignore"):
                d = np.where(d <= 0.5, d, np.nan)
            tp, fn, fp, sw, dsum, esum = self.joints[j].update(gt_ids[rows], pr_ids[cols], d)
            c.gt[j] += rows.size
            c.tp[j] += tp
            c.fn[j] += fn
            c.fp[j] += fp
            c.idsw[j] += sw
            c.dist_sum[j] += dsum
            c.dist_sum_poseval[j] += esum

    def add_unmatchable_frame(self) -> None:
        """poseval's stand-in for a frame with GT but no prediction (or the reverse): 1 FN + 1 FP per joint."""
        self.counts.gt += 1
        self.counts.fn += 1
        self.counts.fp += 1


def _nanmean(values: np.ndarray) -> float:
    ok = ~np.isnan(values)
    return float(values[ok].mean()) if ok.any() else float("nan")


def clear_metrics(counts: ClearCounts, motp_from: str = "matches") -> dict:
    """Fractions per joint and totals.

    Args:
        counts: summed counts.
        motp_from: ``"matches"`` (``1 - mean matched distance``) or ``"poseval"`` (poseval's event-log sum).

    Returns:
        ``{"MOTA", "MOTP", "precision", "recall": float (mean over joints with GT; NaN if none),
        "IDSW", "GT", "TP", "FN", "FP": int (sums), "per_joint": {name: 15 values}}``.
    """
    gt, tp, fn, fp, sw = (x.astype(float) for x in (counts.gt, counts.tp, counts.fn, counts.fp, counts.idsw))
    dsum = counts.dist_sum_poseval if motp_from == "poseval" else counts.dist_sum
    with np.errstate(divide="ignore", invalid="ignore"):
        mota = np.where(gt > 0, 1.0 - (fn + sw + fp) / gt, np.nan)
        motp = np.where(tp > 0, 1.0 - dsum / tp, 0.0)
        pre = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        rec = np.where(gt > 0, tp / gt, np.nan)
    per_joint = {"MOTA": mota, "MOTP": motp, "precision": pre, "recall": rec}
    out: dict = {k: _nanmean(v) for k, v in per_joint.items()}
    sums = {"IDSW": counts.idsw, "GT": counts.gt, "TP": counts.tp, "FN": counts.fn, "FP": counts.fp}
    out.update({k: int(v.sum()) for k, v in sums.items()})
    out["per_joint"] = {k: [float(x) for x in v] for k, v in per_joint.items()}
    out["per_joint"].update({k: [int(x) for x in v] for k, v in sums.items()})
    return out
