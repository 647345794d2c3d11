"""Configuration of the synthetic world: one dataclass, three presets.

The dataclass defaults are the ``val`` preset and the single source of default values; the other
presets (:data:`PRESETS`) only list the fields they change. Every random choice is derived from
``seed`` (see :func:`sequence_seed`), so a configuration fully determines the output bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kprtrack.validate import check_at_least, check_in_range

#: Split name -> (small code used in seeds and video ids, sequence-name suffix).
#: Validation/test sequences end in ``_test`` like PoseTrack21's validation files, because the
#: official evaluation kit only picks up prediction files whose names contain ``_test``.
SPLITS: dict[str, tuple[int, str]] = {"train": (1, "train"), "val": (2, "test"), "test": (3, "test")}

#: First person id of each split: identities of different splits are disjoint.
PERSON_ID_BASE: dict[str, int] = {"train": 10000, "val": 20000, "test": 30000}


@dataclass(frozen=True)
class SplitSpec:
    """What one split contains.

    Attributes:
        name: ``train``, ``val`` or ``test``.
        num_sequences: number of videos.
        num_frames: frames per video.
        num_teams: teams in the split's identity pool (each team shares one kit).
        players_per_team: identities per team.
        num_civilians: identities with individual street clothes.
    """

    name: str
    num_sequences: int
    num_frames: int
    num_teams: int
    players_per_team: int
    num_civilians: int

    def __post_init__(self) -> None:
        if self.name not in SPLITS:
            raise ValueError(f"SplitSpec.name: unknown split {self.name!r}; expected one of {sorted(SPLITS)}")
        check_at_least(self, ("num_sequences", "num_frames", "num_teams", "players_per_team"), 1, where="SplitSpec.")
        check_at_least(self, ("num_civilians",), 0, where="SplitSpec.")
        if self.num_frames >= 10_000:
            raise ValueError(f"SplitSpec.num_frames must be < 10000 (PoseTrack image ids), got {self.num_frames}")

    @property
    def num_identities(self) -> int:
        """Size of the split's identity pool."""
        return self.num_teams * self.players_per_team + self.num_civilians


