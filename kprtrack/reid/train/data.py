"""ReID crop data: records of an Occluded-PoseTrack-ReID folder, training augmentation, batching.

A training item is one person crop resized to the model input with

* its identity label (``pid``, 0-based over the training identities),
* its positive keypoints and the in-box **negative** keypoints of the other people (model-input pixels),
* its human-parsing labels restricted to the target person (``0`` background, ``1..K`` parts,
  :data:`IGNORE` where the source had no parsing map),

after random pad-and-crop (a random translation) and random erasing. Joints pushed out of the
image by the translation lose their confidence. BIPO is applied later, on the whole batch
(:func:`kprtrack.reid.train.bipo.bipo`).

Items are addressed by ``(index, seed)`` pairs (:class:`SeededBatchSampler`), so that the
augmentation of every item is a pure function of the training seed, epoch and position in the
epoch: a resumed run sees exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from kprtrack.reid.train.occ_ptrack import FORMAT

#: Parsing label of pixels without ground truth (ignored by the part-prediction loss).
IGNORE = 255


@dataclass(frozen=True)
class ReIDRecord:
    """One sample of an Occluded-PoseTrack-ReID split (crop pixels).

    Attributes:
        image: path of the crop.
        parsing: path of the target's parsing labels, or ``None``.
        pid: 0-based identity label within the split family (train, or query + gallery).
        person_id: source identity.
        video: source sequence name.
        image_id: source image id.
        keypoints: ``(17, 3)`` float32 target keypoints.
        negatives: ``(n, 17, 3)`` float32 other people's keypoints in the crop.
        mpol: multi-person occlusion level.
    """

    image: Path
    parsing: Path | None
    pid: int
    person_id: int
    video: str
    image_id: int
    keypoints: np.ndarray
    negatives: np.ndarray
    mpol: float


def load_records(root: str | os.PathLike[str], split: str) -> list[ReIDRecord]:
    """Read ``root/<split>.json`` written by :func:`kprtrack.reid.train.occ_ptrack.build_occ_ptrack`.

    Raises:
        FileNotFoundError: the split file is missing.
        ValueError: the file is not an Occluded-PoseTrack-ReID split or a record is malformed.
    """
    root = Path(root)
    path = root / f"{split}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; build the data set with tools/build_occ_ptrack.py")
    meta_path = root / "meta.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()).get("format") != FORMAT:
        raise ValueError(f"{meta_path}: not a {FORMAT} folder")
    try:
        data = json.loads(path.read_text())
        items = data["records"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: expected a JSON object with a 'records' list ({exc})") from exc
    out = []
    for i, r in enumerate(items):
        try:
            kps = np.asarray(r["keypoints"], np.float32).reshape(17, 3)
            negs = np.asarray(r["negatives"], np.float32).reshape(-1, 17, 3)
            out.append(
                ReIDRecord(
                    image=root / r["image"],
                    parsing=root / r["parsing"] if r.get("parsing") else None,
                    pid=int(r["pid"]),
                    person_id=int(r["person_id"]),
                    video=str(r["video"]),
                    image_id=int(r["image_id"]),
                    keypoints=kps,
                    negatives=negs,
                    mpol=float(r["mpol"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: records[{i}]: {exc}") from exc
    return out


def read_crop(record: ReIDRecord) -> tuple[np.ndarray, np.ndarray | None]:
    """The RGB uint8 crop and its parsing labels (``None`` when the record has none)."""
    img = cv2.imread(str(record.image), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read {record.image}")
    parsing = None
    if record.parsing is not None:
        parsing = cv2.imread(str(record.parsing), cv2.IMREAD_UNCHANGED)
        if parsing is None:
            raise FileNotFoundError(f"cannot read {record.parsing}")
        if parsing.shape != img.shape[:2]:
            raise ValueError(f"{record.parsing}: size {parsing.shape} differs from the crop {img.shape[:2]}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB), parsing


@dataclass(frozen=True)
class AugmentSettings:
    """Per-item augmentation.

    Attributes:
        pad_fraction: zero-pad by this fraction of the width on every side, then crop a random
            window of the input size (a random translation); 0 disables it.
        erasing_p: probability of random erasing.
        erasing_area: range of the erased area as a fraction of the image.
        erasing_ratio: the erased rectangle's aspect ratio lies in ``[r, 1 / r]``.
    """

    pad_fraction: float = 0.08
    erasing_p: float = 0.5
    erasing_area: tuple[float, float] = (0.02, 0.4)
    erasing_ratio: float = 0.3


def _move_keypoints(kps: np.ndarray, dx: float, dy: float, size: tuple[int, int]) -> np.ndarray:
    """Translate ``(..., 17, 3)`` keypoints; joints leaving the ``(H, W)`` image become ``0, 0, 0``."""
    out = kps.copy()
    h, w = size
    out[..., 0] += dx
    out[..., 1] += dy
    bad = (out[..., 2] <= 0) | (out[..., 0] < 0) | (out[..., 0] >= w) | (out[..., 1] < 0) | (out[..., 1] >= h)
    out[bad] = 0
    return out


def random_pad_crop(
    image: np.ndarray,
    parsing: np.ndarray,
    keypoints: np.ndarray,
    negatives: np.ndarray,
    pad: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zero-pad by ``pad`` pixels and cut a random window of the original size.

    Args:
        image: ``(H, W, 3)`` uint8.
        parsing: ``(H, W)`` uint8 labels (padding is background).
        keypoints: ``(17, 3)``; negatives: ``(n, 17, 3)``.
        pad: padding in pixels.
        rng: random generator.
    """
    if pad <= 0:
        return image, parsing, keypoints, negatives
    h, w = image.shape[:2]
    dx, dy = int(rng.integers(-pad, pad + 1)), int(rng.integers(-pad, pad + 1))
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    image = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=(0, 0, 0))
    parsing = cv2.warpAffine(parsing, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    return image, parsing, _move_keypoints(keypoints, dx, dy, (h, w)), _move_keypoints(negatives, dx, dy, (h, w))


def random_erasing(
    image: np.ndarray, parsing: np.ndarray, settings: AugmentSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Erase a random rectangle with random colours (the erased pixels become background)."""
    if rng.random() >= settings.erasing_p:
        return image, parsing
    h, w = image.shape[:2]
    for _ in range(10):
        area = rng.uniform(*settings.erasing_area) * h * w
        ratio = np.exp(rng.uniform(np.log(settings.erasing_ratio), -np.log(settings.erasing_ratio)))
        eh, ew = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
        if 0 < eh < h and 0 < ew < w:
            y, x = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
            image = image.copy()
            parsing = parsing.copy()
            image[y : y + eh, x : x + ew] = rng.integers(0, 256, size=(eh, ew, 3), dtype=np.uint8)
            parsing[y : y + eh, x : x + ew] = np.where(parsing[y : y + eh, x : x + ew] == IGNORE, IGNORE, 0)
            break
    return image, parsing


def resize_sample(
    image: np.ndarray,
    parsing: np.ndarray | None,
    keypoints: np.ndarray,
    negatives: np.ndarray,
    size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Resize a crop to ``size = (H, W)`` (image INTER_LINEAR as the embedder, labels nearest).

    Keypoints are clipped to the crop first (as the prompt builder does) and then scaled.
    A missing parsing map becomes :data:`IGNORE` everywhere.
    """
    h, w = image.shape[:2]
    out_h, out_w = size
    img = image if (h, w) == (out_h, out_w) else cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    if parsing is None:
        lab = np.full((out_h, out_w), IGNORE, np.uint8)
    elif (h, w) == (out_h, out_w):
        lab = parsing
    else:
        lab = cv2.resize(parsing, (out_w, out_h), interpolation=cv2.INTER_NEAREST)
    scale = np.array([out_w / w, out_h / h], np.float32)

    def scaled(k: np.ndarray) -> np.ndarray:
        k = k.astype(np.float32, copy=True)
        k[..., 0] = np.clip(k[..., 0], 0, w - 1)
        k[..., 1] = np.clip(k[..., 1], 0, h - 1)
        k[..., :2] *= scale
        k[k[..., 2] <= 0] = 0
        return k

    return img, lab, scaled(keypoints), scaled(negatives)


class ReIDCropDataset(torch.utils.data.Dataset):
    """Crops of one split resized to the model input, with optional training augmentation.

    Args:
        records: the split's records.
        image_size: model input ``(H, W)``.
        augment: training augmentation, or ``None`` (test: plain resize).

    ``dataset[i]`` or ``dataset[(i, seed)]`` returns a dict with ``image`` ``(H, W, 3)`` uint8,
    ``parsing`` ``(H, W)`` int64, ``keypoints`` ``(17, 3)``, ``negatives`` ``(n, 17, 3)`` float32
    (model-input pixels), ``pid`` and ``index``.
    """

    def __init__(
        self, records: Sequence[ReIDRecord], image_size: tuple[int, int], augment: AugmentSettings | None = None
    ) -> None:
        if not records:
            raise ValueError("ReIDCropDataset: no records")
        self.records = list(records)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.augment = augment

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[int]:
        """Identity label of every item."""
        return [r.pid for r in self.records]

    @property
    def num_classes(self) -> int:
        """Number of identity labels (``max(pid) + 1``)."""
        return max(self.labels) + 1

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = (key, int(key)) if isinstance(key, (int, np.integer)) else key
        rec = self.records[int(index)]
        image, parsing = read_crop(rec)
        image, parsing, kps, negs = resize_sample(image, parsing, rec.keypoints, rec.negatives, self.image_size)
        if self.augment is not None:
            rng = np.random.default_rng(seed)
            pad = int(round(self.augment.pad_fraction * self.image_size[1]))
            image, parsing, kps, negs = random_pad_crop(image, parsing, kps, negs, pad, rng)
            image, parsing = random_erasing(image, parsing, self.augment, rng)
        negs = negs[negs[:, :, 2].sum(axis=1) > 0] if len(negs) else negs.reshape(0, 17, 3)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image)),
            "parsing": torch.from_numpy(parsing.astype(np.int64)),
            "keypoints": torch.from_numpy(kps),
            "negatives": torch.from_numpy(np.ascontiguousarray(negs, np.float32)),
            "pid": rec.pid,
            "index": int(index),
        }


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack items into a batch; ``negatives`` stays a list of ``(n_i, 17, 3)`` tensors."""
    return {
        "image": torch.stack([it["image"] for it in items]),
        "parsing": torch.stack([it["parsing"] for it in items]),
        "keypoints": torch.stack([it["keypoints"] for it in items]),
        "negatives": [it["negatives"] for it in items],
        "pid": torch.tensor([it["pid"] for it in items], dtype=torch.int64),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.int64),
    }


def index_seed(seed: int, epoch: int, position: int) -> int:
    """A 63-bit seed for item ``position`` of ``epoch`` (independent streams via ``SeedSequence``)."""
    return int(np.random.SeedSequence([seed, epoch, position]).generate_state(1, np.uint64)[0] >> np.uint64(1))


class SeededBatchSampler(torch.utils.data.Sampler[list[tuple[int, int]]]):
    """Wraps a batch sampler of indices; yields ``(index, seed)`` pairs, the seed fixed by epoch and position.

    Args:
        batches: a batch sampler with ``set_epoch`` (e.g. :class:`kprtrack.train.common.PKSampler`).
        seed: the training seed.
        max_batches: stop after this many batches per epoch (``0``: all).
    """

    def __init__(self, batches: Any, seed: int, max_batches: int = 0) -> None:
        self.batches, self.seed, self.max_batches, self.epoch = batches, seed, max_batches, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (reshuffles the wrapped sampler)."""
        self.epoch = epoch
        self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        n = len(self.batches)
        return min(n, self.max_batches) if self.max_batches > 0 else n

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        position = 0
        for b, batch in enumerate(self.batches):
            if self.max_batches > 0 and b >= self.max_batches:
                return
            out = []
            for i in batch:
                out.append((int(i), index_seed(self.seed, self.epoch, position)))
                position += 1
            yield out
