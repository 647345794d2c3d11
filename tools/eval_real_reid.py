"""Speed and re-identification quality of the ported OMZ re-id models on real data.

1. Speed: ms per crop of the native forward (preprocessed 256x128 BGR input: the fixture's 13 real
   crops, tiled) at batch 1 and 16, one torch thread, with denormals flushed and not (interleaved
   rounds, median). ``--openvino`` also times the original IR (OpenVINO CPU, one thread, f32, with and
   without ``CPU_DENORMALS_OPTIMIZATION``) on the same machine, for reference.
2. Re-identification on ``mot17_mini`` (ground-truth boxes and ids, evaluated pedestrians only):
   every crop embedded by :class:`kprtrack.reid.omz_embedder.OMZReidEmbedder`; positives = the
   same id in two different frames of a clip, negatives = two different ids in the same frame.
   Reported on the tracker's distance ``d`` (:func:`kprtrack.reid.distance.tracking_distance`,
   ``sqrt((1 - cos) / 2)`` for one global part): ROC-AUC, quantiles, the ``d`` keeping 95 % of
   true matches and its false-match rate, and the rates at the README's cosine threshold 0.53.

The clips are 4-8 frames (0.13-0.45 s): positives are nearly the same image of a person a few
frames apart, so this measures short-term association between simultaneously visible people, not
re-identification after long occlusions or across views. Nothing derived from the frames is written.

    python tools/eval_real_reid.py --models 0288 0287 --threads 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kprtrack.denormals import flush_denormals  # noqa: E402
from kprtrack.reid.distance import cosine_to_tracking_distance, tracking_distance  # noqa: E402
from kprtrack.reid.omz_embedder import OMZReidEmbedder  # noqa: E402

REAL = Path(os.environ.get("KPRTRACK_REAL") or ROOT.parent / "shared" / "real")


# ---------------------------------------------------------------------------------------------- speed
def time_forward(embedder: OMZReidEmbedder, images: torch.Tensor, flush: bool, reps: int) -> float:
    """Seconds per crop of ``reps`` forwards of ``images`` (after one warm-up)."""
    with torch.inference_mode(), flush_denormals(flush):
        embedder.model(images)
        start = time.perf_counter()
        for _ in range(reps):
            embedder.model(images)
        return (time.perf_counter() - start) / reps / len(images)


def time_openvino(xml: Path, images: np.ndarray, reps: int, flush: bool) -> float:
    import openvino as ov  # optional, for reference only

    core = ov.Core()
    model = core.read_model(str(xml))
    model.reshape({model.inputs[0].any_name: list(images.shape)})
    config = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32", "CPU_DENORMALS_OPTIMIZATION": flush}
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    request.infer({0: images})
    start = time.perf_counter()
    for _ in range(reps):
        request.infer({0: images})
    return (time.perf_counter() - start) / reps / len(images)


def speed_report(embedder: OMZReidEmbedder, model_id: str, args: argparse.Namespace) -> None:
    with np.load(REAL / "reid" / "reference" / "omz_reid_reference.npz") as z:
        crops = z["input_bgr_0_255"]
    for batch in (1, 16):
        images = np.ascontiguousarray(np.resize(crops, (batch, *crops.shape[1:])))
        x = torch.from_numpy(images)
        reps = max(1, args.reps // batch)
        runs: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for flush in (False, True):
                runs[flush].append(time_forward(embedder, x, flush, reps))
        with torch.inference_mode(), flush_denormals(False):
            plain = embedder.model(x)
        with torch.inference_mode(), flush_denormals(True):
            flushed = embedder.model(x)
        line = (
            f"  batch {batch:2d}: {1e3 * np.median(runs[False]):6.2f} ms/crop not flushed, "
            f"{1e3 * np.median(runs[True]):6.2f} flushed (median of {args.rounds} rounds x {reps} forwards; "
            f"max |diff| of outputs {float((plain - flushed).abs().max()):.1e})"
        )
        if args.openvino:
            xml = REAL / "reid" / f"person-reidentification-retail-{model_id}" / "FP32"
            xml = xml / f"person-reidentification-retail-{model_id}.xml"
            ov = [1e3 * time_openvino(xml, images, reps, flush) for flush in (False, True)]
            line += f"; OpenVINO {ov[0]:.2f} not flushed, {ov[1]:.2f} flushed"
        print(line)


# ---------------------------------------------------------------------------------------------- mot17
@dataclass
class Crops:
    """Embeddings of the evaluated pedestrians of one clip."""

    seq: str
    frame: np.ndarray  # (M,) frame numbers
    ident: np.ndarray  # (M,) MOT ids
    visibility: np.ndarray  # (M,) MOT visibility ratio
    height: np.ndarray  # (M,) box height in pixels
    emb: np.ndarray  # (M, 1, D)
    vis: np.ndarray  # (M, 1)


def load_gt(seq_dir: Path) -> np.ndarray:
    """Evaluated pedestrians (flag 1, class 1) of a MOT gt file: ``(M, 9)`` rows."""
    gt = np.loadtxt(seq_dir / "gt" / "gt.txt", delimiter=",", ndmin=2)
    return gt[(gt[:, 6] == 1) & (gt[:, 7] == 1)]


def clip_names(root: Path) -> list[str]:
    """The clips of a MOT-format folder, in its ``gt/mot/seqmap.txt`` order."""
    return (root / "gt" / "mot" / "seqmap.txt").read_text().split()[1:]


def gt_frames(root: Path, seq: str) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Each annotated frame of clip ``seq``: its number, the RGB image ``(H, W, 3)``, its evaluated
    pedestrians' gt rows ``(n, 9)`` and their ``(n, 4)`` xyxy boxes (MOT's 1-based corner made 0-based)."""
    gt = load_gt(root / "gt" / "mot" / seq)
    for f in np.unique(gt[:, 0]).astype(int):
        frame = cv2.cvtColor(cv2.imread(str(root / "images" / seq / f"{f:06d}.jpg")), cv2.COLOR_BGR2RGB)
        sel = gt[gt[:, 0] == f]
        boxes = np.stack([sel[:, 2] - 1, sel[:, 3] - 1, sel[:, 2] - 1 + sel[:, 4], sel[:, 3] - 1 + sel[:, 5]], 1)
        yield f, frame, sel, boxes


