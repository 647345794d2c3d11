"""The weights registry: ``weights/manifest.yaml`` and how files are located and verified."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprtrack.config import ConfigError, dataclass_from_dict, load_yaml
from kprtrack.errors import KprtrackError

FORMATS = ("megvii-yolox", "mmdet-yolox", "mmpose-topdown", "kpr-release")


@dataclass(frozen=True)
class WeightsEntry:
    """One manifest entry.

    Attributes:
        name: the name configs use.
        file: file name inside the weights folder.
        format: checkpoint format (one of ``FORMATS``).
        arch: architecture/variant name understood by the model registries.
        sha256: hex digest, or ``None`` when unknown.
        source: where to download it (or how it was trained).
        description: one line for humans.
        shipped: whether the file is part of the repository.
        keypoint_format: keypoint convention of a pose model's output.
        trained_with: command that produced a shipped file.
        metrics: measured quality of a shipped file.
    """

    name: str
    file: str
    format: str
    arch: str
    sha256: str | None = None
    source: str = ""
    description: str = ""
    shipped: bool = False
    keypoint_format: str | None = None
    trained_with: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"weights '{self.name}': unknown format {self.format!r}; expected one of {FORMATS}")


def repo_weights_dir() -> Path:
    """The ``weights/`` folder of the source tree (next to the ``kprtrack`` package)."""
    return Path(__file__).resolve().parent.parent / "weights"


def search_dirs() -> list[Path]:
    """Folders searched for weight files, in order: ``$KPRTRACK_WEIGHTS``, then the repository's ``weights/``."""
    dirs = []
    if os.environ.get("KPRTRACK_WEIGHTS"):
        dirs.append(Path(os.environ["KPRTRACK_WEIGHTS"]).expanduser())
    dirs.append(repo_weights_dir())
    return dirs


def load_manifest(path: str | os.PathLike[str] | None = None) -> dict[str, WeightsEntry]:
    """Read the manifest; entries keyed by name."""
    path = Path(path) if path is not None else repo_weights_dir() / "manifest.yaml"
    data = load_yaml(path)
    items = data.get("weights")
    if not isinstance(items, list):
        raise ConfigError(f"{path}: expected a top-level 'weights' list")
    out: dict[str, WeightsEntry] = {}
    for i, item in enumerate(items):
        entry = dataclass_from_dict(WeightsEntry, item, f"{path}: weights[{i}]")
        if entry.name in out:
            raise ConfigError(f"{path}: weights[{i}]: duplicate name {entry.name!r}")
        out[entry.name] = entry
    return out


class WeightsNotFoundError(KprtrackError, FileNotFoundError):
    """A configured weights file is missing; the message says where it was looked for and where to get it."""


def resolve(name_or_path: str | os.PathLike[str], manifest: dict[str, WeightsEntry] | None = None) -> Path:
    """Path of a weights file given a manifest name or a path.

    Raises:
        WeightsNotFoundError: naming the file, the folders searched and the download source.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    manifest = manifest if manifest is not None else load_manifest()
    entry = manifest.get(str(name_or_path))
    if entry is None:
        if candidate.suffix or os.sep in str(name_or_path):
            raise WeightsNotFoundError(f"weights file not found: {candidate}")
        raise WeightsNotFoundError(
            f"unknown weights {str(name_or_path)!r}: not a file and not in the manifest "
            f"(known: {', '.join(sorted(manifest))})"
        )
    for d in search_dirs():
        if (d / entry.file).is_file():
            return d / entry.file
    where = ", ".join(str(d) for d in search_dirs())
    raise WeightsNotFoundError(
        f"weights '{entry.name}' missing: file {entry.file} not found in {where}. "
        f"Get it from {entry.source} and put it in one of those folders (or set KPRTRACK_WEIGHTS)."
    )


#: prefix of a weights value that asks for a randomly initialised architecture (``random:yolox_x``).
RANDOM_PREFIX = "random:"


def random_variant(name: str | None) -> str | None:
    """The architecture named by ``random:<variant>``, or ``None`` for a real weights name or path."""
    if name is not None and name.startswith(RANDOM_PREFIX):
        return name[len(RANDOM_PREFIX) :]
    return None


def checkpoint_path(name: str, must_exist: bool = True) -> str:
    """The file behind a manifest name or path (what a stage builder loads).

    Args:
        name: manifest name or file path.
        must_exist: with ``False`` an unknown name is returned as it is (e.g. an ultralytics model YAML).

    Raises:
        WeightsNotFoundError: the file is missing (the message says where it was looked for and its source).
    """
    try:
        return str(resolve(name))
    except WeightsNotFoundError:
        if must_exist:
            raise
        return name


def manifest_keypoint_format(name: str) -> str | None:
    """The keypoint convention the manifest records for weights ``name`` (``None`` if unknown)."""
    entry = load_manifest().get(name)
    return entry.keypoint_format if entry is not None else None


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
