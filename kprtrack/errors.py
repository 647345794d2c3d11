"""Errors caused by the user's input or environment, and the errors of a run that stopped early.

Every error a user can cause (a bad file, config value, checkpoint or path) is a :class:`KprtrackError`.
Concrete errors inherit it as a mixin next to their usual base class (``ConfigError(KprtrackError,
ValueError)``, ``WeightsNotFoundError(KprtrackError, FileNotFoundError)``), so ``except ValueError``
keeps working for Python callers while the command line recognises them all: it prints the message
on one line as ``kprtrack: error: <message>`` and exits with status 2 (see ``kprtrack/cli/__init__.py``).

This module imports nothing heavy (no torch, numpy or cv2).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any


class KprtrackError(Exception):
    """An error caused by the user's input or environment.

    Its message names the culprit (file, record, key or value) on one line; the CLI prints it as
    ``kprtrack: error: <message>`` and exits 2, without a traceback unless ``--debug`` or
    ``KPRTRACK_DEBUG=1`` is given.
    """


class CheckpointError(KprtrackError, ValueError):
    """A checkpoint file is unreadable (truncated, not a checkpoint) or does not fit the model it is loaded into."""


class RunStoppedError(KprtrackError):
    """The input broke in the middle of a run (a damaged stream, an unreadable frame).

    The outputs were finished with the frames done before the failure (see :class:`kprtrack.run.RunSummary`).

    Attributes:
        summary: what the run did before it stopped (a :class:`kprtrack.run.RunSummary`).
    """

    def __init__(self, message: str, summary: Any) -> None:
        super().__init__(message)
        self.summary = summary


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (or SIGTERM under the CLI) after finishing its outputs with the frames done.

    A :class:`KeyboardInterrupt`, so a loop over many videos still stops.

    Attributes:
        summary: what the run did before it stopped (a :class:`kprtrack.run.RunSummary`).
    """

    def __init__(self, summary: Any) -> None:
        super().__init__("interrupted")
        self.summary = summary


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line, naming the file for an ``OSError`` that carries one.

    ``OSError(28, 'No space left on device', 'out.json')`` gives ``out.json: No space left on device``.
    """
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{os.fsdecode(where)}: {exc.strerror}" if where != "" else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


@contextlib.contextmanager
def naming_checkpoint(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Turn an error raised by the content of checkpoint ``path`` into a :class:`CheckpointError` naming it.

    Architecture inference and strict key checks describe what does not fit (missing keys, shapes)
    but not which file of the configuration was at fault; this adds ``<what> <path>:`` in front.
    ``TypeError``, ``AttributeError`` and ``IndexError`` are included: a checkpoint holding
    something else than the nested dicts of tensors a loader expects raises them.

    Args:
        path: the checkpoint file being loaded.
        what: the configuration key it came from, e.g. ``"detector.weights"``.
    """
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        message = one_line(exc)
        if isinstance(exc, KprtrackError) and os.fspath(path) in message:
            raise
        raise CheckpointError(f"{what} {os.fspath(path)}: {message}") from exc
