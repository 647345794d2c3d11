"""One sequence of the synthetic world: cast, scene, camera, motion plan, and frame rendering.

:class:`SequenceGenerator` draws everything that is random about a sequence from its own seed
(:func:`kprtrack.synth.config.sequence_seed`) when constructed; :meth:`SequenceGenerator.render`
then produces frame ``t`` (image, instance map, parsing map, annotations, ignore regions) as a
pure function of ``t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from kprtrack.synth.camera import CameraPath, Layout
from kprtrack.synth.config import SynthConfig, sequence_name, sequence_seed, video_id
from kprtrack.synth.groundtruth import PersonAnnotation, annotate_person
from kprtrack.synth.identities import Identity, Population
from kprtrack.synth.motion import PlacedPerson, plan_sequence
from kprtrack.synth.render import Pen, PersonPainter
from kprtrack.synth.scene import Background, Photometric, make_background, scene_kind


@dataclass
class RenderedFrame:
    """One finished frame.

    Attributes:
        index: frame index in the sequence.
        image: ``(H, W, 3)`` uint8 **BGR** image (as written to disk).
        instances: ``(H, W)`` uint8 instance map (``track_id + 1``, 0 background, 255 crowd).
        parsing: ``(H, W)`` uint8 part map (KPR ``eight`` order, see :mod:`kprtrack.synth.parts`).
        people: annotations of the annotated people.
        ignore_regions: polygons (lists of ``(x, y)``) around crowd zones.
    """

    index: int
    image: np.ndarray
    instances: np.ndarray
    parsing: np.ndarray
    people: list[PersonAnnotation]
    ignore_regions: list[list[tuple[float, float]]] = field(default_factory=list)


def choose_cast(population: Population, scene: str, size: int, rng: np.random.Generator) -> list[Identity]:
    """Who appears in a sequence: two teams on fields and courts, mostly civilians on streets."""
    teams = list(population.teams.values())
    civilians = list(population.civilians)
    if scene == "street":
        num_teams = 1 if rng.random() < 0.5 else 0
        team_share = int(rng.integers(0, size // 2 + 1)) if num_teams else 0
    else:
        num_teams = min(2, len(teams))
        team_share = size - int(rng.integers(0, 2))
    chosen = [teams[i] for i in rng.choice(len(teams), size=min(num_teams, len(teams)), replace=False)]
    cast: list[Identity] = []
    for k, team in enumerate(chosen):
        want = team_share // len(chosen) + (1 if k < team_share % len(chosen) else 0)
        picks = rng.choice(len(team), size=min(want, len(team)), replace=False)
        cast += [team[int(i)] for i in picks]
    need = size - len(cast)
    if need > 0 and civilians:
        picks = rng.choice(len(civilians), size=min(need, len(civilians)), replace=False)
        cast += [civilians[int(i)] for i in picks]
    if len(cast) < size:  # not enough civilians: top up from other team members
        rest = [i for team in teams for i in team if i not in cast]
        if rest:
            picks = rng.choice(len(rest), size=min(size - len(cast), len(rest)), replace=False)
            cast += [rest[int(i)] for i in picks]
    order = rng.permutation(len(cast))
    return [cast[int(i)] for i in order]


class SequenceGenerator:
    """Everything about one sequence, rendered frame by frame.

    Args:
        cfg: the configuration.
        split: split name.
        index: sequence index within the split.
        population: the split's identity pool.

    Attributes:
        name, vid_id, scene, num_frames, cast, people, planned_multi_share, background, camera.
    """

    def __init__(self, cfg: SynthConfig, split: str, index: int, population: Population) -> None:
        self.cfg, self.split, self.index = cfg, split, index
        spec = cfg.split(split)
        self.num_frames = spec.num_frames
        self.name = sequence_name(split, index)
        self.vid_id = video_id(split, index)
        seed = sequence_seed(cfg.seed, split, index)
        rng = np.random.default_rng(seed)
        self.scene = scene_kind(cfg.seed, index)
        lo, hi = cfg.people_per_sequence
        self.cast = choose_cast(population, self.scene, int(rng.integers(lo, hi + 1)), rng)
        self.layout = Layout.for_frame(cfg.width, cfg.height, cfg.camera_pan)
        self.camera = CameraPath.smooth(
            self.layout, cfg.width, cfg.height, self.num_frames, cfg.fps, cfg.camera_pan, cfg.camera_zoom, rng
        )
        self.background: Background = make_background(
            self.scene, self.layout, rng, crowd=bool(rng.random() < cfg.crowd_probability)
        )
        self.photometric = Photometric.draw(
            rng, cfg.width, cfg.height, self.num_frames, cfg.fps, cfg.illumination, cfg.noise_sigma, cfg.blur_sigma
        )
        self.people: list[PlacedPerson]
        self.people, self.planned_multi_share = plan_sequence(
            self.cast, self.layout, self.camera, cfg, self.num_frames, rng, seed
        )
        self._painter = PersonPainter()

    def __len__(self) -> int:
        return self.num_frames

    def ignore_regions(self, t: int) -> list[list[tuple[float, float]]]:
        """Crowd-zone polygons of frame ``t`` (clipped to the image; empty when out of view)."""
        if self.background.crowd_rect is None:
            return []
        x1, y1, x2, y2 = self.background.crowd_rect
        corners = self.camera.to_frame(np.array([[x1, y1], [x2, y2]], np.float64), t)
        w, h = self.cfg.width, self.cfg.height
        if corners[1, 0] <= 0 or corners[1, 1] <= 0 or corners[0, 0] >= w or corners[0, 1] >= h:
            return []
        # one pixel of margin covers nearest-neighbour rounding of the warped crowd mask
        fx1, fy1 = max(0.0, math.floor(corners[0, 0]) - 1.0), max(0.0, math.floor(corners[0, 1]) - 1.0)
        fx2, fy2 = min(float(w), math.ceil(corners[1, 0]) + 1.0), min(float(h), math.ceil(corners[1, 1]) + 1.0)
        return [[(fx1, fy1), (fx2, fy1), (fx2, fy2), (fx1, fy2)]]

    def render(self, t: int) -> RenderedFrame:
        """Render frame ``t``."""
        if not 0 <= t < self.num_frames:
            raise IndexError(f"frame {t} out of range [0, {self.num_frames}) in {self.name}")
        w, h = self.cfg.width, self.cfg.height
        m = self.camera.affine(t)
        image = cv2.warpAffine(self.background.image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if self.background.crowd_mask is not None:
            instances = cv2.warpAffine(self.background.crowd_mask, m, (w, h), flags=cv2.INTER_NEAREST)
        else:
            instances = np.zeros((h, w), np.uint8)
        parsing = np.zeros((h, w), np.uint8)
        pen = Pen(image, instances, parsing)
        visible = []
        for p in self.people:
            if not p.plan.on[t]:
                continue
            xy = p.xy[t]
            margin = 0.1 * p.scale[t]
            if xy[:, 0].max() + margin < 0 or xy[:, 0].min() - margin > w:
                continue
            if xy[:, 1].max() + margin < 0 or xy[:, 1].min() - margin > h:
                continue
            visible.append(p)
        visible.sort(key=lambda p: (p.plan.d[t], p.plan.track_id))
        drawn = [(p, self._painter.draw(pen, p, t, p.plan.track_id + 1)) for p in visible]
        people = []
        for p, d in drawn:
            ann = annotate_person(p, d, t, instances, parsing, self.cfg.min_visible_pixels)
            if ann is not None:
                people.append(ann)
        people.sort(key=lambda a: a.track_id)
        image = self.photometric.apply(image, t)
        return RenderedFrame(t, image, instances, parsing, people, self.ignore_regions(t))

    def __iter__(self):
        for t in range(self.num_frames):
            yield self.render(t)
