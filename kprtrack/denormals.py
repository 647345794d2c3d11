"""Scoped flushing of denormal floats on the CPU.

``torch.set_flush_denormal`` switches the calling thread's FTZ/DAZ flags and offers no getter.
:func:`flush_denormals` turns flushing on for a ``with`` block and restores the previous state
afterwards, read with :func:`denormals_flushed` (a one-element probe: with flushing on, the
smallest float32 denormal multiplied by one reads as zero). The flags belong to the thread that
enters the block; torch's intra-op worker threads keep theirs (measure with one thread).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_DENORMAL = 1e-45  # the smallest positive float32 denormal


def denormals_flushed() -> bool:
    """Whether the current thread flushes denormal float32 values to zero."""
    probe = torch.tensor([_DENORMAL], dtype=torch.float32)
    return bool((probe * 1.0).item() == 0.0)


@contextlib.contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[bool]:
    """Flush denormals to zero inside the block (``enabled=False``: leave the setting alone).

    Yields:
        Whether flushing is active inside the block (``False`` where the CPU does not support it).
    """
    if not enabled:
        yield denormals_flushed()
        return
    before = denormals_flushed()
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(before)
