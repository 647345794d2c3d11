"""Which inputs a batch holds, and the unique, safe output name of each.

Rules (applied to every path given on the command line, in order):

* a video file (``kprtrack.video.VIDEO_SUFFIXES``) is one input, named after its stem;
* a folder holding image files is one input (an image folder or a PoseTrack21 sequence), named
  after the folder;
* a PoseTrack21 root (a folder with an ``images/`` subfolder) contributes every sequence folder
  ``images/<split>/<seq>`` (the other folders of a dataset, e.g. masks, are not inputs);
* any other folder contributes its videos and image folders, recursively (hidden entries skipped).

Names are reduced to ``[A-Za-z0-9._-]`` (no leading dot, at most 120 characters). Inputs that would
share a name get a short hash of their path appended, so every prediction file ``<out>/<name>.json``
is distinct and a PoseTrack21 sequence keeps its ground truth's name whenever it can.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kprtrack.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

MAX_NAME = 120


class BatchInputError(ValueError):
    """An input path is missing, of an unknown kind, or holds nothing to track."""


@dataclass(frozen=True)
class BatchInput:
    """One video or image sequence of a batch.

    Attributes:
        name: output stem (``<out>/<name>.json``), unique within the batch and safe as a file name.
        path: absolute path of the video file or image folder.
    """

    name: str
    path: Path


def safe_name(name: str) -> str:
    """``name`` reduced to a safe file stem: ``[A-Za-z0-9._-]``, no leading dot, at most 120 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:MAX_NAME]
    return cleaned or "input"


def _has_images(folder: Path) -> bool:
    return any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())


def _walk(folder: Path) -> list[Path]:
    """Videos and image folders below ``folder`` (``folder`` itself if it holds images)."""
    if _has_images(folder):
        return [folder]
    if (folder / "images").is_dir():  # a PoseTrack21 root: only its image sequences are inputs
        folder = folder / "images"
    found: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found += _walk(entry)
        elif entry.suffix.lower() in VIDEO_SUFFIXES:
            found.append(entry)
    return found


def _expand(path: Path) -> list[Path]:
    if not path.exists():
        raise BatchInputError(f"input not found: {path}")
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise BatchInputError(
                f"{path}: not a video file ({', '.join(VIDEO_SUFFIXES)}); give image sequences as folders"
            )
        return [path]
    found = _walk(path)
    if not found:
        raise BatchInputError(f"{path}: no video files and no image folders in this folder")
    return found


def _unique_names(paths: list[Path]) -> list[str]:
    stems = [safe_name(p.stem if p.is_file() else p.name) for p in paths]
    count: dict[str, int] = {}
    for stem in stems:
        count[stem] = count.get(stem, 0) + 1
    names = []
    for stem, path in zip(stems, paths):
        if count[stem] > 1:
            digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
            stem = f"{stem[: MAX_NAME - 9]}-{digest}"
        names.append(stem)
    return names


def discover_inputs(paths: Iterable[str | Path]) -> list[BatchInput]:
    """Expand command-line paths into the batch's inputs (see the module docstring for the rules).

    Args:
        paths: video files and folders.

    Returns:
        One :class:`BatchInput` per video or image sequence, in the order found, each path once.

    Raises:
        BatchInputError: a path is missing, is a file that is not a video, or a folder holds nothing to track.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        for item in _expand(Path(path).expanduser().resolve()):
            if item not in seen:
                seen.add(item)
                found.append(item)
    if not found:
        raise BatchInputError("no inputs given")
    return [BatchInput(name, path) for name, path in zip(_unique_names(found), found)]
