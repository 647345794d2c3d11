"""Drawing people: filled, shaded limbs, torso and head, with a depth order between limbs.

Every shape that belongs to the silhouette is drawn three times: in colour, with the person's
instance value and with its parsing label, so the instance and parsing maps are exact (the last
shape drawn at a pixel wins, and people are drawn far to near). Decorations inside the silhouette
(highlights, shadows, shirt patterns and numbers, eyes) are drawn in colour only.

Within a person, body parts are drawn in the order of their depth towards the camera (``zc`` of
:func:`kprtrack.synth.skeleton.project`), so a far arm disappears behind the torso and a near leg
covers the far one. Parts on the far side are drawn slightly darker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from kprtrack.synth import parts as P
from kprtrack.synth import skeleton as S
from kprtrack.synth.identities import Color, Identity
from kprtrack.synth.motion import PlacedPerson

_SHIFT = 3
_F = float(1 << _SHIFT)
_L8 = cv2.LINE_8
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scale(c: Color, f: float) -> Color:
    return (min(255, int(c[0] * f)), min(255, int(c[1] * f)), min(255, int(c[2] * f)))


@dataclass(frozen=True)
class Palette:
    """Colours of one identity: ``near[name]`` / ``far[name]`` -> (base, highlight)."""

    near: dict[str, tuple[Color, Color]]
    far: dict[str, tuple[Color, Color]]

    @staticmethod
    def of(identity: Identity) -> Palette:
        """Shaded colour variants of an identity's skin, hair and clothes."""
        kit = identity.kit
        base = {
            "skin": identity.skin,
            "hair": identity.hair,
            "shirt": kit.shirt,
            "shorts": kit.shorts,
            "socks": kit.socks,
            "shoes": identity.shoes,
            "pattern": kit.pattern_color,
        }
        near = {k: (c, _scale(c, 1.18)) for k, c in base.items()}
        far = {k: (_scale(c, 0.8), _scale(c, 0.92)) for k, c in base.items()}
        return Palette(near, far)


@dataclass(frozen=True)
class Drawn:
    """Geometry of a drawn person in frame pixels.

    Attributes:
        extent: ``x1, y1, x2, y2`` enclosing every silhouette pixel (not clipped to the frame).
        head: ``cx, cy, radius`` of the head including hair.
    """

    extent: tuple[float, float, float, float]
    head: tuple[float, float, float]


