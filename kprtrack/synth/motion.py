"""Motion planning: who is where, facing which way, doing what, in every frame of a sequence.

Every scripted person (an *agent*) walks or runs across the ground with gait phase, speed changes
and slow depth drift, turns round, stops to look at the camera or away, raises the arms or
crouches, leaves the view and comes back after a gap (same track, same identity). Agent 0 is
scripted to leave and re-enter in every sequence. *Companions* follow a leader side by side or one
behind the other, with slowly oscillating offsets: they make boxes that hold two people and
sustained front/back occlusion. People at different depths walking in opposite directions cross.

The planner steers the number of companions (or, below the world's natural level, keeps some
people away) so that the sequence's share of multi-person boxes, measured on the planned
geometry, comes close to ``SynthConfig.occlusion``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kprtrack.synth.camera import CameraPath, Layout
from kprtrack.synth.config import SynthConfig
from kprtrack.synth.identities import Identity
from kprtrack.synth.parts import ANNOTATED_JOINTS
from kprtrack.synth.skeleton import DEPTH_RANGE, NUM_POINTS, Build, body_points, project
from kprtrack.synth.stats import multi_person_flags

#: Stand-still actions and their probabilities.
_ACTIONS = ("idle", "look_front", "look_back", "raise", "crouch")
_ACTION_P = (0.2, 0.25, 0.2, 0.2, 0.15)
_TURN_RATE = 4.0  # rad/s
_BLEND_RATE = 3.0  # 1/s, for raise/crouch blends


@dataclass(frozen=True)
class Coupling:
    """How a companion follows its leader (offsets in leader body heights / depth units)."""

    kind: str
    ox: float
    od: float
    amp_x: float
    amp_d: float
    freq: float
    phase: float
    leader_u: float

    @staticmethod
    def draw(rng: np.random.Generator) -> Coupling:
        """Random side-by-side (60 %) or front/back (40 %) coupling."""
        side = 1.0 if rng.random() < 0.5 else -1.0
        if rng.random() < 0.6:
            kind, ox, od = "side", side * rng.uniform(0.22, 0.42), rng.uniform(-0.05, 0.05)
        else:
            kind, ox, od = (
                "behind",
                side * rng.uniform(0.0, 0.18),
                (1 if rng.random() < 0.5 else -1) * rng.uniform(0.1, 0.22),
            )
        return Coupling(
            kind=kind,
            ox=float(ox),
            od=float(od),
            amp_x=float(rng.uniform(0.05, 0.15)),
            amp_d=float(rng.uniform(0.0, 0.06)),
            freq=float(rng.uniform(0.08, 0.25)),
            phase=float(rng.uniform(0, 2 * np.pi)),
            leader_u=float(rng.random()),
        )


@dataclass
class TrackPlan:
    """Planned state of one person over the ``T`` frames of a sequence.

    Attributes:
        identity: who it is.
        track_id: its track id in the sequence (0-based; instance maps store ``track_id + 1``).
        on: ``(T,)`` bool, person is on stage (drawn) in that frame.
        x, d: ``(T,)`` canvas x of the feet and depth in [0, 1].
        theta: ``(T,)`` facing angle (0 = towards the camera).
        phase, move, run, raise_arms, crouch: ``(T,)`` pose parameters (see :func:`body_points`).
        leader: track id of the person it follows, if a companion.
    """

    identity: Identity
    track_id: int
    on: np.ndarray
    x: np.ndarray
    d: np.ndarray
    theta: np.ndarray
    phase: np.ndarray
    move: np.ndarray
    run: np.ndarray
    raise_arms: np.ndarray
    crouch: np.ndarray
    leader: int | None = None


@dataclass
class PlacedPerson:
    """A planned person projected into the frames.

    Attributes:
        plan: the motion plan.
        build: body proportions.
        xy: ``(T, NUM_POINTS, 2)`` frame coordinates of the body points (garbage where ``plan.on`` is False).
        zc: ``(T, NUM_POINTS)`` depth of each point towards the camera (body heights).
        scale: ``(T,)`` frame pixels per body height.
    """

    plan: TrackPlan
    build: Build
    xy: np.ndarray
    zc: np.ndarray
    scale: np.ndarray


class _Agent:
    """Mutable simulation state of one person."""

    def __init__(self, identity: Identity, rng: np.random.Generator) -> None:
        self.identity = identity
        self.rng = rng
        self.on = False
        self.timer = 0
        self.x = 0.0
        self.d = 0.5
        self.psi = 0.0  # motion direction: 0 = right, pi/2 = towards the camera
        self.speed = 0.0
        self.running = False
        self.standing = 0  # frames left standing
        self.action = "idle"
        self.theta = 0.0
        self.theta_target = 0.0
        self.phase = float(rng.uniform(0, 2 * np.pi))
        self.raise_w = 0.0
        self.crouch_w = 0.0
        self.scripted_exit = False
        self.exited_once = False
        self.speed_phase = float(rng.uniform(0, 2 * np.pi))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _turn(agent: _Agent, dt: float) -> None:
    diff = _wrap(agent.theta_target - agent.theta)
    if abs(diff) > math.pi - 0.05:  # a half turn: turn through the front view
        diff = -math.copysign(abs(diff), agent.theta if agent.theta != 0 else 1.0)
    step = _TURN_RATE * dt
    agent.theta = _wrap(agent.theta + max(-step, min(step, diff)))


def _approach(v: float, target: float, rate: float) -> float:
    return v + max(-rate, min(rate, target - v))


class _Simulator:
    """Frame-by-frame simulation of all agents of a sequence."""

    def __init__(
        self,
        identities: list[Identity],
        seeds: list[np.random.SeedSequence],
        roles: dict[int, tuple[int, Coupling]],
        layout: Layout,
        camera: CameraPath,
        cfg: SynthConfig,
        num_frames: int,
        initial: list[tuple[bool, float]],
    ) -> None:
        self.layout, self.camera, self.cfg, self.T = layout, camera, cfg, num_frames
        self.dt = 1.0 / cfg.fps
        self.roles = roles
        self.agents = [_Agent(i, np.random.default_rng(s)) for i, s in zip(identities, seeds)]
        self.initial = initial

    def h_px(self, agent: _Agent) -> float:
        return agent.identity.height * float(self.layout.height_px(agent.d))

    def _place_on_stage(self, agent: _Agent, t: int, u: float) -> None:
        rng = agent.rng
        x1, _, x2, _ = self.camera.view(t)
        agent.d = float(rng.uniform(0.05, 0.95))
        agent.x = x1 + (0.08 + 0.84 * u) * (x2 - x1)
        agent.psi = (0.0 if rng.random() < 0.5 else math.pi) + float(rng.uniform(-0.3, 0.3))
        agent.theta = agent.theta_target = math.atan2(math.cos(agent.psi), math.sin(agent.psi))
        agent.speed = agent.identity.walk_speed
        agent.on = True

    def _enter(self, agent: _Agent, t: int) -> None:
        rng = agent.rng
        x1, _, x2, _ = self.camera.view(t)
        agent.d = float(rng.uniform(0.05, 0.95))
        left = rng.random() < 0.5
        margin = 0.38 * self.h_px(agent)
        agent.x = x1 - margin if left else x2 + margin
        agent.psi = (0.0 if left else math.pi) + float(rng.uniform(-0.3, 0.3))
        agent.theta = agent.theta_target = math.atan2(math.cos(agent.psi), math.sin(agent.psi))
        agent.running = bool(rng.random() < 0.25)
        agent.speed = agent.identity.run_speed if agent.running else agent.identity.walk_speed
        agent.standing = 0
        agent.on = True

    def _events(self, agent: _Agent) -> None:
        rng, dt = agent.rng, self.dt
        r = rng.random(5)  # always draw the same amount: streams stay aligned
        if (agent.scripted_exit and not agent.exited_once) or agent.standing > 0:
            return
        if r[0] < 0.12 * dt:
            agent.standing = int(rng.uniform(1.0, 3.0) * self.cfg.fps)
            agent.action = _ACTIONS[int(rng.choice(len(_ACTIONS), p=_ACTION_P))]
            return
        if r[1] < (0.35 if agent.running else 0.08) * dt:
            agent.running = not agent.running
        if r[2] < 0.04 * dt:
            agent.psi = _wrap(math.pi - agent.psi)
        if r[3] < 0.25 * dt:
            base = 0.0 if math.cos(agent.psi) > 0 else math.pi
            agent.psi = _wrap(base + (r[4] - 0.5) * 0.9 * (1 if base == 0 else -1))

    def _step(self, agent: _Agent, t: int) -> None:
        dt, ident = self.dt, agent.identity
        self._events(agent)
        if agent.standing > 0:
            agent.standing -= 1
            agent.speed = _approach(agent.speed, 0.0, 3.0 * dt)
            if agent.action == "look_front":
                agent.theta_target = 0.0
            elif agent.action == "look_back":
                agent.theta_target = math.pi
            raise_t = 1.0 if agent.action == "raise" and agent.standing > 0.3 * self.cfg.fps else 0.0
            crouch_t = 1.0 if agent.action == "crouch" and agent.standing > 0.3 * self.cfg.fps else 0.0
        else:
            wobble = 1.0 + 0.12 * math.sin(2 * math.pi * 0.15 * t * dt + agent.speed_phase)
            target = ident.run_speed if agent.running else ident.walk_speed * wobble
            agent.speed = _approach(agent.speed, target, 1.5 * dt)
            agent.theta_target = math.atan2(math.cos(agent.psi), math.sin(agent.psi))
            raise_t = crouch_t = 0.0
        agent.raise_w = _approach(agent.raise_w, raise_t, _BLEND_RATE * dt)
        agent.crouch_w = _approach(agent.crouch_w, crouch_t, _BLEND_RATE * dt)
        _turn(agent, dt)
        run_w = min(1.0, max(0.0, (agent.speed - 1.0) / 0.7))
        agent.phase += 2 * math.pi * agent.speed / (0.8 + 0.5 * run_w) * dt
        agent.x += math.cos(agent.psi) * agent.speed * self.h_px(agent) * dt
        agent.d += math.sin(agent.psi) * agent.speed * dt / DEPTH_RANGE
        if agent.d < 0.0 or agent.d > 1.0:
            agent.d = -agent.d if agent.d < 0.0 else 2.0 - agent.d
            agent.psi = _wrap(-agent.psi)

    def _maybe_exit(self, agent: _Agent, t: int) -> None:
        x1, _, x2, _ = self.camera.view(min(t + 1, self.T - 1))
        half = 0.42 * self.h_px(agent)
        going_left = math.cos(agent.psi) < 0
        if not ((agent.x + half < x1 and going_left) or (agent.x - half > x2 and not going_left)):
            return
        agent.on = False
        rng = agent.rng
        lo, hi = self.cfg.reentry_gap_s
        gap = max(1, int(round(rng.uniform(lo, hi) * self.cfg.fps)))
        if agent.scripted_exit and not agent.exited_once:
            gap = min(gap, max(1, int(0.2 * self.T)))
        elif rng.random() < 0.2:
            gap = 10 * self.T  # gone for good
        agent.exited_once = True
        agent.timer = gap

    def run(self) -> list[TrackPlan]:
        T, n = self.T, len(self.agents)
        rec = {k: np.zeros((n, T)) for k in ("x", "d", "theta", "phase", "move", "run", "raise", "crouch")}
        on = np.zeros((n, T), bool)
        for i, agent in enumerate(self.agents):
            if i in self.roles:
                continue
            start_on, u = self.initial[i]
            if start_on:
                self._place_on_stage(agent, 0, u)
                if i == 0:  # scripted to leave the view early and come back
                    x1, _, x2, _ = self.camera.view(0)
                    left = u < 0.5
                    agent.scripted_exit = True
                    agent.x = x1 + 0.05 * (x2 - x1) if left else x2 - 0.05 * (x2 - x1)
                    agent.psi = math.pi if left else 0.0
                    agent.theta = agent.theta_target = math.atan2(math.cos(agent.psi), math.sin(agent.psi))
            else:
                agent.timer = int(u * 0.8 * T)
        leaders = [i for i in range(n) if i not in self.roles]
        companions = [i for i in range(n) if i in self.roles]
        for t in range(T):
            for i in leaders:
                agent = self.agents[i]
                if not agent.on:
                    if agent.timer > 0:
                        agent.timer -= 1
                        continue
                    self._enter(agent, t)
                self._record(rec, on, i, t, agent)
                self._step(agent, t)
                self._maybe_exit(agent, t)
            for i in companions:
                self._follow(rec, on, i, t)
        plans = []
        for i, agent in enumerate(self.agents):
            move = np.clip(rec["move"][i] / 0.55, 0.0, 1.0)
            run = np.clip((rec["move"][i] - 1.0) / 0.7, 0.0, 1.0)
            plans.append(
                TrackPlan(
                    identity=agent.identity,
                    track_id=i,
                    on=on[i],
                    x=rec["x"][i],
                    d=rec["d"][i],
                    theta=rec["theta"][i],
                    phase=rec["phase"][i],
                    move=move,
                    run=run,
                    raise_arms=rec["raise"][i],
                    crouch=rec["crouch"][i],
                    leader=self.roles[i][0] if i in self.roles else None,
                )
            )
        return plans

    @staticmethod
    def _record(rec: dict[str, np.ndarray], on: np.ndarray, i: int, t: int, agent: _Agent) -> None:
        on[i, t] = True
        rec["x"][i, t], rec["d"][i, t], rec["theta"][i, t] = agent.x, agent.d, agent.theta
        rec["phase"][i, t], rec["move"][i, t] = agent.phase, agent.speed  # speed -> blends later
        rec["raise"][i, t], rec["crouch"][i, t] = agent.raise_w, agent.crouch_w

    def _follow(self, rec: dict[str, np.ndarray], on: np.ndarray, i: int, t: int) -> None:
        leader_i, c = self.roles[i]
        agent, lead = self.agents[i], self.agents[leader_i]
        if not on[leader_i, t]:
            agent.on = False
            return
        if not agent.on:  # (re-)entering with the leader: adopt its facing
            agent.on = True
            agent.theta = lead.theta
        osc = math.sin(2 * math.pi * c.freq * t * self.dt + c.phase)
        h_lead = lead.identity.height * float(self.layout.height_px(rec["d"][leader_i, t]))
        agent.x = rec["x"][leader_i, t] + (c.ox + c.amp_x * osc) * h_lead
        agent.d = min(1.0, max(0.0, rec["d"][leader_i, t] + c.od + c.amp_d * osc))
        agent.speed = rec["move"][leader_i, t]
        agent.theta_target = lead.theta_target if lead.standing > 0 else lead.theta
        _turn(agent, self.dt)
        self._record(rec, on, i, t, agent)
        run_w = min(1.0, max(0.0, (agent.speed - 1.0) / 0.7))
        agent.phase += 2 * math.pi * agent.speed / (0.8 + 0.5 * run_w) * self.dt


def place(plan: TrackPlan, layout: Layout, camera: CameraPath) -> PlacedPerson:
    """Compute the body points of a plan and project them into every frame."""
    build = Build.of(plan.identity)
    pts = body_points(build, plan.phase, plan.move, plan.run, plan.raise_arms, plan.crouch)
    t = np.arange(len(plan.on))
    foot_canvas = np.stack([plan.x, layout.foot_y(plan.d)], -1)
    foot = camera.to_frame(foot_canvas, t)
    scale = camera.zoom * plan.identity.height * layout.height_px(plan.d)
    xy, zc = project(pts, plan.theta, foot, scale)
    return PlacedPerson(plan, build, xy, zc, scale)


def planned_multi_share(people: list[PlacedPerson], width: int, height: int, step: int = 2) -> float:
    """Share of multi-person boxes estimated from the planned geometry (every ``step``-th frame).

    A person counts when one of its annotated joints is inside the image; its box is the extent of
    its body points widened by half a limb.
    """
    if not people:
        return 0.0
    num_frames = len(people[0].plan.on)
    joints = list(ANNOTATED_JOINTS)
    total = multi = 0
    for t in range(0, num_frames, step):
        boxes, kps = [], []
        for p in people:
            if not p.plan.on[t]:
                continue
            xy = p.xy[t]
            k = xy[joints]
            inside = (k[:, 0] > 0.5) & (k[:, 0] < width - 0.5) & (k[:, 1] > 0.5) & (k[:, 1] < height - 0.5)
            if not inside.any():
                continue
            m = 0.05 * p.scale[t]
            lo, hi = xy.min(0) - m, xy.max(0) + m
            boxes.append([max(lo[0], 0), max(lo[1], 0), min(hi[0], width), min(hi[1], height)])
            kps.append(k[inside])
        if boxes:
            flags = multi_person_flags(np.asarray(boxes, np.float64), kps)
            total += len(flags)
            multi += int(flags.sum())
    return multi / total if total else 0.0


def plan_sequence(
    identities: list[Identity],
    layout: Layout,
    camera: CameraPath,
    cfg: SynthConfig,
    num_frames: int,
    rng: np.random.Generator,
    seed: np.random.SeedSequence,
) -> tuple[list[PlacedPerson], float]:
    """Plan and place everybody of one sequence, steering the multi-person share to ``cfg.occlusion``.

    The search runs over ``k``: ``k > 0`` people (never agent 0) become companions of a leader,
    ``k < 0`` people stay away; it starts from a guess and walks until the planned share crosses
    the target, keeping the closest plan.

    Args:
        identities: the scripted people (track id = position in this list).
        layout, camera: scene geometry.
        cfg: the configuration (fps, occlusion target, ...).
        num_frames: sequence length.
        rng: the sequence's generator (draws who may become a companion, and how).
        seed: parent of the per-person random streams.

    Returns:
        The placed people (those who stay away are left out) and the planned multi-person share.
    """
    n = len(identities)
    seeds = seed.spawn(n)
    couplings = [Coupling.draw(rng) for _ in range(n)]
    initial = [(bool(rng.random() < cfg.initially_on_stage) or i == 0, float(rng.random())) for i in range(n)]
    order = [int(i) for i in rng.permutation(np.arange(1, n))]
    max_comp = max(0, n - 2)

    def build(k: int) -> tuple[list[PlacedPerson], float]:
        # k > 0: the first k of `order` follow a leader; k < 0: the last -k of `order` stay away
        comp = set(order[:k]) if k > 0 else set()
        absent = set(order[len(order) + k :]) if k < 0 else set()
        leaders = [i for i in range(n) if i not in comp]
        roles = {c: (leaders[int(couplings[c].leader_u * len(leaders))], couplings[c]) for c in comp}
        init = [(False, 10.0) if i in absent else init for i, init in enumerate(initial)]
        plans = _Simulator(identities, seeds, roles, layout, camera, cfg, num_frames, init).run()
        people = [place(p, layout, camera) for i, p in enumerate(plans) if i not in absent]
        return people, planned_multi_share(people, camera.frame_w, camera.frame_h)

    target = cfg.occlusion
    k = int(min(max_comp, max(-max_comp, round((target - 0.45) * n))))
    best_people, best_share = build(k)
    direction = 1 if best_share < target else -1
    while -max_comp <= k + direction <= max_comp:
        k += direction
        people, share = build(k)
        if abs(share - target) < abs(best_share - target):
            best_people, best_share = people, share
        if (share - target) * direction >= 0:  # crossed the target
            break
    return best_people, best_share


__all__ = ["NUM_POINTS", "Coupling", "PlacedPerson", "TrackPlan", "place", "plan_sequence", "planned_multi_share"]