@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines a generated data set (defaults = the ``val`` preset).

    Attributes:
        width, height: frame size in pixels.
        fps: frames per second of the videos (motion speeds are in body heights per second).
        splits: the splits to generate.
        seed: master seed; output is a pure function of the configuration.
        occlusion: target share of multi-person boxes, i.e. annotated boxes that contain a keypoint
            of another annotated person in the same frame. The planner couples people into groups
            (side by side, one behind the other) until each sequence's planned share is close to it.
        people_per_sequence: inclusive range of scripted people per video.
        initially_on_stage: probability that a person is in view at frame 0 (others walk in later).
        reentry_gap_s: range of the time a person stays away after leaving the view.
        crowd_probability: probability that a video has a crowd zone (unannotated spectators,
            written as ignore regions).
        label_every: only every k-th frame is labelled (``is_labeled``), as in PoseTrack21.
        min_visible_pixels: a person is annotated only with at least this many visible pixels and
            at least one joint inside the image.
        jpeg_quality: quality of the written frames.
        write_video: also write an ``.mp4`` per sequence.
        write_masks: also write instance masks and human-parsing maps (PNG per frame).
        noise_sigma: range of the per-video sensor noise standard deviation (grey levels).
        blur_sigma: range of the per-video Gaussian blur sigma (pixels).
        illumination: amplitude of the global brightness change over a video (0.15 = +-15 %).
        camera_pan: amplitude of the slow horizontal camera pan, as a fraction of the width.
        camera_zoom: amplitude of the slow zoom (0.1 = between 1.0x and 1.2x).
    """

    width: int = 640
    height: int = 360
    fps: int = 25
    splits: tuple[SplitSpec, ...] = (SplitSpec("val", 10, 150, 6, 6, 8),)
    seed: int = 0
    occlusion: float = 0.5
    people_per_sequence: tuple[int, int] = (7, 10)
    initially_on_stage: float = 0.65
    reentry_gap_s: tuple[float, float] = (0.8, 3.0)
    crowd_probability: float = 0.6
    label_every: int = 1
    min_visible_pixels: int = 25
    jpeg_quality: int = 90
    write_video: bool = True
    write_masks: bool = True
    noise_sigma: tuple[float, float] = (1.5, 5.0)
    blur_sigma: tuple[float, float] = (0.3, 0.9)
    illumination: float = 0.15
    camera_pan: float = 0.12
    camera_zoom: float = 0.1
    _preset: str = field(default="val", repr=False)

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64:
            raise ValueError(f"SynthConfig.width/height must be >= 64, got {self.width}x{self.height}")
        check_at_least(self, ("fps", "label_every", "min_visible_pixels"), 1, where="SynthConfig.")
        if self.seed < 0:
            raise ValueError(f"SynthConfig.seed: must be >= 0, got {self.seed}")
        if not self.splits:
            raise ValueError("SynthConfig.splits must not be empty")
        names = [s.name for s in self.splits]
        if len(set(names)) != len(names):
            raise ValueError(f"SynthConfig.splits: duplicate split names {names}")
        check_in_range(self, ("occlusion",), 0.0, 0.95, where="SynthConfig.")
        lo, hi = self.people_per_sequence
        if not 1 <= lo <= hi <= 60:
            raise ValueError(f"SynthConfig.people_per_sequence must satisfy 1 <= min <= max <= 60, got {lo, hi}")
        check_in_range(self, ("jpeg_quality",), 1, 100, where="SynthConfig.")
        check_in_range(self, ("initially_on_stage", "crowd_probability"), where="SynthConfig.")
        for name in ("reentry_gap_s", "noise_sigma", "blur_sigma"):
            a, b = getattr(self, name)
            if not 0.0 <= a <= b:
                raise ValueError(f"SynthConfig.{name} must satisfy 0 <= min <= max, got {(a, b)}")

    @property
    def preset(self) -> str:
        """Name of the preset this configuration was derived from."""
        return self._preset

    def split(self, name: str) -> SplitSpec:
        """The :class:`SplitSpec` called ``name``."""
        for spec in self.splits:
            if spec.name == name:
                return spec
        raise KeyError(f"no split {name!r} in this configuration (have {[s.name for s in self.splits]})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (written to ``synth_meta.json``)."""
        out = dataclasses.asdict(self)
        out["preset"] = out.pop("_preset")
        return out


#: Preset name -> the fields it changes relative to the dataclass defaults (the ``val`` preset).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "width": 320,
        "height": 180,
        "splits": (SplitSpec("train", 2, 40, 3, 4, 2), SplitSpec("val", 2, 40, 2, 4, 2)),
        "people_per_sequence": (5, 7),
        "reentry_gap_s": (0.2, 0.5),
        "min_visible_pixels": 12,
    },
    "val": {},
    "train": {
        "splits": (SplitSpec("train", 40, 200, 16, 8, 40),),
    },
}


def make_config(preset: str = "val", **overrides: Any) -> SynthConfig:
    """Build the configuration of ``preset`` with optional field overrides.

    Raises:
        ValueError: unknown preset or unknown field name.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown synth preset {preset!r}; expected one of {sorted(PRESETS)}")
    known = {f.name for f in dataclasses.fields(SynthConfig)} - {"_preset"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown SynthConfig field(s) {unknown}; valid: {sorted(known)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return SynthConfig(**values, _preset=preset)


def sequence_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """Independent random stream of sequence ``index`` of ``split`` (``index=-1``: the identity pool)."""
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(SPLITS[split][0], index + 1))


def video_id(split: str, index: int) -> int:
    """Six-digit video id: ``9`` + split code + 4-digit index (e.g. 920003 = 4th val video)."""
    if not 0 <= index < 10_000:
        raise ValueError(f"sequence index {index} out of range [0, 10000)")
    return 900_000 + SPLITS[split][0] * 10_000 + index


def sequence_name(split: str, index: int) -> str:
    """PoseTrack21-style sequence name, e.g. ``920003_synth_test`` (val) or ``910000_synth_train``."""
    return f"{video_id(split, index):06d}_synth_{SPLITS[split][1]}"
