"""What following a person produces: one :class:`FollowFrame` per video frame, and the ``follow.json`` file.

Light module (numpy only), so readers of results (the web server, evaluation scripts) load no model.

``follow.json`` (``format: kprtrack-follow``, ``version: 1``)::

    {
      "format": "kprtrack-follow", "version": 1,
      "video": {"name", "frames", "width", "height", "fps"},
      "clicks": {"frame", "positives": [[x, y], ...], "negatives": [[x, y], ...]},
      "query": {"box": [x1, y1, x2, y2], "keypoints": [[x, y, c] x 17], "prompts_used": bool,
                "keypoint_format": str, "excluded": int},
      "config": str, "options": {...},
      "summary": {"present_frames", "mean_confidence"},
      "frames": [{"frame", "present", "clicked", "confidence", "distance", "track_id",
                  "box", "keypoints", "visibility"}, ...]
    }

``box``/``keypoints``/``visibility``/``distance`` are ``null`` in frames where the person is absent;
``confidence`` is then ``0``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT = "kprtrack-follow"
VERSION = 1


@dataclass(frozen=True)
class FollowFrame:
    """The followed person in one frame.

    Attributes:
        frame: frame index in the video.
        present: whether the person was found in this frame.
        confidence: in ``[0, 1]``; ``1 - distance`` to the person's appearance memory (``1`` on the
            clicked frame, ``0`` when absent).
        distance: KPR tracking distance of the chosen detection (``None`` when absent, or when the
            frame had no detection).
        box: ``(4,)`` float32 xyxy, or ``None``.
        keypoints: ``(17, 3)`` float32 frame pixels, or ``None``.
        visibility: ``(P,)`` bool part visibility of the chosen detection, or ``None``.
        track_id: the pipeline tracker's id of the chosen detection (``-1``: untracked or absent).
        row: the detection's row in the frame's record (``-1`` when absent).
        clicked: this is the frame the user clicked on.
    """

    frame: int
    present: bool
    confidence: float = 0.0
    distance: float | None = None
    box: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    visibility: np.ndarray | None = None
    track_id: int = -1
    row: int = -1
    clicked: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (rounded numbers, ``None`` for absent fields)."""
        return {
            "frame": self.frame,
            "present": self.present,
            "clicked": self.clicked,
            "confidence": round(float(self.confidence), 4),
            "distance": None if self.distance is None else round(float(self.distance), 4),
            "track_id": int(self.track_id),
            "box": None if self.box is None else np.round(np.asarray(self.box, float), 2).tolist(),
            "keypoints": None if self.keypoints is None else np.round(np.asarray(self.keypoints, float), 2).tolist(),
            "visibility": None if self.visibility is None else [bool(v) for v in self.visibility],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FollowFrame:
        """Inverse of :meth:`to_json`."""
        return cls(
            frame=int(data["frame"]),
            present=bool(data["present"]),
            confidence=float(data["confidence"]),
            distance=None if data.get("distance") is None else float(data["distance"]),
            box=None if data.get("box") is None else np.asarray(data["box"], np.float32),
            keypoints=None if data.get("keypoints") is None else np.asarray(data["keypoints"], np.float32),
            visibility=None if data.get("visibility") is None else np.asarray(data["visibility"], bool),
            track_id=int(data.get("track_id", -1)),
            clicked=bool(data.get("clicked", False)),
        )


@dataclass
class FollowResult:
    """The followed person through a whole video.

    Attributes:
        video: ``name``, ``frames``, ``width``, ``height``, ``fps``.
        clicks: the clicks (:meth:`kprtrack.follow.clicks.Clicks.to_json`).
        query: the selected detection and its prompts (see the module docstring).
        config: the pipeline config used.
        options: the follower's options.
        frames: one :class:`FollowFrame` per processed frame, in order.
    """

    video: dict[str, Any]
    clicks: dict[str, Any]
    query: dict[str, Any]
    config: str
    options: dict[str, Any]
    frames: list[FollowFrame] = field(default_factory=list)

    @property
    def present_frames(self) -> int:
        """Number of frames where the person was found."""
        return sum(f.present for f in self.frames)

    def to_json(self) -> dict[str, Any]:
        """The ``follow.json`` content."""
        present = [f.confidence for f in self.frames if f.present]
        return {
            "format": FORMAT,
            "version": VERSION,
            "video": self.video,
            "clicks": self.clicks,
            "query": self.query,
            "config": self.config,
            "options": self.options,
            "summary": {
                "present_frames": len(present),
                "mean_confidence": round(float(np.mean(present)), 4) if present else 0.0,
            },
            "frames": [f.to_json() for f in self.frames],
        }

    def dumps(self) -> str:
        """``follow.json`` as text."""
        return json.dumps(self.to_json(), indent=1)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FollowResult:
        """Read a ``follow.json`` content.

        Raises:
            ValueError: not a kprtrack follow file, or an unknown version.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"not a {FORMAT} file (format field: {found!r})")
        if data.get("version") != VERSION:
            raise ValueError(f"{FORMAT} version {data.get('version')!r} is not supported (expected {VERSION})")
        return cls(
            video=dict(data["video"]),
            clicks=dict(data["clicks"]),
            query=dict(data["query"]),
            config=str(data["config"]),
            options=dict(data["options"]),
            frames=[FollowFrame.from_json(f) for f in data["frames"]],
        )
