"""Reading a generated data set back: frames, ground truth, instance masks and parsing maps.

Frames are returned RGB (the project convention), maps as ``(H, W)`` uint8. The ground truth is a
validated :class:`kprtrack.io.posetrack21.PoseTrackSequence`. :meth:`SynthSequence.crops` yields
person crops with their own parsing labels and identity, ready for re-identification training
(labels = ``person_id``).

Example::

    ds = SynthDataset("data/synth")
    for seq in ds.sequences("val"):
        rgb, parts = seq.frame(0), seq.parsing(0)
        for crop in seq.crops(0):
            crop.image, crop.parts, crop.person_id
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kprtrack.io.posetrack21 import PoseTrackSequence, read_ground_truth
from kprtrack.structures import FrameRecord
from kprtrack.synth.writer import META_FILE


@dataclass(frozen=True)
class PersonCrop:
    """One annotated person cut out of a frame.

    Attributes:
        image: ``(h, w, 3)`` uint8 RGB crop of the annotation's bbox.
        parts: ``(h, w)`` uint8 parsing labels of **this** person only (0 elsewhere, including on
            other people).
        all_parts: ``(h, w)`` uint8 parsing labels of everybody in the crop.
        keypoints: ``(17, 3)`` float32 keypoints in crop coordinates (absent joints stay ``0, 0, 0``).
        person_id: identity label.
        track_id: track id in the sequence.
        box: ``(4,)`` int crop rectangle ``x1, y1, x2, y2`` in the frame.
    """

    image: np.ndarray
    parts: np.ndarray
    all_parts: np.ndarray
    keypoints: np.ndarray
    person_id: int
    track_id: int
    box: np.ndarray


def _read_png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(f"cannot read {path}")
    return img


class SynthSequence:
    """One sequence of a generated data set.

    Args:
        root: the data set folder (holding ``images/``, ``posetrack_data/``, ...).
        split: split name.
        name: sequence name (e.g. ``920000_synth_test``).
    """

    def __init__(self, root: str | os.PathLike[str], split: str, name: str) -> None:
        self.root, self.split, self.name = Path(root), split, name
        self.gt: PoseTrackSequence = read_ground_truth(self.root / "posetrack_data" / split / f"{name}.json")
        self._by_image = self.gt.annotations_by_image()

    def __len__(self) -> int:
        return len(self.gt.images)

    def __repr__(self) -> str:
        return f"SynthSequence({str(self.root)!r}, {self.split!r}, {self.name!r}, frames={len(self)})"

    @property
    def video_path(self) -> Path:
        """The ``.mp4`` of the sequence (may be absent if videos were not written)."""
        return self.root / "videos" / self.split / f"{self.name}.mp4"

    def _image(self, t: int) -> dict[str, Any]:
        if not 0 <= t < len(self.gt.images):
            raise IndexError(f"frame {t} out of range [0, {len(self.gt.images)}) in {self.name}")
        return self.gt.images[t]

    def image_path(self, t: int) -> Path:
        """Path of frame ``t``'s JPEG."""
        return self.root / self._image(t)["file_name"]

    def frame(self, t: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB frame ``t``."""
        path = self.image_path(t)
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read {path}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def _mask_path(self, kind: str, t: int) -> Path:
        self._image(t)
        return self.root / "masks" / self.split / self.name / kind / f"{t:06d}.png"

    def instances(self, t: int) -> np.ndarray:
        """``(H, W)`` uint8 instance map: ``track_id + 1``, 0 background, 255 crowd."""
        return _read_png(self._mask_path("instances", t))

    def parsing(self, t: int) -> np.ndarray:
        """``(H, W)`` uint8 parsing map in KPR's ``eight`` order (see :mod:`kprtrack.synth.parts`)."""
        return _read_png(self._mask_path("parts", t))

    def is_labeled(self, t: int) -> bool:
        """Whether frame ``t`` is labelled (annotations exist only on labelled frames)."""
        return bool(self._image(t)["is_labeled"])

    def annotations(self, t: int) -> list[dict[str, Any]]:
        """The PoseTrack21 annotations of frame ``t`` (empty on unlabelled frames)."""
        return self._by_image[self._image(t)["id"]]

    def ignore_regions(self, t: int) -> list[np.ndarray]:
        """Ignore polygons of frame ``t``, each ``(K, 2)`` float64."""
        img = self._image(t)
        return [np.stack([np.asarray(x, float), np.asarray(y, float)], -1) for x, y in zip(
            img["ignore_regions_x"], img["ignore_regions_y"])]  # fmt: skip

    def person_mask(self, t: int, track_id: int) -> np.ndarray:
        """``(H, W)`` bool visible pixels of track ``track_id`` in frame ``t``."""
        return self.instances(t) == track_id + 1

    def records(self) -> list[FrameRecord]:
        """Ground truth as one :class:`FrameRecord` per frame (posetrack21 keypoints, GT track ids)."""
        return self.gt.to_records()

    def crops(self, t: int, min_size: int = 4) -> list[PersonCrop]:
        """Crops of the annotated people of frame ``t`` (boxes smaller than ``min_size`` are skipped)."""
        anns = self.annotations(t)
        if not anns:
            return []
        image, inst, parts = self.frame(t), self.instances(t), self.parsing(t)
        h, w = inst.shape
        out = []
        for a in anns:
            x, y, bw, bh = a["bbox"]
            x1, y1 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
            x2, y2 = min(w, int(np.ceil(x + bw))), min(h, int(np.ceil(y + bh)))
            if x2 - x1 < min_size or y2 - y1 < min_size:
                continue
            all_parts = parts[y1:y2, x1:x2].copy()
            mine = np.where(inst[y1:y2, x1:x2] == a["track_id"] + 1, all_parts, 0).astype(np.uint8)
            kp = np.asarray(a["keypoints"], np.float32).reshape(17, 3).copy()
            present = (kp[:, 0] > 0) & (kp[:, 1] > 0)
            kp[present, 0] -= x1
            kp[present, 1] -= y1
            out.append(
                PersonCrop(
                    image=image[y1:y2, x1:x2].copy(),
                    parts=mine,
                    all_parts=all_parts,
                    keypoints=kp,
                    person_id=int(a["person_id"]),
                    track_id=int(a["track_id"]),
                    box=np.array([x1, y1, x2, y2]),
                )
            )
        return out


class SynthDataset:
    """A generated data set folder.

    Args:
        root: the folder written by ``kprtrack synth --out``.

    Raises:
        FileNotFoundError: ``root`` has no ``posetrack_data`` folder.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not (self.root / "posetrack_data").is_dir():
            raise FileNotFoundError(f"{self.root} is not a synthetic data set (no posetrack_data folder)")
        meta_path = self.root / META_FILE
        self.meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.is_file() else {}

    @property
    def splits(self) -> list[str]:
        """Split names present on disk."""
        return sorted(p.name for p in (self.root / "posetrack_data").iterdir() if p.is_dir())

    def sequence_names(self, split: str) -> list[str]:
        """Sequence names of a split, sorted."""
        folder = self.root / "posetrack_data" / split
        if not folder.is_dir():
            raise KeyError(f"no split {split!r} in {self.root} (have {self.splits})")
        return sorted(p.stem for p in folder.glob("*.json"))

    def sequences(self, split: str) -> list[SynthSequence]:
        """All sequences of a split."""
        return [SynthSequence(self.root, split, n) for n in self.sequence_names(split)]

    def identities(self, split: str) -> dict[int, dict[str, Any]]:
        """person_id -> identity description (team, kit, number, build) of a split."""
        path = self.root / "identities" / f"{split}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no identity file {path}")
        data = json.loads(path.read_text())
        return {int(k): v for k, v in data["identities"].items()}
