"""The weights registry: ``weights/manifest.yaml``, where files are found, checked and downloaded.

Folders searched for a manifest entry's file, in order: ``$KPRTRACK_WEIGHTS`` (if set), the user
cache (``platformdirs.user_cache_dir("kprtrack")/weights``, i.e. ``$XDG_CACHE_HOME/kprtrack/weights``
or ``~/.cache/kprtrack/weights`` on Linux), then the repository's ``weights/`` (shipped files).
Downloads go to :func:`cache_dir` (``$KPRTRACK_WEIGHTS`` if set, else the user cache).

Every file found for an entry is checked against the manifest before it is used (size, sha256, or
the sha256 prefix in OpenMMLab file names); the digest is computed once and remembered by file
size and modification time in ``verified.json`` in the cache folder (when that folder is writable).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kprtrack.config import ConfigError, dataclass_from_dict, load_yaml
from kprtrack.download import ChecksumError, DownloadError, Expected, FetchOptions, check_file, fetch, sha256_file
from kprtrack.errors import KprtrackError

FORMATS = ("megvii-yolox", "mmdet-yolox", "mmpose-topdown", "kpr-release", "omz-reid", "tinypose")
OFFLINE_ENV = "KPRTRACK_OFFLINE"
WEIGHTS_ENV = "KPRTRACK_WEIGHTS"
VERIFIED_CACHE = "verified.json"

sha256sum = sha256_file  # the registry's historical name
__all__ = [
    "ChecksumError", "WeightsEntry", "WeightsNotFoundError", "WeightsUnavailableError", "cache_dir", "download",
    "ensure", "is_offline", "load_manifest", "offline", "repo_weights_dir", "resolve", "search_dirs", "sha256sum",
    "user_cache_dir", "verify_weights",
]  # fmt: skip


@dataclass(frozen=True)
class WeightsEntry:
    """One manifest entry.

    Attributes:
        name: the name configs use.
        file: file name inside the weights folder.
        format: checkpoint format (one of ``FORMATS``).
        arch: architecture/variant name understood by the model registries.
        sha256: full hex digest, or ``None`` when no public record of it exists.
        hash_prefix: leading hex characters of the sha256 when the publisher put them in the file
            name (OpenMMLab: ``-1ef88d67``); checked when ``sha256`` is unknown.
        size: size in bytes, or ``None`` when unknown.
        urls: where ``kprtrack weights download`` fetches it, tried in order (HTTP(S), or a Google
            Drive file or folder URL, fetched with gdown).
        licence: the licence the publisher states for the file.
        source: where it comes from, in words (or how it was trained).
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
    hash_prefix: str | None = None
    size: int | None = None
    urls: list[str] = field(default_factory=list)
    licence: str = ""
    source: str = ""
    description: str = ""
    shipped: bool = False
    keypoint_format: str | None = None
    trained_with: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"weights '{self.name}': unknown format {self.format!r}; expected one of {FORMATS}")
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"weights '{self.name}': sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.hash_prefix is not None and not re.fullmatch(r"[0-9a-f]{6,64}", self.hash_prefix):
            raise ValueError(f"weights '{self.name}': hash_prefix must be 6-64 lowercase hex digits")
        if self.sha256 and self.hash_prefix and not self.sha256.startswith(self.hash_prefix):
            raise ValueError(f"weights '{self.name}': sha256 does not start with hash_prefix {self.hash_prefix}")
        if self.size is not None and self.size <= 0:
            raise ValueError(f"weights '{self.name}': size must be a positive number of bytes, got {self.size}")

    @property
    def expected(self) -> Expected:
        """What the file must match."""
        return Expected(sha256=self.sha256, hash_prefix=self.hash_prefix, size=self.size)

    @property
    def url(self) -> str:
        """The first download URL, else the ``source`` text."""
        return self.urls[0] if self.urls else self.source


def repo_weights_dir() -> Path:
    """The ``weights/`` folder of the source tree (next to the ``kprtrack`` package)."""
    return Path(__file__).resolve().parent.parent / "weights"


def user_cache_dir() -> Path:
    """The per-user download cache: ``platformdirs.user_cache_dir("kprtrack")/weights`` (XDG_CACHE_HOME respected)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("kprtrack", appauthor=False)) / "weights"


def cache_dir() -> Path:
    """Where downloads go and ``verified.json`` lives: ``$KPRTRACK_WEIGHTS`` if set, else :func:`user_cache_dir`."""
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else user_cache_dir()


def search_dirs() -> list[Path]:
    """Folders searched for weight files, in order: ``$KPRTRACK_WEIGHTS``, the user cache, the repo's ``weights/``."""
    dirs: list[Path] = []
    if os.environ.get(WEIGHTS_ENV):
        dirs.append(Path(os.environ[WEIGHTS_ENV]).expanduser())
    for d in (user_cache_dir(), repo_weights_dir()):
        if d not in dirs:
            dirs.append(d)
    return dirs


