"""Occluded-PoseTrack-ReID: a re-identification data set cut out of PoseTrack21-layout annotations.

The protocol follows the KPR paper's supplementary material and its reference builder
(``torchreid/data/datasets/image/occluded_posetrack21.py``):

* **train** (from the ``train`` split): detections with keypoint visibility >= 0.3 and a box
  larger than 10 x 10 pixels; per identity (``person_id``, which links tracks across videos) at
  most 20 detections sampled uniformly along its tracklet(s) (evenly spaced indices, first and
  last included); identities with fewer than 4 left are dropped; 1000 identities drawn at random
  (seeded) when there are more.
* **test** (from the ``val`` split): every identity, no visibility or size filter, the same
  4-20 uniform sampling; per identity the ``floor(20 %)`` detections with the highest
  **multi-person occlusion level** are the queries, the rest is the gallery.
* **MPOL** (paper eq. 3, as the reference computes it): the summed visibility of the other
  people's keypoints that fall inside the target's box divided by the summed visibility of the
  target's own keypoints, ``sum(c_neg) / sum(c_pos)``; a target without any visible keypoint
  gets ``2 * sum(c_neg)``.

For every sampled detection the builder writes the crop (the box clipped and rounded as the
tracking pipeline's embedder does), the target's keypoints and the *negative* keypoints (other
people's visible joints inside the box) in crop pixels and, where instance masks and parsing
maps exist (the synthetic world writes them; real PoseTrack21 has none), the human-parsing
labels of the target only (other people and background are 0). Output layout::

    OUT/meta.json                       protocol settings, sources and counts
    OUT/{train,query,gallery}.json      {"records": [...]} (see :class:`ReIDRecord`)
    OUT/images/<split>/<video>/<person_id>_<image_id>.jpg
    OUT/parsing/<split>/<video>/<person_id>_<image_id>.png
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kprtrack.io.atomic import atomic_write_text
from kprtrack.reid.embedder import crop_boxes, select_negatives

FORMAT = "kprtrack-occ-ptrack"
FORMAT_VERSION = 1
SPLITS = ("train", "query", "gallery")


@dataclass(frozen=True)
class SamplingConfig:
    """Which detections of one source split become ReID samples.

    Attributes:
        min_visibility: minimum share of the 17 keypoints with a visibility > 0.
        min_width, min_height: the box must be strictly larger (pixels).
        min_samples_per_id: identities with fewer sampled detections are dropped.
        max_samples_per_id: at most this many detections per identity, evenly spaced along its tracklets.
        max_total_ids: keep this many identities at random (``-1``: all).
    """

    min_visibility: float = 0.0
    min_width: float = 0.0
    min_height: float = 0.0
    min_samples_per_id: int = 4
    max_samples_per_id: int = 20
    max_total_ids: int = -1

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_visibility <= 1.0:
            raise ValueError(f"min_visibility must be in [0, 1], got {self.min_visibility}")
        if self.min_samples_per_id < 1 or self.max_samples_per_id < self.min_samples_per_id:
            raise ValueError(
                f"need 1 <= min_samples_per_id <= max_samples_per_id, got "
                f"{self.min_samples_per_id} and {self.max_samples_per_id}"
            )
        if self.max_total_ids == 0 or self.max_total_ids < -1:
            raise ValueError(f"max_total_ids must be -1 (all) or positive, got {self.max_total_ids}")


@dataclass(frozen=True)
class OccPTrackConfig:
    """The Occluded-PoseTrack-ReID protocol.

    Attributes:
        train: sampling of the training split (paper: visibility >= 0.3, > 10 x 10 px, 4-20 per id, 1000 ids).
        test: sampling of the test split (all ids, no filter, 4-20 per id).
        query_ratio: share of each test identity's samples used as queries (the most occluded).
        seed: seed of the random identity selection.
        max_crop_size: ``(H, W)``; bigger crops are scaled down (aspect kept) before writing.
        jpeg_quality: quality of the written crops.
    """

    train: SamplingConfig = field(default_factory=lambda: SamplingConfig(0.3, 10, 10, 4, 20, 1000))
    test: SamplingConfig = field(default_factory=lambda: SamplingConfig(0.0, 0, 0, 4, 20, -1))
    query_ratio: float = 0.2
    seed: int = 0
    max_crop_size: tuple[int, int] = (384, 128)
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if not 0.0 < self.query_ratio < 1.0:
            raise ValueError(f"query_ratio must be in (0, 1), got {self.query_ratio}")
        if min(self.max_crop_size) < 8:
            raise ValueError(f"max_crop_size too small: {self.max_crop_size}")


@dataclass
class Detection:
    """One annotated person in one frame of a source sequence (frame pixels).

    Attributes:
        video: sequence name.
        frame: index of the frame in the sequence's ``images`` list.
        image_id: PoseTrack image id.
        person_id: identity across videos.
        track_id: track id in the video.
        bbox: ``[x, y, w, h]``.
        keypoints: ``(17, 3)`` ``x, y, visibility``.
        negatives: ``(n, 17, 3)`` other people's visible joints inside the box (others zeroed).
        visibility: share of the 17 keypoints with a visibility > 0.
        mpol: multi-person occlusion level (:func:`multi_person_occlusion_level`).
    """

    video: str
    frame: int
    image_id: int
    person_id: int
    track_id: int
    bbox: np.ndarray
    keypoints: np.ndarray
    negatives: np.ndarray
    visibility: float
    mpol: float


def multi_person_occlusion_level(keypoints: np.ndarray, negatives: np.ndarray) -> float:
    """MPOL of one detection: ``sum(c_neg) / sum(c_pos)``, or ``2 * sum(c_neg)`` when ``sum(c_pos) = 0``.

    Args:
        keypoints: ``(17, 3)`` the target's keypoints (visibility/confidence in column 2).
        negatives: ``(n, 17, 3)`` other people's keypoints inside the target's box.
    """
    pos = float(np.asarray(keypoints, np.float64)[..., 2].sum())
    neg = float(np.asarray(negatives, np.float64).reshape(-1, 3)[:, 2].sum())
    return neg / pos if pos > 0 else 2.0 * neg


def frame_detections(video: str, frame: int, image_id: int, annotations: Sequence[dict[str, Any]]) -> list[Detection]:
    """The detections of one labelled frame, with their negatives and MPOL.

    Annotations without a ``person_id`` or a box of zero area are skipped.
    """
    anns = [a for a in annotations if a.get("person_id") is not None and a.get("bbox") is not None]
    anns = [a for a in anns if a["bbox"][2] > 0 and a["bbox"][3] > 0]
    if not anns:
        return []
    boxes = np.array([a["bbox"] for a in anns], np.float64)
    xyxy = boxes.copy()
    xyxy[:, 2:] += xyxy[:, :2]
    kps = np.array([np.asarray(a.get("keypoints") or [0.0] * 51, np.float64).reshape(17, 3) for a in anns])
    kps[:, :, 2] = np.where((kps[:, :, 0] > 0) | (kps[:, :, 1] > 0), kps[:, :, 2], 0)  # absent joints: 0, 0, 0
    negatives = select_negatives(xyxy, kps)
    out = []
    for a, box, kp, neg in zip(anns, boxes, kps, negatives):
        out.append(
            Detection(
                video=video,
                frame=frame,
                image_id=int(a["image_id"]),
                person_id=int(a["person_id"]),
                track_id=int(a["track_id"]),
                bbox=box,
                keypoints=kp,
                negatives=neg.astype(np.float64),
                visibility=float((kp[:, 2] > 0).mean()),
                mpol=multi_person_occlusion_level(kp, neg),
            )
        )
    return out


def uniform_sample(items: Sequence[Detection], max_samples: int) -> list[Detection]:
    """At most ``max_samples`` items at evenly spaced indices (first and last included)."""
    n = len(items)
    if n <= max_samples:
        return list(items)
    idx = np.round(np.linspace(0, n - 1, max_samples)).astype(int)
    return [items[i] for i in idx]


def sample_detections(
    detections: Iterable[Detection], cfg: SamplingConfig, rng: np.random.Generator
) -> dict[int, list[Detection]]:
    """Apply the protocol's filters and per-identity sampling.

    Returns:
        ``person_id -> detections`` (in video/frame order), for the kept identities.
    """
    by_id: dict[int, list[Detection]] = defaultdict(list)
    for d in detections:
        if d.visibility < cfg.min_visibility or d.bbox[2] <= cfg.min_width or d.bbox[3] <= cfg.min_height:
            continue
        by_id[d.person_id].append(d)
    kept: dict[int, list[Detection]] = {}
    for pid in sorted(by_id):
        items = sorted(by_id[pid], key=lambda d: (d.video, d.frame))
        items = uniform_sample(items, cfg.max_samples_per_id)
        if len(items) >= cfg.min_samples_per_id:
            kept[pid] = items
    if cfg.max_total_ids != -1 and cfg.max_total_ids < len(kept):
        ids = sorted(kept)
        chosen = sorted(int(x) for x in rng.choice(ids, size=cfg.max_total_ids, replace=False))
        kept = {pid: kept[pid] for pid in chosen}
    return kept


def split_query_gallery(samples: dict[int, list[Detection]], ratio: float) -> tuple[list[Detection], list[Detection]]:
    """Per identity, the ``floor(ratio * n)`` most occluded samples (highest MPOL) are queries.

    Ties keep the tracklet order. Returns ``(queries, gallery)``.
    """
    queries, gallery = [], []
    for pid in sorted(samples):
        items = samples[pid]
        order = sorted(range(len(items)), key=lambda i: -items[i].mpol)  # stable: ties in tracklet order
        n_query = int(len(items) * ratio)
        is_query = set(order[:n_query])
        for i, d in enumerate(items):
            (queries if i in is_query else gallery).append(d)
    return queries, gallery


# --------------------------------------------------------------------------- reading sources


def _source_sequences(root: Path, split: str) -> list[Any]:
    from kprtrack.synth.dataset import SynthDataset

    return SynthDataset(root).sequences(split)


def collect_split(root: str | os.PathLike[str], split: str) -> tuple[list[Detection], dict[str, Any]]:
    """Every annotated person of a PoseTrack21-layout split (``root/posetrack_data/<split>/*.json``).

    Returns:
        The detections and the sequence readers by video name.
    """
    sequences = _source_sequences(Path(root), split)
    if not sequences:
        raise FileNotFoundError(f"no sequence in {Path(root) / 'posetrack_data' / split}")
    out: list[Detection] = []
    for seq in sequences:
        for t, img in enumerate(seq.gt.images):
            anns = seq.annotations(t)
            if anns:
                out.extend(frame_detections(seq.name, t, int(img["id"]), anns))
    return out, {s.name: s for s in sequences}


# --------------------------------------------------------------------------- writing


def _crop_keypoints(kps: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Keypoints relative to an integer ``l, t, r, b`` window; joints outside or invisible -> 0, 0, 0."""
    out = np.array(kps, np.float64, copy=True)
    l, t, r, b = (float(v) for v in window)
    out[..., 0] -= l
    out[..., 1] -= t
    bad = (out[..., 2] <= 0) | (out[..., 0] < 0) | (out[..., 0] >= r - l) | (out[..., 1] < 0) | (out[..., 1] >= b - t)
    out[bad] = 0
    return out


def _round_list(a: np.ndarray) -> list[Any]:
    return np.round(np.asarray(a, np.float64), 2).tolist()


def _mask_path(seq: Any, kind: str, t: int) -> Path:
    """Where the synthetic world writes a frame's instance (``instances``) or parsing (``parts``) map."""
    return Path(seq.root) / "masks" / seq.split / seq.name / kind / f"{t:06d}.png"


class _FrameCache:
    """Keeps the last frame (and maps) read, since samples of one frame are written together."""

    def __init__(self) -> None:
        self.key: tuple[str, int] | None = None
        self.data: tuple[np.ndarray, np.ndarray | None, np.ndarray | None] = (np.zeros((0, 0, 3), np.uint8), None, None)

    def get(self, seq: Any, t: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        key = (seq.name, t)
        if key != self.key:
            frame = seq.frame(t)
            inst = parts = None
            if _mask_path(seq, "instances", t).is_file() and _mask_path(seq, "parts", t).is_file():
                inst, parts = seq.instances(t), seq.parsing(t)
            self.key, self.data = key, (frame, inst, parts)
        return self.data


def write_samples(
    samples: Sequence[Detection],
    sequences: dict[str, Any],
    out: Path,
    split: str,
    labels: dict[int, int],
    cfg: OccPTrackConfig,
    on_sample: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Write crops (+ parsing) of ``samples`` under ``out`` and return their records."""
    cache = _FrameCache()
    records = []
    max_h, max_w = cfg.max_crop_size
    for d in sorted(samples, key=lambda d: (d.video, d.frame, d.track_id)):
        seq = sequences[d.video]
        frame, inst, parts = cache.get(seq, d.frame)
        xyxy = np.array([[d.bbox[0], d.bbox[1], d.bbox[0] + d.bbox[2], d.bbox[1] + d.bbox[3]]])
        window = crop_boxes(frame.shape[:2], xyxy)[0]
        l, t, r, b = (int(v) for v in window)
        crop = frame[t:b, l:r]
        kps = _crop_keypoints(d.keypoints, window)
        negs = _crop_keypoints(d.negatives, window).reshape(-1, 17, 3)
        negs = negs[negs[:, :, 2].sum(axis=1) > 0]
        parsing = None
        if inst is not None and parts is not None:
            parsing = np.where(inst[t:b, l:r] == d.track_id + 1, parts[t:b, l:r], 0).astype(np.uint8)
        scale = min(1.0, max_h / crop.shape[0], max_w / crop.shape[1])
        if scale < 1.0:
            size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            if parsing is not None:
                parsing = cv2.resize(parsing, size, interpolation=cv2.INTER_NEAREST)
            sx, sy = size[0] / (r - l), size[1] / (b - t)
            for arr in (kps, negs):
                arr[..., 0] *= sx
                arr[..., 1] *= sy
        stem = f"{d.person_id}_{d.image_id}"
        image_rel = Path("images") / split / d.video / f"{stem}.jpg"
        (out / image_rel).parent.mkdir(parents=True, exist_ok=True)
        ok = cv2.imwrite(
            str(out / image_rel),
            cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality],
        )
        if not ok:
            raise OSError(f"cannot write {out / image_rel}")
        parsing_rel = None
        if parsing is not None:
            parsing_rel = Path("parsing") / split / d.video / f"{stem}.png"
            (out / parsing_rel).parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(out / parsing_rel), parsing):
                raise OSError(f"cannot write {out / parsing_rel}")
        records.append(
            {
                "image": image_rel.as_posix(),
                "parsing": parsing_rel.as_posix() if parsing_rel is not None else None,
                "pid": labels[d.person_id],
                "person_id": d.person_id,
                "track_id": d.track_id,
                "video": d.video,
                "frame": d.frame,
                "image_id": d.image_id,
                "bbox": _round_list(d.bbox),
                "crop_box": [l, t, r, b],
                "keypoints": _round_list(kps),
                "negatives": _round_list(negs),
                "visibility": round(d.visibility, 4),
                "mpol": round(d.mpol, 4),
            }
        )
        if on_sample is not None:
            on_sample()
    return records


def _write_records(out: Path, split: str, records: list[dict[str, Any]]) -> None:
    atomic_write_text(out / f"{split}.json", json.dumps({"split": split, "records": records}, separators=(",", ":")))


def build_occ_ptrack(
    out: str | os.PathLike[str],
    train_root: str | os.PathLike[str] | None,
    test_root: str | os.PathLike[str] | None,
    cfg: OccPTrackConfig | None = None,
    train_split: str = "train",
    test_split: str = "val",
    progress: Callable[[str, int], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Build an Occluded-PoseTrack-ReID folder.

    Args:
        out: output folder (created; existing split files are replaced).
        train_root: PoseTrack21-layout root holding ``posetrack_data/<train_split>`` (``None``: no train set).
        test_root: root holding ``posetrack_data/<test_split>`` (``None``: no query/gallery).
        cfg: the protocol (defaults: the paper's).
        train_split, test_split: source split names.
        progress: ``progress(split, total)`` returns a per-sample callback (e.g. a progress bar update).

    Returns:
        The content written to ``meta.json``.
    """
    cfg = cfg or OccPTrackConfig()
    if train_root is None and test_root is None:
        raise ValueError("give a train root, a test root or both")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta.update({"format": FORMAT, "version": FORMAT_VERSION, "protocol": asdict(cfg)})
    meta.setdefault("sources", {})
    meta.setdefault("counts", {})

    if train_root is not None:
        rng = np.random.default_rng(cfg.seed)
        dets, seqs = collect_split(train_root, train_split)
        samples = sample_detections(dets, cfg.train, rng)
        if not samples:
            raise ValueError(f"{train_root}: no identity of split {train_split!r} survives the train sampling")
        labels = {pid: i for i, pid in enumerate(sorted(samples))}
        flat = [d for pid in sorted(samples) for d in samples[pid]]
        cb = progress("train", len(flat)) if progress else None
        _write_records(out, "train", write_samples(flat, seqs, out, "train", labels, cfg, cb))
        meta["sources"]["train"] = {"root": str(Path(train_root).resolve()), "split": train_split}
        meta["counts"]["train"] = {"identities": len(samples), "images": len(flat), "source_detections": len(dets)}

    if test_root is not None:
        rng = np.random.default_rng(cfg.seed + 1)
        dets, seqs = collect_split(test_root, test_split)
        samples = sample_detections(dets, cfg.test, rng)
        queries, gallery = split_query_gallery(samples, cfg.query_ratio)
        if not queries:
            raise ValueError(f"{test_root}: no query; identities need >= {int(np.ceil(1 / cfg.query_ratio))} samples")
        labels = {pid: i for i, pid in enumerate(sorted(samples))}
        for split, items in (("query", queries), ("gallery", gallery)):
            cb = progress(split, len(items)) if progress else None
            _write_records(out, split, write_samples(items, seqs, out, split, labels, cfg, cb))
        meta["sources"]["test"] = {"root": str(Path(test_root).resolve()), "split": test_split}
        meta["counts"]["query"] = {
            "identities": len({d.person_id for d in queries}),
            "images": len(queries),
            "multi_person": sum(d.mpol > 0 for d in queries),
        }
        meta["counts"]["gallery"] = {"identities": len({d.person_id for d in gallery}), "images": len(gallery)}
    atomic_write_text(meta_path, json.dumps(meta, indent=2))
    return meta
