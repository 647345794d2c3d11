"""The config field checks of kprtrack/validate.py: pass quietly, or name the field and the value."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kprtrack.validate import check_at_least, check_choice, check_in_range, check_whole


@dataclass
class _Settings:
    epochs: int = 3
    rate: float = 0.5
    hits: int = 2
    mode: str = "fast"


def test_valid_values_pass():
    s = _Settings()
    check_at_least(s, ("epochs", "hits"), 1)
    check_in_range(s, ("rate",))
    check_in_range(s, ("epochs",), 1, 100)
    check_whole(s, ("epochs", "hits"), 0)
    check_choice(s, "mode", ("fast", "slow"))


@pytest.mark.parametrize(
    "check, message",
    [
        (lambda s: check_at_least(s, ("hits", "epochs"), 4), "hits: must be >= 4, got 2"),
        (lambda s: check_in_range(s, ("rate",), 0, 0.25, where="C."), r"C\.rate: must be in \[0, 0\.25\], got 0\.5"),
        (lambda s: check_whole(s, ("rate",), 0), "rate: expected an integer >= 0, got 0.5"),
        (lambda s: check_choice(s, "mode", ("slow", "exact")), "mode: 'fast' is not one of slow, exact"),
    ],
)
def test_a_bad_value_is_named(check, message):
    with pytest.raises(ValueError, match=message):
        check(_Settings())


def test_booleans_are_not_whole_numbers():
    with pytest.raises(ValueError, match="hits"):
        check_whole(_Settings(hits=True), ("hits",), 0)
