"""Atomic file writes: a reader never sees a half-written file.

Data goes to a temporary file in the destination folder, is flushed and fsynced, then renamed
over the destination with :func:`os.replace` (atomic on POSIX and Windows). If anything fails
before the rename (an error, a full disk, Ctrl-C), the temporary file is removed and the previous
file is left untouched. The new file gets the permissions of the file it replaces, or the usual
``0o666`` minus the umask for a new file (not the ``0o600`` of a bare temporary file).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def output_mode(path: str | os.PathLike[str]) -> int:
    """Permission bits for a file written to ``path``: those of the file it replaces, else ``0o666 & ~umask``."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; put it back at once
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without error.

    Args:
        path: destination file; its folder is created if needed.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding: text encoding (ignored for binary mode).

    Raises:
        PermissionError / OSError: the destination folder is not writable (raised before any data
            is produced, so callers fail early); an ``OSError`` while writing (e.g. a full disk)
            names ``path`` in its ``filename``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, output_mode(path))
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early, before long work, if ``path`` cannot be written.

    Creates the parent folder if needed and tries to create (then removes) a temporary file there.

    Raises:
        OSError: with a message naming the path.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"output path is a directory: {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OSError(f"cannot write to {path}: {exc.strerror or exc}") from exc
    return path