_OFFLINE: contextvars.ContextVar[bool] = contextvars.ContextVar("kprtrack_weights_offline", default=False)


def is_offline() -> bool:
    """Whether downloads are disabled: inside :func:`offline`, or ``KPRTRACK_OFFLINE`` set to 1/true/yes."""
    return _OFFLINE.get() or os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def offline(enabled: bool = True) -> Iterator[None]:
    """Disable (``enabled=True``) automatic downloads inside a ``with`` block (``kprtrack run --offline``)."""
    token = _OFFLINE.set(enabled or _OFFLINE.get())
    try:
        yield
    finally:
        _OFFLINE.reset(token)


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


class WeightsUnavailableError(WeightsNotFoundError):
    """An official weights file is missing and could not be downloaded (offline, no network, server error).

    The message is one line naming the file, its URL and how to place it by hand.
    """


def find(entry: WeightsEntry) -> Path | None:
    """The first file called ``entry.file`` in :func:`search_dirs`, or ``None``."""
    for d in search_dirs():
        if (d / entry.file).is_file():
            return d / entry.file
    return None


def placement_hint(entry: WeightsEntry) -> str:
    """How to get ``entry``'s file by hand (one sentence)."""
    return (
        f"Download {entry.url} by hand and put it in {cache_dir()} as {entry.file} "
        f"(or in a folder named by {WEIGHTS_ENV})."
    )


