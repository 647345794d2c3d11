"""The user's clicks on one frame: which person to follow, and optionally people to exclude.

Light module (numpy only): the command line, the web server and the library validate clicks here
before any model is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Most clicks of each kind: a person has 17 joints, each positive click becomes one.
MAX_POINTS = 17


class FollowError(ValueError):
    """A follow request that cannot be served; the message says what is wrong with the input."""


class PointOutsideFrameError(FollowError):
    """A click lies outside the frame."""


class FrameOutOfRangeError(FollowError):
    """The clicked frame index is not in the video."""


class NoPersonAtClickError(FollowError):
    """No detected person holds the positive clicks."""


def parse_point(text: str) -> tuple[float, float]:
    """``"X,Y"`` (pixels, integers or decimals) -> ``(x, y)``.

    Raises:
        FollowError: naming the text when it is not two finite comma-separated numbers.
    """
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2:
        raise FollowError(f"point {text!r}: expected X,Y in pixels, e.g. 320,180")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise FollowError(f"point {text!r}: expected X,Y in pixels, e.g. 320,180") from exc
    if not (np.isfinite(x) and np.isfinite(y)):
        raise FollowError(f"point {text!r}: coordinates must be finite")
    return x, y


def _points(name: str, points: Iterable[Sequence[float]] | np.ndarray) -> np.ndarray:
    try:
        arr = np.asarray(list(points) if not isinstance(points, np.ndarray) else points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FollowError(f"{name}: expected a list of (x, y) pixel pairs ({exc})") from exc
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise FollowError(f"{name}: expected (x, y) pairs, got an array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise FollowError(f"{name}: coordinates must be finite")
    if len(arr) > MAX_POINTS:
        raise FollowError(f"{name}: at most {MAX_POINTS} points, got {len(arr)}")
    return arr


@dataclass(frozen=True)
class Clicks:
    """Where the user clicked on frame ``frame``.

    Attributes:
        frame: index of the clicked frame in the video.
        positives: ``(M, 2)`` float64 ``x, y`` frame pixels on the person to follow (``M >= 1``).
        negatives: ``(L, 2)`` float64 ``x, y`` frame pixels on people who are *not* the target.

    Raises:
        FollowError: no positive click, too many clicks, a malformed or non-finite point, a negative frame.
    """

    frame: int
    positives: np.ndarray
    negatives: np.ndarray

    def __post_init__(self) -> None:
        if isinstance(self.frame, bool) or not isinstance(self.frame, (int, np.integer)) or self.frame < 0:
            raise FrameOutOfRangeError(f"frame: expected a non-negative frame index, got {self.frame!r}")
        object.__setattr__(self, "frame", int(self.frame))
        object.__setattr__(self, "positives", _points("positive points", self.positives))
        object.__setattr__(self, "negatives", _points("negative points", self.negatives))
        if len(self.positives) == 0:
            raise FollowError("give at least one positive point on the person to follow")

    @classmethod
    def create(
        cls,
        frame: int,
        positives: Iterable[Sequence[float]],
        negatives: Iterable[Sequence[float]] = (),
    ) -> Clicks:
        """Build from plain ``(x, y)`` pairs."""
        return cls(frame, np.asarray(list(positives), np.float64), np.asarray(list(negatives), np.float64))

    def check(self, num_frames: int, width: int, height: int) -> None:
        """Check the clicks against a video of ``num_frames`` frames of ``width x height`` pixels.

        Raises:
            FrameOutOfRangeError: ``frame`` is not in ``[0, num_frames)``.
            PointOutsideFrameError: a point lies outside ``[0, width) x [0, height)``.
        """
        if not 0 <= self.frame < num_frames:
            raise FrameOutOfRangeError(f"frame {self.frame} is out of range: the video has {num_frames} frames")
        for kind, pts in (("positive", self.positives), ("negative", self.negatives)):
            for x, y in pts:
                if not (0 <= x < width and 0 <= y < height):
                    raise PointOutsideFrameError(
                        f"{kind} point ({x:g}, {y:g}) is outside the {width}x{height} frame"
                    )

    def to_json(self) -> dict[str, object]:
        """``{"frame", "positives", "negatives"}`` with plain lists."""
        return {
            "frame": self.frame,
            "positives": self.positives.round(2).tolist(),
            "negatives": self.negatives.round(2).tolist(),
        }