class Pen:
    """Draws silhouette shapes into colour, instance and parsing buffers and tracks their extent.

    Args:
        image: ``(H, W, 3)`` uint8 BGR frame.
        instances: ``(H, W)`` uint8 instance map.
        parsing: ``(H, W)`` uint8 part map.
    """

    def __init__(self, image: np.ndarray, instances: np.ndarray, parsing: np.ndarray) -> None:
        self.image, self.instances, self.parsing = image, instances, parsing
        self.value = 0
        self.reset(0)

    def reset(self, value: int) -> None:
        """Start a new person with instance value ``value``."""
        self.value = value
        self.x1 = self.y1 = math.inf
        self.x2 = self.y2 = -math.inf

    def _grow(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.x1, self.y1 = min(self.x1, x1), min(self.y1, y1)
        self.x2, self.y2 = max(self.x2, x2), max(self.y2, y2)

    def capsule(
        self, p: list[float], q: list[float], thick: float, color: tuple[Color, Color], label: int, mask: bool = True
    ) -> None:
        """A thick segment with round caps (a limb), with a highlight along it."""
        t = max(1, int(thick + 0.5))
        a = (int(p[0] * _F + 0.5), int(p[1] * _F + 0.5))
        b = (int(q[0] * _F + 0.5), int(q[1] * _F + 0.5))
        cv2.line(self.image, a, b, color[0], t, _L8, _SHIFT)
        if mask:
            cv2.line(self.instances, a, b, self.value, t, _L8, _SHIFT)
            cv2.line(self.parsing, a, b, label, t, _L8, _SHIFT)
            r = t / 2 + 1.0
            self._grow(min(p[0], q[0]) - r, min(p[1], q[1]) - r, max(p[0], q[0]) + r, max(p[1], q[1]) + r)
        if t >= 5:
            th = max(1, int(t * 0.4))
            ox, oy = int(-0.3 * (t - th) * _F), int(-0.15 * (t - th) * _F)
            cv2.line(self.image, (a[0] + ox, a[1] + oy), (b[0] + ox, b[1] + oy), color[1], th, _L8, _SHIFT)

    def poly(self, pts: np.ndarray, color: Color, label: int, mask: bool = True) -> None:
        """A filled convex polygon ``(K, 2)``."""
        ip = np.rint(pts * _F).astype(np.int32)
        cv2.fillConvexPoly(self.image, ip, color, _L8, _SHIFT)
        if mask:
            cv2.fillConvexPoly(self.instances, ip, self.value, _L8, _SHIFT)
            cv2.fillConvexPoly(self.parsing, ip, label, _L8, _SHIFT)
            lo, hi = pts.min(0), pts.max(0)
            self._grow(lo[0] - 1.0, lo[1] - 1.0, hi[0] + 1.0, hi[1] + 1.0)

    def disc(self, c: list[float], radius: float, color: Color, label: int, mask: bool = True) -> None:
        """A filled circle."""
        ic = (int(c[0] * _F + 0.5), int(c[1] * _F + 0.5))
        ir = max(1, int(radius * _F + 0.5))
        cv2.circle(self.image, ic, ir, color, -1, _L8, _SHIFT)
        if mask:
            cv2.circle(self.instances, ic, ir, self.value, -1, _L8, _SHIFT)
            cv2.circle(self.parsing, ic, ir, label, -1, _L8, _SHIFT)
            r = radius + 1.0
            self._grow(c[0] - r, c[1] - r, c[0] + r, c[1] + r)

    def sector(self, c: list[float], radius: float, start: float, end: float, color: Color, label: int) -> None:
        """A filled circular sector (angles in degrees, clockwise from +x)."""
        ic = (int(c[0] * _F + 0.5), int(c[1] * _F + 0.5))
        ir = max(1, int(radius * _F + 0.5))
        for buf, col in ((self.image, color), (self.instances, self.value), (self.parsing, label)):
            cv2.ellipse(buf, ic, (ir, ir), 0.0, start, end, col, -1, _L8, _SHIFT)
        r = radius + 1.0
        self._grow(c[0] - r, c[1] - r, c[0] + r, c[1] + r)


def _lerp(p: list[float], q: list[float], f: float) -> list[float]:
    return [p[0] + (q[0] - p[0]) * f, p[1] + (q[1] - p[1]) * f]


_SIDES = (
    # leg label, foot label, arm label, hip, knee, ankle, toe, shoulder, elbow, wrist, hand
    (P.LEFT_LEG, P.LEFT_FEET, P.LEFT_ARM, S.L_HIP, S.L_KNEE, S.L_ANKLE, S.L_TOE, S.L_SHOULDER, S.L_ELBOW, S.L_WRIST,
     S.L_HAND),
    (P.RIGHT_LEG, P.RIGHT_FEET, P.RIGHT_ARM, S.R_HIP, S.R_KNEE, S.R_ANKLE, S.R_TOE, S.R_SHOULDER, S.R_ELBOW, S.R_WRIST,
     S.R_HAND),
)  # fmt: skip


class PersonPainter:
    """Draws placed people frame by frame (keeps one :class:`Palette` per identity)."""

    def __init__(self) -> None:
        self._palettes: dict[int, Palette] = {}

    def palette(self, identity: Identity) -> Palette:
        """Cached palette of an identity."""
        pal = self._palettes.get(identity.person_id)
        if pal is None:
            pal = self._palettes[identity.person_id] = Palette.of(identity)
        return pal

    def draw(self, pen: Pen, person: PlacedPerson, t: int, value: int) -> Drawn:
        """Draw ``person`` as it is in frame ``t`` with instance value ``value``."""
        pen.reset(value)
        ident, b = person.plan.identity, person.build
        pts = person.xy[t].tolist()
        zc = person.zc[t].tolist()
        s = float(person.scale[t])
        theta = float(person.plan.theta[t])
        ct, st = math.cos(theta), math.sin(theta)
        pal = self.palette(ident)
        torso_z = 0.5 * (zc[S.SHOULDER_CENTER] + zc[S.PELVIS])
        groups: list[tuple[float, int, int]] = []  # (depth, kind, side)
        for side, sd in enumerate(_SIDES):
            _, _, _, hip, knee, ankle, toe, sh, el, wr, _ = sd
            groups.append(((zc[hip] + zc[knee] + zc[ankle]) / 3 + 0.01, 0, side))
            groups.append(((zc[ankle] + zc[toe]) / 2 + 0.012, 1, side))
            groups.append(((zc[sh] + zc[el] + zc[wr]) / 3 + 0.02, 2, side))
        groups.append((torso_z, 3, 0))
        groups.append((torso_z - 0.02, 4, 0))
        groups.append((zc[S.HEAD_CENTER] + 0.06, 5, 0))
        if ident.hair_style == "long":  # hangs behind the head: behind the torso from the front
            groups.append((zc[S.HEAD_CENTER] - 0.6 * b.head_radius * ct, 6, 0))
        groups.sort()
        head_r = b.head_radius * s
        for z, kind, side in groups:
            col = pal.far if z < torso_z - 0.03 else pal.near
            if kind == 0:
                self._leg(pen, ident, b, s, pts, _SIDES[side], col)
            elif kind == 1:
                sd = _SIDES[side]
                pen.capsule(pts[sd[5]], pts[sd[6]], b.foot_thick * s, col["shoes"], sd[1])
            elif kind == 2:
                self._arm(pen, ident, b, s, pts, _SIDES[side], col)
            elif kind == 3:
                self._torso(pen, ident, b, s, pts, ct, st, pal)
            elif kind == 4:
                pen.capsule(pts[S.HEAD_BOTTOM], pts[S.SHOULDER_CENTER], b.neck_thick * s, pal.near["skin"], P.HEAD)
            elif kind == 5:
                self._head(pen, ident, s, pts, head_r, ct, st, pal)
            else:
                hc, hair = pts[S.HEAD_CENTER], pal.near["hair"]
                pen.capsule(hc, [hc[0] - st * 0.5 * head_r, hc[1] + 1.5 * head_r], 1.5 * head_r, hair, P.HEAD)
        hc = pts[S.HEAD_CENTER]
        return Drawn((pen.x1, pen.y1, pen.x2, pen.y2), (hc[0], hc[1], head_r * 1.07 + 1.0))

    @staticmethod
    def _leg(pen: Pen, ident: Identity, b: S.Build, s: float, pts: list, sd: tuple, col: dict) -> None:
        label, hip, knee, ankle = sd[0], pts[sd[3]], pts[sd[4]], pts[sd[5]]
        thigh_t, shin_t = b.thigh_thick * s, b.shin_thick * s
        if ident.kit.long_trousers:
            pen.capsule(hip, knee, thigh_t * 1.1, col["shorts"], label)
            pen.capsule(knee, ankle, shin_t * 1.15, col["shorts"], label)
            return
        pen.capsule(hip, knee, thigh_t, col["skin"], label)
        pen.capsule(knee, ankle, shin_t, col["skin"], label)
        pen.capsule(_lerp(knee, ankle, 0.4), ankle, shin_t * 1.08, col["socks"], label)
        pen.capsule(hip, _lerp(hip, knee, 0.55), thigh_t * 1.3, col["shorts"], label)

    @staticmethod
    def _arm(pen: Pen, ident: Identity, b: S.Build, s: float, pts: list, sd: tuple, col: dict) -> None:
        label, sh, el, wr, hand = sd[2], pts[sd[7]], pts[sd[8]], pts[sd[9]], pts[sd[10]]
        ua_t, fa_t = b.upper_arm_thick * s, b.forearm_thick * s
        sleeve = col["shirt"] if ident.kit.long_sleeves else col["skin"]
        pen.capsule(sh, el, ua_t, sleeve, label)
        pen.capsule(el, wr, fa_t, sleeve, label)
        pen.capsule(wr, hand, fa_t * 1.15, col["skin"], label)
        if not ident.kit.long_sleeves:
            pen.capsule(sh, _lerp(sh, el, 0.5), ua_t * 1.3, col["shirt"], label)

    @staticmethod
    def _torso(pen: Pen, ident: Identity, b: S.Build, s: float, pts: list, ct: float, st: float, pal: Palette) -> None:
        act, ast = abs(ct), abs(st)
        sc, wa, pv = pts[S.SHOULDER_CENTER], pts[S.WAIST], pts[S.PELVIS]
        ux, uy = sc[0] - pv[0], sc[1] - pv[1]
        norm = math.hypot(ux, uy) or 1.0
        ux, uy = ux / norm, uy / norm
        hw_s = s * (act * (b.shoulder_width / 2 + b.upper_arm_thick * 0.35) + ast * b.torso_depth / 2)
        hw_w = s * (act * (b.hip_width / 2 + 0.035) + ast * b.torso_depth * 0.45)
        hw_p = s * (act * (b.hip_width / 2 + 0.045) + ast * b.torso_depth * 0.5)
        top = (sc[0] + ux * 0.02 * s, sc[1] + uy * 0.02 * s)
        low = (pv[0] - ux * 0.045 * s, pv[1] - uy * 0.045 * s)
        tl, tr = (top[0] - hw_s, top[1]), (top[0] + hw_s, top[1])
        br, bl = (wa[0] + hw_w, wa[1]), (wa[0] - hw_w, wa[1])
        pelvis = np.array([bl, br, (low[0] + hw_p, low[1]), (low[0] - hw_p, low[1])])
        kit = ident.kit
        pen.poly(pelvis, pal.near["shorts"][0], P.TORSO)
        shirt = np.array([tl, tr, br, bl])
        pen.poly(shirt, pal.near["shirt"][0], P.TORSO)
        torso_h = abs(bl[1] - tl[1])
        width = abs(tr[0] - tl[0])
        pc = pal.near["pattern"][0]
        quad = np.array([tl, tr, br, bl])
        if kit.pattern == "hoops" and torso_h >= 6:
            for f0 in (0.1, 0.45, 0.8):  # bands between the left (tl-bl) and right (tr-br) edges
                f1 = f0 + 0.17
                band = np.array([quad[0] + (quad[3] - quad[0]) * f0, quad[1] + (quad[2] - quad[1]) * f0,
                                 quad[1] + (quad[2] - quad[1]) * f1, quad[0] + (quad[3] - quad[0]) * f1])  # fmt: skip
                pen.poly(band, pc, 0, mask=False)
        elif kit.pattern == "stripes" and act > 0.3 and width >= 6:
            for f0 in (0.1, 0.4, 0.7):  # bands between the top (tl-tr) and bottom (bl-br) edges
                f1 = f0 + 0.15
                band = np.array([quad[0] + (quad[1] - quad[0]) * f0, quad[0] + (quad[1] - quad[0]) * f1,
                                 quad[3] + (quad[2] - quad[3]) * f1, quad[3] + (quad[2] - quad[3]) * f0])  # fmt: skip
                pen.poly(band, pc, 0, mask=False)
        elif kit.pattern == "sash" and act > 0.4 and width >= 6:
            lt = max(1, int(width * 0.2))
            a = [tl[0] + 0.2 * width, tl[1] + lt * 0.6]
            c = [br[0] - 0.2 * width, br[1] - lt * 0.6]
            pen.capsule(a, c, lt, (pc, pc), 0, mask=False)
        elif kit.pattern == "halves" and act > 0.3:
            mt, mb = ((tl[0] + tr[0]) / 2, tl[1]), ((bl[0] + br[0]) / 2, bl[1])
            pen.poly(np.array([tl, mt, mb, bl]), pc, 0, mask=False)
        # shade the side away from the light
        shadow = np.array([(tl[0] + 0.7 * width, tl[1]), tr, br, (bl[0] + 0.7 * (br[0] - bl[0]), bl[1])])
        pen.poly(shadow, pal.far["shirt"][0] if kit.pattern == "plain" else pal.far["shirt"][1], 0, mask=False)
        if ident.number is not None and torso_h >= 16 and act > 0.5:
            back = ct < 0
            text = str(ident.number)
            target = torso_h * (0.42 if back else 0.22)
            fs = target / 22.0
            thick = max(1, int(fs * 2.2))
            (tw, th), _ = cv2.getTextSize(text, _FONT, fs, thick)
            cx = (tl[0] + tr[0] + bl[0] + br[0]) / 4 + (0 if back else 0.22 * width * (1 if st >= 0 else -1))
            cy = tl[1] + torso_h * (0.5 if back else 0.3)
            org = (int(cx - tw / 2), int(cy + th / 2))
            cv2.putText(pen.image, text, org, _FONT, fs, ident.kit.number_color, thick, _L8)

    @staticmethod
    def _head(pen: Pen, ident: Identity, s: float, pts: list, r: float, ct: float, st: float, pal: Palette) -> None:
        hc = pts[S.HEAD_CENTER]
        hair = pal.near["hair"][0]
        style = ident.hair_style
        back_x = -st  # screen direction of the back of the head
        pen.disc(hc, r, pal.near["skin"][0], P.HEAD)
        if r >= 3:
            pen.disc([hc[0] - 0.3 * r, hc[1] - 0.3 * r], 0.45 * r, pal.near["skin"][1], 0, mask=False)
        if style != "bald":
            center = 270.0 - 55.0 * st
            span = min(360.0, 200.0 + 160.0 * max(0.0, -ct) + 20.0 * abs(st))
            pen.sector(hc, 1.07 * r, center - span / 2, center + span / 2, hair, P.HEAD)
        if style == "bun" and (abs(st) > 0.3 or ct < 0):
            pen.disc([hc[0] + back_x * 0.85 * r, hc[1] - 0.55 * r], 0.45 * r, hair, P.HEAD)
        if ct > -0.15 and r >= 4:
            eye = max(1.0, 0.11 * r)
            for e in (1.0, -1.0):
                ex, ez = e * 0.33, 0.88
                if -ex * st + ez * ct > 0.15:
                    pen.disc([hc[0] + r * (ex * ct + ez * st), hc[1] - 0.05 * r], eye, (35, 35, 35), 0, mask=False)
            nose = pts[S.NOSE]
            pen.disc(nose, max(1.0, 0.14 * r), _scale(pal.near["skin"][0], 0.8), 0, mask=False)