def resolve(
    name_or_path: str | os.PathLike[str],
    manifest: dict[str, WeightsEntry] | None = None,
    *,
    download: bool = False,
    verify: bool = True,
    options: FetchOptions | None = None,
) -> Path:
    """Path of a weights file given a manifest name or a path.

    Args:
        name_or_path: a manifest name, or a path to a file (returned as is; checked like the entry
            whose ``file`` has the same name, if any).
        manifest: the registry (default: :func:`load_manifest`).
        download: fetch a missing file that has URLs into :func:`cache_dir` (see :func:`ensure`).
        verify: check a found file against the manifest's size/sha256 (cached by size and mtime).
        options: download options.

    Raises:
        WeightsNotFoundError: naming the file, the folders searched and the download source.
        WeightsUnavailableError: the file is missing and ``download`` failed (one line, with the URL).
        ChecksumError: the file found (or downloaded) does not match the manifest.
    """
    candidate = Path(name_or_path).expanduser()
    manifest = manifest if manifest is not None else load_manifest()
    if candidate.is_file():
        known = next((e for e in manifest.values() if e.file == candidate.name), None)
        if verify and known is not None:  # a manifest file given by path is checked all the same
            verify_weights(known, candidate)
        return candidate
    entry = manifest.get(str(name_or_path))
    if entry is None:
        if candidate.suffix or os.sep in str(name_or_path):
            raise WeightsNotFoundError(f"weights file not found: {candidate}")
        raise WeightsNotFoundError(
            f"unknown weights {str(name_or_path)!r}: not a file and not in the manifest "
            f"(known: {', '.join(sorted(manifest))})"
        )
    path = find(entry)
    if path is not None:
        if verify:
            verify_weights(entry, path)
        return path
    if download and entry.urls:
        return _download(entry, cache_dir(), options)
    where = ", ".join(str(d) for d in search_dirs())
    raise WeightsNotFoundError(
        f"weights '{entry.name}' missing: file {entry.file} not found in {where}. "
        f"Get it from {entry.url} and put it in one of those folders (or set {WEIGHTS_ENV})."
        + (" `kprtrack weights download " + entry.name + "` fetches it." if entry.urls else "")
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

    A missing official file is downloaded on first use unless offline (:func:`ensure`), and every
    file's checksum is checked before it is returned.

    Raises:
        WeightsNotFoundError: the file is missing (the message says where it was looked for and its source);
            :class:`WeightsUnavailableError` (also with ``must_exist=False``) when an official file could not
            be downloaded.
    """
    try:
        return str(ensure(name))
    except WeightsNotFoundError as exc:
        if must_exist or isinstance(exc, WeightsUnavailableError):
            raise
        return name


def manifest_keypoint_format(name: str) -> str | None:
    """The keypoint convention the manifest records for weights ``name`` (``None`` if unknown)."""
    entry = load_manifest().get(name)
    return entry.keypoint_format if entry is not None else None


def ensure(
    name_or_path: str | os.PathLike[str],
    manifest: dict[str, WeightsEntry] | None = None,
    options: FetchOptions | None = None,
) -> Path:
    """Like :func:`resolve`, and download a missing official file on first use unless offline.

    Raises:
        WeightsUnavailableError: the file is missing and downloads are disabled (``offline()``,
            ``KPRTRACK_OFFLINE=1``) or failed; one line naming the file, the URL and how to place it.
        WeightsNotFoundError, ChecksumError: as :func:`resolve`.
    """
    if not is_offline():
        return resolve(name_or_path, manifest, download=True, options=options)
    try:
        return resolve(name_or_path, manifest)
    except WeightsNotFoundError:
        manifest = manifest if manifest is not None else load_manifest()
        entry = manifest.get(str(name_or_path))
        if entry is None or not entry.urls:
            raise
        raise WeightsUnavailableError(
            f"weights '{entry.name}' are missing and downloads are off (--offline or {OFFLINE_ENV}=1). "
            f"{placement_hint(entry)}"
        ) from None


def download(
    name: str,
    manifest: dict[str, WeightsEntry] | None = None,
    dest_dir: str | os.PathLike[str] | None = None,
    options: FetchOptions | None = None,
    stream: IO[str] | None = None,
) -> Path:
    """Download weights ``name`` into ``dest_dir`` (default :func:`cache_dir`), verified; no-op if present there.

    Raises:
        KeyError: unknown name.
        WeightsUnavailableError: no URL, offline, or the download failed (one line).
        ChecksumError: the downloaded file (or the one already at the destination) does not match.
    """
    manifest = manifest if manifest is not None else load_manifest()
    if name not in manifest:
        raise KeyError(f"unknown weights {name!r} (known: {', '.join(sorted(manifest))})")
    entry = manifest[name]
    if not entry.urls:
        raise WeightsUnavailableError(f"weights '{name}' have no download URL ({entry.source})")
    if is_offline():
        raise WeightsUnavailableError(
            f"not downloading weights '{name}': downloads are off ({OFFLINE_ENV}=1). {placement_hint(entry)}"
        )
    return _download(entry, Path(dest_dir) if dest_dir is not None else cache_dir(), options, stream)


def _download(entry: WeightsEntry, dest_dir: Path, options: FetchOptions | None, stream: IO[str] | None = None) -> Path:
    try:
        path, digest = fetch(entry.urls, dest_dir / entry.file, entry.expected, options, stream)
    except DownloadError as exc:
        if len(exc.failures) == 1:  # the URL is in the hint already
            why = exc.failures[0][1]
        else:
            why = "; ".join(f"{u}: {r}" for u, r in exc.failures) or str(exc)
        raise WeightsUnavailableError(
            f"weights '{entry.name}' are missing and could not be downloaded ({why}). {placement_hint(entry)}"
        ) from exc
    if digest is not None:  # remember it, so that the first use does not hash the file again
        _remember(path, digest)
    return path


def verify_weights(entry: WeightsEntry, path: str | os.PathLike[str], use_cache: bool = True) -> str | None:
    """Check a file against ``entry``'s size and sha256 (or sha256 prefix).

    The sha256 of a file is computed once and remembered with its size and modification time in
    ``verified.json`` in :func:`cache_dir`; an unwritable cache folder only disables the memory.

    Args:
        entry: the manifest entry.
        path: the file.
        use_cache: reuse a remembered digest (``False`` always hashes; the result is still stored).

    Returns:
        The file's sha256 when the check needed it, else ``None``.

    Raises:
        ChecksumError: naming the file, the expected and the found value.
    """
    path = Path(path)
    expected = entry.expected
    if not expected.needs_hash:
        return check_file(path, expected)
    st = path.stat()
    memory = _read_verified()
    known = memory.get(str(path.resolve()))
    same = isinstance(known, dict) and [known.get("size"), known.get("mtime_ns")] == [st.st_size, st.st_mtime_ns]
    digest = known.get("sha256") if use_cache and same else None
    if digest is None:
        check_file(path, Expected(size=expected.size))  # a wrong size fails before the file is hashed
        digest = sha256_file(path)
        _remember(path, digest, memory)
    return check_file(path, expected, digest)


def _remember(path: Path, digest: str, memory: dict[str, Any] | None = None) -> None:
    """Store ``path``'s digest under its size and mtime in ``verified.json`` (silently skipped if unwritable)."""
    st = path.stat()
    memory = memory if memory is not None else _read_verified()
    memory[str(path.resolve())] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    _write_verified(memory)


def _read_verified() -> dict[str, Any]:
    try:
        data = json.loads((cache_dir() / VERIFIED_CACHE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_verified(memory: dict[str, Any]) -> None:
    from kprtrack.io.atomic import atomic_write_text

    try:
        atomic_write_text(cache_dir() / VERIFIED_CACHE, json.dumps(memory, indent=1, sort_keys=True))
    except OSError:
        pass  # an unwritable cache folder must not stop anyone from loading weights
