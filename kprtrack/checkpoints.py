"""Safe checkpoint reading shared by every model loader.

Released checkpoints are pickles: the KPR release stores a yacs ``CfgNode``, mmpose/mmengine
files store numpy arrays in ``meta``. ``torch.load(weights_only=True)`` refuses both, and
``weights_only=False`` would execute arbitrary pickled code. :func:`load_checkpoint` instead
uses a restricted unpickler that resolves only an explicit allow-list of globals (tensor
rebuilding, plain containers, numpy arrays/scalars) and maps yacs' ``CfgNode`` onto
:class:`ConfigNode`, so neither yacs nor mmengine needs to be installed.
"""

from __future__ import annotations

import collections
import os
import pickle
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from kprtrack.errors import CheckpointError, KprtrackError


class UnsafeCheckpointError(KprtrackError, pickle.UnpicklingError):
    """A checkpoint references a Python global outside the allow-list."""


class CheckpointKeyError(KprtrackError, KeyError):
    """A state dict does not match the model: lists missing, unexpected and mis-shaped keys."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ConfigNode(dict):
    """Stand-in for ``yacs.config.CfgNode``: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__dict__.update(state)


class _MmengineConfig(ConfigNode):
    """Stand-in for configuration objects some mmengine checkpoints pickle into ``meta``."""


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("_codecs", "encode"): __import__("_codecs").encode,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("yacs.config", "CfgNode"): ConfigNode,
}
_STORAGES = (
    "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
    "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
)  # fmt: skip
for _name in _STORAGES:
    _ALLOWED[("torch", _name)] = getattr(torch, _name)
for _name in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int8", "uint8", "bool"):
    _ALLOWED[("torch", _name)] = getattr(torch, _name)


def _numpy_globals() -> dict[tuple[str, str], Any]:
    import numpy as np

    core = np._core if hasattr(np, "_core") else np.core  # numpy 2 vs 1
    out: dict[tuple[str, str], Any] = {("numpy", "dtype"): np.dtype, ("numpy", "ndarray"): np.ndarray}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "scalar")] = core.multiarray.scalar
        out[(mod, "_reconstruct")] = core.multiarray._reconstruct
    for dt in ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "UInt8DType", "BoolDType"):
        if hasattr(np.dtypes, dt):
            out[("numpy.dtypes", dt)] = getattr(np.dtypes, dt)
    return out


_ALLOWED.update(_numpy_globals())


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only allow-listed globals and refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if module.startswith("mmengine.config") and name in ("Config", "ConfigDict"):
            return _MmengineConfig
        raise UnsafeCheckpointError(
            f"checkpoint references the global '{module}.{name}', which kprtrack does not load "
            "(only tensors, plain containers, numpy arrays and config nodes are allowed)"
        )


_restricted_pickle = types.ModuleType("kprtrack_restricted_pickle")
_restricted_pickle.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
_restricted_pickle.load = lambda f, **kw: RestrictedUnpickler(f, **kw).load()  # type: ignore[attr-defined]
_restricted_pickle.__name__ = "pickle"


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint file safely onto the CPU.

    Args:
        path: a ``.pth`` / ``.pth.tar`` file in PyTorch's zip or legacy format.

    Returns:
        The unpickled top-level object (usually a dict).

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the pickle references a global outside the allow-list (nothing of it ran);
            the message names the file and the global.
        CheckpointError: the file is not a readable checkpoint (truncated, damaged, another format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle)
    except UnsafeCheckpointError as exc:
        raise UnsafeCheckpointError(f"{path}: refused: {exc}") from None
    except KprtrackError:
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        # what torch and pickle raise on a truncated or foreign file; the allow-list already ran no code
        detail = " ".join(str(exc).split()).split(". ")[0][:200] or type(exc).__name__
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated, damaged or another format: {detail})"
        ) from exc


def extract_state_dict(ckpt: Mapping[str, Any], keys: Iterable[str] = ("state_dict", "model")) -> dict[str, Any]:
    """Return the state dict inside a checkpoint, with a ``module.`` prefix stripped.

    Args:
        ckpt: the loaded checkpoint: a bare state dict, or a dict holding it under one of ``keys``.
        keys: entries tried in order.
    """
    sd: Any = ckpt
    for key in keys:
        if isinstance(ckpt, Mapping) and key in ckpt and isinstance(ckpt[key], Mapping):
            sd = ckpt[key]
            break
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"no state dict of tensors found (looked for {list(keys)})")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in sd.items()}


def check_keys(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], source: str = "", target: str = "the model"
) -> None:
    """Raise :class:`CheckpointKeyError` naming every missing, unexpected or mis-shaped key.

    Args:
        expected: the keys and tensors (or shapes' owners) the target needs.
        given: the checkpoint's keys and tensors, already mapped to ``expected``'s names.
        source: file name used in the message.
        target: what the checkpoint is meant for, used in the message.
    """
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in given and tuple(given[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch", shapes)):
            if items:
                shown = ", ".join(items[:20]) + (f", ... ({len(items)} in all)" if len(items) > 20 else "")
                parts.append(f"{title}: {shown}")
        where = f" {source}" if source else ""
        raise CheckpointKeyError(f"checkpoint{where} does not match {target}: " + "; ".join(parts))


def check_state_dict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Raise :class:`CheckpointKeyError` naming every missing, unexpected or mis-shaped key of ``model``.

    Args:
        model: the module the state dict is meant for.
        state_dict: keys already mapped to the module's names.
        source: file name used in the message.
    """
    check_keys(model.state_dict(), state_dict, source, type(model).__name__)


def load_state_dict_strict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Check keys and shapes with :func:`check_state_dict`, then load (strict)."""
    check_state_dict(model, state_dict, source)
    model.load_state_dict(state_dict, strict=True)


def with_extra(state: Mapping[str, Any], extra: Mapping[str, Any] | None, writer: str) -> dict[str, Any]:
    """A checkpoint's own top-level entries followed by the caller's ``extra`` ones.

    Raises:
        ValueError: an ``extra`` entry would overwrite one of ``state``'s (named, with ``writer``).
    """
    clash = sorted(set(extra or {}) & set(state))
    if clash:
        raise ValueError(f"{writer}: extra entries {clash} would overwrite the checkpoint's own")
    return {**state, **(extra or {})}
