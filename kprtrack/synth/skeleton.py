"""Articulated body model: 3-D joint positions from gait and pose parameters, and their projection.

The body lives in its own frame (units of body height, ``Y`` up, ground at ``Y = 0``, ``+X`` the
person's left, ``+Z`` the direction the person faces). A pose is a blend of a walking/running gait
cycle (hip and knee flexion, opposite arm swing, forward lean, running bounce) with two other
poses (arms raised, crouch); everything is vectorised over a batch of ``T`` poses.

Projection is orthographic around the vertical axis: a person facing the camera has ``theta = 0``,
facing right ``pi/2``, showing the back ``pi``. ``zc`` is each point's depth towards the camera,
used to order limbs (self-occlusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kprtrack.synth.identities import Identity

# Point indices: 0-16 are the posetrack21 joints (ears 3 and 4 sit at the head centre and are never
# annotated), then helper points used for drawing.
NOSE, HEAD_BOTTOM, HEAD_TOP, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16
HEAD_CENTER, L_TOE, R_TOE, L_HAND, R_HAND, PELVIS, SHOULDER_CENTER, WAIST = 17, 18, 19, 20, 21, 22, 23, 24
NUM_POINTS = 25

#: Depth of the walkable ground in body heights (maps depth ``d`` in [0, 1] to metres-like units).
DEPTH_RANGE = 6.0


@dataclass(frozen=True)
class Build:
    """Body proportions in units of body height (before the identity's height multiplier).

    Thickness fields are limb diameters.
    """

    ankle_height: float
    shin: float
    thigh: float
    torso: float
    neck: float
    head_radius: float
    upper_arm: float
    forearm: float
    hand: float
    foot: float
    shoulder_width: float
    hip_width: float
    torso_depth: float
    upper_arm_thick: float
    forearm_thick: float
    thigh_thick: float
    shin_thick: float
    foot_thick: float
    neck_thick: float

    @staticmethod
    def of(identity: Identity) -> Build:
        """The build of an identity (limb proportions and width)."""
        w, leg = identity.width, identity.leg_ratio
        return Build(
            ankle_height=0.045,
            shin=0.235 * leg,
            thigh=0.245 * leg,
            torso=0.29,
            neck=0.04,
            head_radius=0.062 * (0.95 + 0.05 * w),
            upper_arm=0.175,
            forearm=0.15,
            hand=0.065,
            foot=0.08,
            shoulder_width=0.23 * w,
            hip_width=0.15 * w,
            torso_depth=0.12 * w,
            upper_arm_thick=0.052 * w,
            forearm_thick=0.043 * w,
            thigh_thick=0.082 * w,
            shin_thick=0.062 * w,
            foot_thick=0.042,
            neck_thick=0.05 * w,
        )


def body_points(
    build: Build,
    phase: np.ndarray,
    move: np.ndarray,
    run: np.ndarray,
    raise_arms: np.ndarray,
    crouch: np.ndarray,
) -> np.ndarray:
    """Body-frame points of a batch of poses.

    Args:
        build: body proportions.
        phase: ``(T,)`` gait phase in radians (left leg forward at ``pi/2``).
        move: ``(T,)`` gait amplitude in [0, 1] (0 = standing).
        run: ``(T,)`` walk (0) to run (1) blend.
        raise_arms: ``(T,)`` blend towards both arms raised.
        crouch: ``(T,)`` blend towards a crouch.

    Returns:
        ``(T, NUM_POINTS, 3)`` float64 points ``X, Y, Z`` in body heights; the lowest foot point
        touches ``Y = 0`` (plus a small flight bounce when running).
    """
    phase = np.asarray(phase, np.float64)
    t = phase.shape[0]
    s, c = np.sin(phase), np.cos(phase)
    walk = 1.0 - run
    upright = 1.0 - crouch
    out = np.empty((t, NUM_POINTS, 3))
    hip_y = build.ankle_height + build.shin + build.thigh

    # legs: hip flexion (forward positive) and knee flexion, left leg leads at phase pi/2
    amp_hip = move * (0.34 * walk + 0.6 * run)
    knee_swing = move * (0.65 * walk + 1.4 * run)
    knee_base = 0.05 + move * (0.08 * walk + 0.3 * run)
    low = np.full(t, np.inf)
    for sign, hip_i, knee_i, ankle_i, toe_i, ss, cc in (
        (1.0, L_HIP, L_KNEE, L_ANKLE, L_TOE, s, c),
        (-1.0, R_HIP, R_KNEE, R_ANKLE, R_TOE, -s, -c),
    ):
        a = amp_hip * ss * upright + crouch * 1.25
        k = (knee_base + knee_swing * np.maximum(cc, 0.0) ** 1.5) * upright + crouch * 2.2
        hip = np.stack([np.full(t, sign * build.hip_width / 2), np.full(t, hip_y), np.zeros(t)], -1)
        knee = hip + build.thigh * np.stack([np.zeros(t), -np.cos(a), np.sin(a)], -1)
        shin_a = a - k
        ankle = knee + build.shin * np.stack([np.zeros(t), -np.cos(shin_a), np.sin(shin_a)], -1)
        foot_a = np.clip(shin_a * 0.5, -0.6, 0.6)
        toe = ankle + build.foot * np.stack([np.zeros(t), -0.25 + 0.5 * np.sin(foot_a), np.cos(foot_a)], -1)
        out[:, hip_i], out[:, knee_i], out[:, ankle_i], out[:, toe_i] = hip, knee, ankle, toe
        low = np.minimum(low, np.minimum(ankle[:, 1] - build.ankle_height, toe[:, 1] - build.foot_thick / 2))

    # upper body, leaned forward about the pelvis
    lean = 0.04 + 0.22 * run * move + 0.5 * crouch
    up = np.stack([np.zeros(t), np.cos(lean), np.sin(lean)], -1)
    fwd = np.stack([np.zeros(t), -np.sin(lean), np.cos(lean)], -1)
    pelvis = np.stack([np.zeros(t), np.full(t, hip_y), np.zeros(t)], -1)
    shoulder_c = pelvis + build.torso * up
    neck_base = shoulder_c + build.neck * up
    head_c = neck_base + build.head_radius * up + 0.1 * build.head_radius * fwd
    r = build.head_radius
    out[:, PELVIS], out[:, SHOULDER_CENTER], out[:, WAIST] = pelvis, shoulder_c, pelvis + 0.06 * up
    out[:, HEAD_BOTTOM], out[:, HEAD_CENTER] = neck_base, head_c
    out[:, HEAD_TOP] = head_c + 0.85 * r * up
    out[:, NOSE] = head_c + 0.78 * r * fwd - 0.15 * r * up
    out[:, L_EAR] = head_c
    out[:, R_EAR] = head_c

    # arms: swing opposite to the same-side leg; raise = abduction overhead
    amp_arm = move * (0.3 * walk + 0.55 * run)
    abduct = 0.08 + raise_arms * 2.45
    for sign, sh_i, el_i, wr_i, hand_i, ss in (
        (1.0, L_SHOULDER, L_ELBOW, L_WRIST, L_HAND, -s),
        (-1.0, R_SHOULDER, R_ELBOW, R_WRIST, R_HAND, s),
    ):
        shoulder = shoulder_c + np.stack([np.full(t, sign * build.shoulder_width / 2), np.zeros(t), np.zeros(t)], -1)
        b = amp_arm * ss * (1.0 - raise_arms) * upright + crouch * 0.9
        e = (0.1 + move * (0.15 * walk + 1.4 * run) + 0.25 * np.maximum(b, 0.0)) * (1.0 - raise_arms)
        e = e + raise_arms * 0.25 + crouch * 0.5
        ca, sa = np.cos(abduct), np.sin(abduct)
        upper = np.stack([sign * sa, -ca * np.cos(b), ca * np.sin(b)], -1)
        fa = abduct - raise_arms * 0.3
        cf, sf = np.cos(fa), np.sin(fa)
        fore = np.stack([sign * sf, -cf * np.cos(b + e), cf * np.sin(b + e)], -1)
        elbow = shoulder + build.upper_arm * upper
        wrist = elbow + build.forearm * fore
        out[:, sh_i], out[:, el_i], out[:, wr_i], out[:, hand_i] = shoulder, elbow, wrist, wrist + build.hand * fore

    bounce = 0.03 * run * move * np.abs(np.cos(phase))
    out[:, :, 1] -= (low - bounce)[:, None]
    return out


def project(
    points: np.ndarray, theta: np.ndarray, foot: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Project body-frame points into the image.

    Args:
        points: ``(T, P, 3)`` body-frame points.
        theta: ``(T,)`` facing angle (0 = towards the camera, ``pi/2`` = facing right).
        foot: ``(T, 2)`` image position of the body origin (ground point between the feet).
        scale: ``(T,)`` pixels per body height.

    Returns:
        ``xy`` ``(T, P, 2)`` image coordinates and ``zc`` ``(T, P)`` depth towards the camera in
        body heights (larger = nearer).
    """
    ct, st = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    xs = foot[:, 0:1] + scale[:, None] * (x * ct + z * st)
    ys = foot[:, 1:2] - scale[:, None] * y
    zc = -x * st + z * ct
    return np.stack([xs, ys], -1), zc
