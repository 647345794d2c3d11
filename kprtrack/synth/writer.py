"""Writes the generated world as a PoseTrack21-like tree.

::

    OUT/
      synth_meta.json                          per split: the configuration and its sequences
      identities/<split>.json                  person_id -> team, kit, number, build
      images/<split>/<seq>/000000.jpg          frames (JPEG)
      posetrack_data/<split>/<seq>.json        PoseTrack21 ground truth (validated on write)
      videos/<split>/<seq>.mp4                 the frames as a video (mp4v)
      masks/<split>/<seq>/instances/000000.png instance map: track_id + 1, 0 background, 255 crowd
      masks/<split>/<seq>/parts/000000.png     parsing map: KPR 'eight' labels 0..8

Sequence names follow PoseTrack21 (``<vid>_synth_train`` / ``<vid>_synth_test`` for val and test,
because the official kit only reads prediction files whose name contains ``_test``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kprtrack import __version__
from kprtrack.io.atomic import atomic_write_text
from kprtrack.io.posetrack21 import CATEGORIES, PoseTrackSequence, make_image_id, write_ground_truth
from kprtrack.synth.config import SynthConfig, sequence_seed
from kprtrack.synth.generate import RenderedFrame, SequenceGenerator
from kprtrack.synth.identities import Population, make_population

META_FILE = "synth_meta.json"
_SUBTREES = ("images", "posetrack_data", "videos", "masks")


def image_record(gen: SequenceGenerator, frame: RenderedFrame, labeled: bool) -> dict[str, Any]:
    """The ``images[]`` entry of a frame."""
    image_id = make_image_id(gen.vid_id, frame.index)
    return {
        "id": image_id,
        "file_name": f"images/{gen.split}/{gen.name}/{frame.index:06d}.jpg",
        "frame_id": image_id,
        "vid_id": f"{gen.vid_id:06d}",
        "nframes": gen.num_frames,
        "is_labeled": labeled,
        "has_labeled_person": labeled,
        "ignore_regions_x": [[x for x, _ in poly] for poly in frame.ignore_regions],
        "ignore_regions_y": [[y for _, y in poly] for poly in frame.ignore_regions],
    }


def annotation_records(gen: SequenceGenerator, frame: RenderedFrame) -> list[dict[str, Any]]:
    """The ``annotations[]`` entries of a frame."""
    image_id = make_image_id(gen.vid_id, frame.index)
    out = []
    for k, person in enumerate(frame.people):
        kps = [round(float(v), 2) if i % 3 < 2 else int(v) for i, v in enumerate(person.keypoints.reshape(-1))]
        out.append(
            {
                "id": int(f"{image_id}{k:02d}"),
                "image_id": image_id,
                "bbox": person.bbox,
                "bbox_head": person.bbox_head,
                "bbox_visible": person.bbox_visible,
                "keypoints": kps,
                "track_id": person.track_id,
                "person_id": person.person_id,
                "category_id": 1,
            }
        )
    return out


def prepare_output(out: Path, splits: list[str], overwrite: bool) -> None:
    """Refuse to mix with an earlier run's split folders (or delete them with ``overwrite``)."""
    for split in splits:
        for sub in _SUBTREES:
            path = out / sub / split
            if path.exists() and any(path.iterdir()):
                if not overwrite:
                    raise FileExistsError(f"{path} already exists and is not empty (use overwrite to replace it)")
                shutil.rmtree(path)


def write_sequence(
    gen: SequenceGenerator, out: Path, cfg: SynthConfig, on_frame: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Render and write one sequence; returns its summary for ``synth_meta.json``."""
    img_dir = out / "images" / gen.split / gen.name
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dirs = (out / "masks" / gen.split / gen.name / "instances", out / "masks" / gen.split / gen.name / "parts")
    if cfg.write_masks:
        for d in mask_dirs:
            d.mkdir(parents=True, exist_ok=True)
    video = None
    video_path = out / "videos" / gen.split / f"{gen.name}.mp4"
    if cfg.write_video:
        video_path.parent.mkdir(parents=True, exist_ok=True)
        video = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), cfg.fps, (cfg.width, cfg.height))
        if not video.isOpened():
            raise OSError(f"cannot open a video writer for {video_path} (mp4v)")
    images, annotations = [], []
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]
    png = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # the "up" filter alone: 3x faster than adaptive, as small
        png += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    try:
        for frame in gen:
            name = f"{frame.index:06d}"
            if not cv2.imwrite(str(img_dir / f"{name}.jpg"), frame.image, jpeg):
                raise OSError(f"cannot write {img_dir / name}.jpg")
            if cfg.write_masks:
                cv2.imwrite(str(mask_dirs[0] / f"{name}.png"), frame.instances, png)
                cv2.imwrite(str(mask_dirs[1] / f"{name}.png"), frame.parsing, png)
            if video is not None:
                video.write(frame.image)
            labeled = frame.index % cfg.label_every == 0 and bool(frame.people)
            images.append(image_record(gen, frame, labeled))
            if labeled:
                annotations.extend(annotation_records(gen, frame))
            if on_frame is not None:
                on_frame()
    finally:
        if video is not None:
            video.release()
    seq = PoseTrackSequence(f"{gen.name}.json", images, annotations, [dict(c) for c in CATEGORIES])
    write_ground_truth(out / "posetrack_data" / gen.split / f"{gen.name}.json", seq)
    return {
        "name": gen.name,
        "vid_id": f"{gen.vid_id:06d}",
        "scene": gen.scene,
        "num_frames": gen.num_frames,
        "person_ids": sorted({p.plan.identity.person_id for p in gen.people}),
        "planned_multi_person_share": round(gen.planned_multi_share, 4),
        "crowd_zone": gen.background.crowd_rect is not None,
    }


def split_population(cfg: SynthConfig, split: str) -> Population:
    """The identity pool of ``split`` (deterministic in ``cfg.seed``)."""
    return make_population(cfg.split(split), np.random.default_rng(sequence_seed(cfg.seed, split, -1)))


def write_dataset(
    cfg: SynthConfig,
    out: str | os.PathLike[str],
    overwrite: bool = False,
    on_frame: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Generate every split of ``cfg`` under ``out``.

    Args:
        cfg: the configuration.
        out: output folder (created).
        overwrite: replace earlier output of the same splits instead of failing.
        on_frame: called after each written frame (progress bars).

    Returns:
        The content written to ``synth_meta.json``.

    Raises:
        FileExistsError: a split folder exists and is not empty, without ``overwrite``.
    """
    out = Path(out)
    prepare_output(out, [s.name for s in cfg.splits], overwrite)
    meta: dict[str, Any] = {"generator": f"kprtrack {__version__}", "splits": {}}
    for spec in cfg.splits:
        population = split_population(cfg, spec.name)
        atomic_write_text(out / "identities" / f"{spec.name}.json", json.dumps(population.to_dict(), indent=1))
        sequences = []
        for index in range(spec.num_sequences):
            gen = SequenceGenerator(cfg, spec.name, index, population)
            sequences.append(write_sequence(gen, out, cfg, on_frame))
        meta["splits"][spec.name] = {"config": cfg.to_dict(), "sequences": sequences}
    meta_path = out / META_FILE
    if meta_path.is_file():  # keep other splits written by earlier runs
        old = json.loads(meta_path.read_text())
        merged = {**old.get("splits", {}), **meta["splits"]}
        meta["splits"] = merged
    atomic_write_text(meta_path, json.dumps(meta, indent=1))
    return meta
