"""Checks of config fields that raise a ``ValueError`` naming the field (used in ``__post_init__``).

Each check reads the named fields of ``config`` and reports the first bad one as
``"<where><field>: <rule>, got <value>"``; ``where`` is empty for settings files whose keys are the
field names (the train configs) and ``"ClassName."`` where the class gives the context.
Pure Python, so config modules stay free of heavy imports.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable


def check_at_least(config: object, names: Iterable[str], minimum: float, where: str = "") -> None:
    """Each field in ``names`` is ``>= minimum``."""
    for name in names:
        value = getattr(config, name)
        if value < minimum:
            raise ValueError(f"{where}{name}: must be >= {minimum}, got {value}")


def check_in_range(config: object, names: Iterable[str], low: float = 0.0, high: float = 1.0, where: str = "") -> None:
    """Each field in ``names`` lies in ``[low, high]``."""
    for name in names:
        value = getattr(config, name)
        if not low <= value <= high:
            raise ValueError(f"{where}{name}: must be in [{low:g}, {high:g}], got {value!r}")


def check_whole(config: object, names: Iterable[str], minimum: int, where: str = "") -> None:
    """Each field in ``names`` is an ``int`` (not a ``bool``) ``>= minimum``."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{where}{name}: expected an integer >= {minimum}, got {value!r}")


def check_choice(config: object, name: str, choices: Collection[str], where: str = "") -> None:
    """Field ``name`` is one of ``choices``."""
    value = getattr(config, name)
    if value not in choices:
        raise ValueError(f"{where}{name}: {value!r} is not one of {', '.join(choices)}")
