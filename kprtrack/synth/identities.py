"""Identities: body build, skin, hair and outfit; teams share one kit.

Each split has a fixed pool of identities (``person_id`` values are unique across splits). Teams
share shirt, shorts and socks colours and pattern, so colour alone does not tell teammates apart:
build, skin, hair, shoes and the shirt number do. Kit colours come from a small palette, so two
teams can also look alike. Civilians wear individual clothes, often long trousers and sleeves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kprtrack.synth.config import PERSON_ID_BASE, SplitSpec

Color = tuple[int, int, int]  # BGR

#: Kit base colours (BGR). Deliberately few, so that different teams can look alike.
_KIT_PALETTE: tuple[Color, ...] = (
    (40, 40, 200), (170, 60, 20), (235, 235, 235), (40, 200, 230), (60, 140, 40), (30, 30, 30),
    (30, 130, 240), (220, 170, 90), (60, 30, 120), (140, 50, 120), (90, 90, 90), (200, 200, 60),
)  # fmt: skip
_SKIN: tuple[Color, ...] = (
    (190, 215, 245), (160, 190, 230), (125, 160, 210), (90, 125, 175), (60, 90, 135), (45, 65, 100),
)  # fmt: skip
_HAIR: tuple[Color, ...] = (
    (20, 20, 25), (30, 45, 70), (40, 70, 120), (80, 140, 200), (140, 140, 150), (30, 30, 110),
)  # fmt: skip
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bald", "bun")
PATTERNS: tuple[str, ...] = ("plain", "hoops", "stripes", "sash", "halves")


@dataclass(frozen=True)
class Kit:
    """Clothes colours (BGR) and pattern.

    Attributes:
        name: team name, or ``civilian-<n>``.
        shirt, shorts, socks: base colours; ``shorts`` is the trouser colour when ``long_trousers``.
        pattern: one of :data:`PATTERNS`.
        pattern_color: colour of the pattern and of the sleeve cuffs.
        number_color: colour of the shirt number (teams only).
        long_sleeves, long_trousers: sleeve / leg coverage.
    """

    name: str
    shirt: Color
    shorts: Color
    socks: Color
    pattern: str
    pattern_color: Color
    number_color: Color
    long_sleeves: bool
    long_trousers: bool


@dataclass(frozen=True)
class Identity:
    """One person of the world.

    Attributes:
        person_id: globally unique id (the ``person_id`` of the PoseTrack21 annotations).
        team: team name, or ``None`` for civilians.
        kit: the clothes.
        number: shirt number (teams), else ``None``.
        height: body height multiplier (1 = average).
        width: body width multiplier.
        leg_ratio: leg length multiplier (limb proportions).
        skin, hair, shoes: colours (BGR).
        hair_style: one of :data:`HAIR_STYLES`.
        walk_speed, run_speed: preferred speeds in body heights per second.
    """

    person_id: int
    team: str | None
    kit: Kit
    number: int | None
    height: float
    width: float
    leg_ratio: float
    skin: Color
    hair: Color
    hair_style: str
    shoes: Color
    walk_speed: float
    run_speed: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description."""
        return asdict(self)


def _jitter(rng: np.random.Generator, color: Color, amount: int) -> Color:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)  # type: ignore[return-value]


def _pick(rng: np.random.Generator, items: tuple[Any, ...]) -> Any:
    return items[int(rng.integers(len(items)))]


def _contrast(color: Color) -> Color:
    return (20, 20, 20) if sum(color) > 380 else (245, 245, 245)


