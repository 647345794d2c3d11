"""The articulated body: proportions, sides, gait, poses and projection."""

from __future__ import annotations

import numpy as np

from kprtrack.synth import skeleton as S
from kprtrack.synth.config import make_config
from kprtrack.synth.identities import make_population


def _build() -> S.Build:
    pop = make_population(make_config("tiny").split("val"), np.random.default_rng(0))
    return S.Build.of(pop.identities[0])


def _pose(n=1, phase=0.0, move=0.0, run=0.0, raise_arms=0.0, crouch=0.0) -> np.ndarray:
    full = lambda v: np.full(n, v, float)  # noqa: E731
    return S.body_points(_build(), full(phase), full(move), full(run), full(raise_arms), full(crouch))


def test_standing_body_proportions():
    p = _pose()[0]
    feet = min(p[S.L_ANKLE, 1] - _build().ankle_height, p[S.L_TOE, 1] - _build().foot_thick / 2)
    assert abs(feet) < 1e-9, "the lowest foot point touches the ground"
    assert 0.93 < p[S.HEAD_TOP, 1] < 1.02
    assert p[S.HEAD_BOTTOM, 1] < p[S.NOSE, 1] < p[S.HEAD_TOP, 1]
    assert p[S.L_HIP, 1] > p[S.L_KNEE, 1] > p[S.L_ANKLE, 1]
    for left, right in ((S.L_SHOULDER, S.R_SHOULDER), (S.L_HIP, S.R_HIP), (S.L_WRIST, S.R_WRIST)):
        assert p[left, 0] > 0 > p[right, 0], "the person's left is +X"
    assert p[S.NOSE, 2] > p[S.HEAD_CENTER, 2], "the face looks along +Z"


def test_gait_alternates_legs_and_arms():
    phases = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    p = S.body_points(_build(), phases, np.ones(16), np.zeros(16), np.zeros(16), np.zeros(16))
    lead = p[:, S.L_ANKLE, 2] - p[:, S.R_ANKLE, 2]
    assert lead.max() > 0.1 and lead.min() < -0.1
    arm = p[:, S.L_WRIST, 2] - p[:, S.R_WRIST, 2]
    assert np.corrcoef(lead, arm)[0, 1] < -0.9, "arms swing against the legs"
    run = S.body_points(_build(), phases, np.ones(16), np.ones(16), np.zeros(16), np.zeros(16))
    assert np.ptp(run[:, S.L_ANKLE, 2]) > np.ptp(p[:, S.L_ANKLE, 2])


def test_raised_arms_and_crouch():
    up = _pose(raise_arms=1.0)[0]
    assert up[S.L_WRIST, 1] > up[S.HEAD_TOP, 1] and up[S.R_WRIST, 1] > up[S.HEAD_TOP, 1]
    low = _pose(crouch=1.0)[0]
    assert low[S.PELVIS, 1] < 0.8 * _pose()[0][S.PELVIS, 1]


def test_projection_faces_and_depth():
    p = np.repeat(_pose(), 3, axis=0)
    theta = np.array([0.0, np.pi / 2, np.pi])
    xy, zc = S.project(p, theta, np.array([[100.0, 200.0]] * 3), np.full(3, 100.0))
    front, right, back = xy
    assert front[S.L_SHOULDER, 0] > front[S.R_SHOULDER, 0], "facing the camera, the left side is on the right"
    assert back[S.L_SHOULDER, 0] < back[S.R_SHOULDER, 0]
    assert right[S.NOSE, 0] > right[S.HEAD_CENTER, 0], "facing right, the nose points right"
    assert zc[1, S.R_SHOULDER] > zc[1, S.L_SHOULDER], "facing right, the right side is nearer"
    assert zc[0, S.NOSE] > 0 > zc[2, S.NOSE]
    assert np.allclose(xy[:, S.HEAD_TOP, 1], 200.0 - 100.0 * p[:, S.HEAD_TOP, 1])
