"""Checks on a command's output paths, done before any long work.

The overwrite policy of every command: an existing output file is replaced atomically (the old
file stays intact until the new one is complete, see :mod:`kprtrack.io.atomic`), but an output is
never allowed to be one of the command's inputs, to land on a file an input folder is read from
(e.g. a ``.png`` inside the image folder being tracked), or to be the same file as another output.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from kprtrack.errors import KprtrackError
from kprtrack.io.atomic import check_writable


class OutputPathError(KprtrackError, ValueError):
    """An output path would overwrite an input or another output."""


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_outputs(
    outputs: Mapping[str, str | os.PathLike[str] | None],
    inputs: Iterable[str | os.PathLike[str] | None],
    read_suffixes: Iterable[str] = (),
) -> None:
    """Refuse outputs that would destroy an input, then check each output can be written.

    Args:
        outputs: option name (used in messages, e.g. ``"--out"``) -> path, or ``None`` when not given.
        inputs: the files and folders the command reads (``None`` entries are skipped).
        read_suffixes: for an input folder, the suffixes of the files read from it (lower case, with
            the dot); an output inside that folder with one of them is refused.

    Raises:
        OutputPathError: an output is an input, a file read from an input folder, or another output.
        OSError: an output cannot be written (:func:`kprtrack.io.atomic.check_writable`).
    """
    given = [(name, Path(path)) for name, path in outputs.items() if path is not None]
    sources = [Path(p) for p in inputs if p is not None]
    suffixes = {s.lower() for s in read_suffixes}
    for i, (name, path) in enumerate(given):
        for source in sources:
            if _same(path, source):
                raise OutputPathError(f"{name} {path} is the input {source}: refusing to overwrite it")
            if source.is_dir() and path.suffix.lower() in suffixes and _same(path.parent, source):
                raise OutputPathError(
                    f"{name} {path} is inside the input folder {source}, whose {path.suffix} files are read: "
                    "write it elsewhere"
                )
        for other_name, other in given[:i]:
            if _same(path, other):
                raise OutputPathError(f"{name} and {other_name} are the same file: {path}")
    for _, path in given:
        check_writable(path)