def embed_clip(embedder: OMZReidEmbedder, root: Path, seq: str) -> Crops:
    rows, embs, viss = [], [], []
    for _, frame, sel, boxes in gt_frames(root, seq):
        emb, vis = embedder.embed(frame, boxes)
        rows.append(sel)
        embs.append(emb)
        viss.append(vis)
    g = np.concatenate(rows)
    return Crops(
        seq, g[:, 0].astype(int), g[:, 1].astype(int), g[:, 8], g[:, 5], np.concatenate(embs), np.concatenate(viss)
    )


def pair_distances(
    clips: list[Crops], keep: Callable[[Crops], np.ndarray] | None = None, either: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tracking distances of positive and negative pairs, and the frame gaps of the positives.

    ``keep(clip)`` is an ``(M,)`` bool mask of the crops to count: a pair counts when both of its
    crops pass (``either``: when one of them does). ``None``: every pair counts.
    """
    pos, neg, gaps = [], [], []
    for c in clips:
        ok = np.ones(len(c.ident), bool) if keep is None else keep(c)
        d = tracking_distance(c.emb, c.vis, c.emb, c.vis)
        i, j = np.triu_indices(len(c.ident), k=1)
        valid = (ok[i] | ok[j]) if either else (ok[i] & ok[j])
        same_id = c.ident[i] == c.ident[j]
        same_frame = c.frame[i] == c.frame[j]
        p = valid & same_id & ~same_frame
        n = valid & ~same_id & same_frame
        pos.append(d[i[p], j[p]])
        neg.append(d[i[n], j[n]])
        gaps.append(np.abs(c.frame[i[p]] - c.frame[j[p]]))
    return np.concatenate(pos), np.concatenate(neg), np.concatenate(gaps)


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(d_negative > d_positive), ties counted half (Mann-Whitney)."""
    scores = np.concatenate([pos, neg])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    r_neg = ranks[len(pos) :].sum()
    n_pos, n_neg = len(pos), len(neg)
    return float((r_neg - n_neg * (n_neg + 1) / 2) / (n_pos * n_neg))


def match_summary(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float, float]:
    """``(ROC-AUC, d keeping 95 % of the positives, share of negatives at or below that d)``."""
    thr = float(np.quantile(pos, 0.95))
    return roc_auc(pos, neg), thr, float(np.mean(neg <= thr))


def reid_report(pos: np.ndarray, neg: np.ndarray, title: str) -> None:
    q = (5, 25, 50, 75, 95)
    auc, thr, false_rate = match_summary(pos, neg)
    readme = float(cosine_to_tracking_distance(0.53))
    print(f"  {title}: {len(pos)} positive / {len(neg)} negative pairs, ROC-AUC {auc:.4f}")
    print(f"    d positives q{q}: {np.round(np.quantile(pos, np.array(q) / 100), 3).tolist()}")
    print(f"    d negatives q{q}: {np.round(np.quantile(neg, np.array(q) / 100), 3).tolist()}")
    print(f"    d keeping 95% of true matches: {thr:.3f} (cosine distance {2 * thr**2:.3f}); "
          f"false-match rate there {false_rate:.4f}")  # fmt: skip
    print(f"    at README cosine 0.53 (d {readme:.3f}): true-match rate {np.mean(pos <= readme):.4f}, "
          f"false-match rate {np.mean(neg <= readme):.4f}")  # fmt: skip


def mot17_report(embedder: OMZReidEmbedder, args: argparse.Namespace) -> None:
    root = args.mot17
    seqs = clip_names(root)
    start = time.perf_counter()
    clips = [embed_clip(embedder, root, s) for s in seqs]
    n = sum(len(c.ident) for c in clips)
    print(f"  mot17_mini: {n} crops of {len(seqs)} clips embedded in {time.perf_counter() - start:.1f} s "
          f"(crop + resize + forward, max_batch {embedder.max_batch})")  # fmt: skip
    pos, neg, gaps = pair_distances(clips)
    print(f"    positive-pair frame gaps: median {np.median(gaps):.0f}, max {gaps.max()}")
    reid_report(pos, neg, "all evaluated pedestrians")
    pos, neg, _ = pair_distances(clips, keep=lambda c: (c.visibility >= 0.5) & (c.height >= 64))
    reid_report(pos, neg, "visibility >= 0.5 and height >= 64 px")
    for c in clips:
        p, q, _ = pair_distances([c])
        if len(p) and len(q):
            auc, thr, false_rate = match_summary(p, q)
            print(
                f"    {c.seq}: {len(set(c.ident))} ids, AUC {auc:.4f}, "
                f"95%-match d {thr:.3f}, false-match rate there {false_rate:.4f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["0288", "0287"], choices=["0288", "0287"])
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=32, help="crops per timing round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mot17", type=Path, default=REAL / "mot17_mini")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-reid", action="store_true")
    parser.add_argument("--openvino", action="store_true", help="also time the original IR with OpenVINO")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for model_id in args.models:
        embedder = OMZReidEmbedder.from_checkpoint(args.weights / f"omz_reid_{model_id}.pth")
        print(f"omz_reid_{model_id} ({sum(p.numel() for p in embedder.model.parameters())} parameters), "
              f"{torch.get_num_threads()} thread(s)")  # fmt: skip
        if not args.no_speed:
            speed_report(embedder, model_id, args)
        if not args.no_reid:
            mot17_report(embedder, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
