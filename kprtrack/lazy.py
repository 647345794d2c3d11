"""Lazy package exports: a package names its public objects, their modules load on first access."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, modules: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any], list[str]]:
    """A module-level ``__getattr__`` importing a public name's module only when the name is used, and ``__all__``.

    Use in a package's ``__init__.py``::

        __getattr__, __all__ = lazy_exports(__name__, {".model": ("YOLOX",), ".detector": ("YOLOXDetector",)})

    Args:
        package: the package's name (``__name__``); module names starting with ``.`` are relative to it.
        modules: module -> the public names it defines.
    """
    exports = {
        name: package + module if module.startswith(".") else module
        for module, names in modules.items()
        for name in names
    }

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports)