def make_team_kit(rng: np.random.Generator, name: str) -> Kit:
    """A team kit: shirt/shorts/socks from the palette, a pattern, a readable number colour."""
    shirt = _jitter(rng, _pick(rng, _KIT_PALETTE), 18)
    shorts = _jitter(rng, _pick(rng, _KIT_PALETTE), 18) if rng.random() < 0.7 else shirt
    socks = shorts if rng.random() < 0.5 else _jitter(rng, _pick(rng, _KIT_PALETTE), 18)
    pattern = _pick(rng, PATTERNS) if rng.random() < 0.6 else "plain"
    pattern_color = _jitter(rng, _pick(rng, _KIT_PALETTE), 10)
    return Kit(
        name=name,
        shirt=shirt,
        shorts=shorts,
        socks=socks,
        pattern=pattern,
        pattern_color=pattern_color,
        number_color=_contrast(shirt),
        long_sleeves=bool(rng.random() < 0.2),
        long_trousers=False,
    )


def make_civilian_kit(rng: np.random.Generator, name: str) -> Kit:
    """Individual clothes: random shirt and trousers, often long."""
    shirt = tuple(int(v) for v in rng.integers(20, 240, 3))
    trousers = tuple(int(v) for v in rng.integers(20, 160, 3)) if rng.random() < 0.6 else _pick(rng, _KIT_PALETTE)
    pattern = _pick(rng, ("plain", "plain", "hoops", "stripes"))
    return Kit(
        name=name,
        shirt=shirt,  # type: ignore[arg-type]
        shorts=trousers,  # type: ignore[arg-type]
        socks=trousers,  # type: ignore[arg-type]
        pattern=pattern,
        pattern_color=tuple(int(v) for v in rng.integers(20, 240, 3)),  # type: ignore[arg-type]
        number_color=_contrast(shirt),  # type: ignore[arg-type]
        long_sleeves=bool(rng.random() < 0.5),
        long_trousers=bool(rng.random() < 0.75),
    )


def _body(rng: np.random.Generator) -> dict[str, Any]:
    walk = float(rng.uniform(0.62, 0.85))
    return {
        "height": float(rng.uniform(0.88, 1.1)),
        "width": float(rng.uniform(0.85, 1.2)),
        "leg_ratio": float(rng.uniform(0.95, 1.05)),
        "skin": _pick(rng, _SKIN),
        "hair": _pick(rng, _HAIR),
        "hair_style": _pick(rng, HAIR_STYLES),
        "shoes": _jitter(rng, _pick(rng, ((30, 30, 30), (230, 230, 230), (40, 40, 180), (150, 90, 30))), 20),
        "walk_speed": walk,
        "run_speed": float(rng.uniform(1.6, 2.1)),
    }


@dataclass(frozen=True)
class Population:
    """The identity pool of one split.

    Attributes:
        split: the split name.
        teams: team name -> its identities.
        civilians: identities without a team.
    """

    split: str
    teams: dict[str, tuple[Identity, ...]]
    civilians: tuple[Identity, ...]

    @property
    def identities(self) -> tuple[Identity, ...]:
        """Every identity (teams first, then civilians)."""
        return tuple(i for team in self.teams.values() for i in team) + self.civilians

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description, keyed by person id."""
        return {"split": self.split, "identities": {str(i.person_id): i.to_dict() for i in self.identities}}


def make_population(spec: SplitSpec, rng: np.random.Generator) -> Population:
    """Draw the identity pool of a split.

    Args:
        spec: the split (number of teams, players per team, civilians).
        rng: its random stream.
    """
    next_id = PERSON_ID_BASE[spec.name]
    teams: dict[str, tuple[Identity, ...]] = {}
    for t in range(spec.num_teams):
        name = f"{spec.name}-team{t:02d}"
        kit = make_team_kit(rng, name)
        numbers = rng.choice(np.arange(1, 40), size=spec.players_per_team, replace=False)
        members = []
        for k in range(spec.players_per_team):
            members.append(Identity(person_id=next_id, team=name, kit=kit, number=int(numbers[k]), **_body(rng)))
            next_id += 1
        teams[name] = tuple(members)
    civilians = []
    for c in range(spec.num_civilians):
        kit = make_civilian_kit(rng, f"{spec.name}-civilian{c:03d}")
        civilians.append(Identity(person_id=next_id, team=None, kit=kit, number=None, **_body(rng)))
        next_id += 1
    return Population(spec.name, teams, tuple(civilians))
