"""Drawing tracks over frames: boxes, skeletons and id labels coloured per track id, trails."""

from __future__ import annotations

import colorsys
from collections import defaultdict, deque
from collections.abc import Iterable

import numpy as np

from kprtrack.keypoints import SKELETON
from kprtrack.structures import FrameRecord


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour for a track id (golden-ratio hue walk)."""
    if track_id < 0:
        return (160, 160, 160)
    h = (track_id * 0.61803398875) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


class TrackPainter:
    """Draws records onto RGB frames, remembering recent box centres for trails.

    Args:
        trail_length: number of past frames in a trail (0 disables trails).
        keypoint_threshold: joints with a lower confidence are not drawn.
        draw_boxes: draw boxes and id labels.
        draw_skeletons: draw joints and limbs.
    """

    def __init__(
        self,
        trail_length: int = 0,
        keypoint_threshold: float = 0.3,
        draw_boxes: bool = True,
        draw_skeletons: bool = True,
    ) -> None:
        self.trail_length = trail_length
        self.keypoint_threshold = keypoint_threshold
        self.draw_boxes = draw_boxes
        self.draw_skeletons = draw_skeletons
        self._trails: dict[int, deque] = defaultdict(lambda: deque(maxlen=max(1, trail_length)))
        self._last_seen: dict[int, int] = {}
        self._frame = 0

    def draw(self, frame: np.ndarray, record: FrameRecord) -> np.ndarray:
        """Return a copy of the RGB ``frame`` with ``record`` drawn on it."""
        import cv2

        out = np.ascontiguousarray(frame).copy()
        ids = record.track_ids if record.track_ids is not None else np.full(len(record), -1)
        thickness = max(1, round(min(out.shape[:2]) / 360))
        for box, kps, tid in zip(record.boxes, record.keypoints, ids):
            color = track_color(int(tid))
            if self.draw_skeletons:
                # small (far) people get thin limbs and small joints, so the drawing does not hide them
                size = max(1.0, float(box[3] - box[1]))
                limb = max(1, min(thickness + 1, round(size / 60)))
                joint = max(1, min(thickness + 2, round(size / 40)))
                ok = kps[:, 2] >= self.keypoint_threshold
                ok &= (kps[:, 0] > 0) | (kps[:, 1] > 0)
                for a, b in SKELETON:
                    if ok[a] and ok[b]:
                        pa = (int(round(kps[a, 0])), int(round(kps[a, 1])))
                        pb = (int(round(kps[b, 0])), int(round(kps[b, 1])))
                        cv2.line(out, pa, pb, color, limb, cv2.LINE_AA)
                for x, y, _ in kps[ok]:
                    cv2.circle(out, (int(round(x)), int(round(y))), joint, color, -1, cv2.LINE_AA)
            if self.draw_boxes:
                x1, y1, x2, y2 = (int(round(v)) for v in box)
                cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
                if tid >= 0:
                    label = str(int(tid))
                    scale = 0.5 * thickness
                    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
                    cv2.rectangle(out, (x1, max(0, y1 - th - 6)), (x1 + tw + 4, y1), color, -1)
                    cv2.putText(
                        out, label, (x1 + 2, max(th, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness
                    )
            if self.trail_length and tid >= 0:
                cx, cy = (box[0] + box[2]) / 2, box[3]
                self._trails[int(tid)].append((int(cx), int(cy)))
                self._last_seen[int(tid)] = self._frame
        if self.trail_length:
            for tid, pts in list(self._trails.items()):
                if self._frame - self._last_seen.get(tid, -(10**9)) > self.trail_length:
                    del self._trails[tid]  # forget tracks gone for long: bounded memory
                    continue
                if len(pts) > 1:
                    cv2.polylines(out, [np.array(pts, np.int32)], False, track_color(tid), thickness)
        self._frame += 1
        return out


def overlay_heatmap(frame: np.ndarray, box: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a heatmap (e.g. a KPR part-attention map, values in [0, 1]) into ``box`` of an RGB frame."""
    import cv2

    out = frame.copy()
    h, w = out.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return out
    hm = cv2.resize(np.clip(heatmap, 0, 1).astype(np.float32), (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    colored = cv2.applyColorMap((hm * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    roi = out[y1:y2, x1:x2].astype(np.float32)
    out[y1:y2, x1:x2] = (roi * (1 - alpha) + colored.astype(np.float32) * alpha).astype(np.uint8)
    return out


def records_from_predictions(path: str, num_frames: int | None = None) -> Iterable[FrameRecord]:
    """Frame records (image order) of a PoseTrack21 prediction file, for rendering."""
    from kprtrack.io.posetrack21 import read_predictions

    return read_predictions(path).to_records()[:num_frames]


class AttentionPainter:
    """Overlays the KPR part attention of one track (what the re-identification model looks at).

    Args:
        embedder: a :class:`kprtrack.reid.KPREmbedder` (the one used for tracking).
        track_id: the track whose attention is drawn.
        part: a part name of the model (e.g. ``head``, ``torso``) or ``all`` for the foreground
            (maximum over the parts).
    """

    def __init__(self, embedder: object, track_id: int, part: str = "all") -> None:
        names = tuple(n.removesuffix("_mask") for n in embedder.config.parts_names)
        part = part.removesuffix("_mask")
        if part != "all" and part not in names:
            raise ValueError(f"unknown part {part!r}; this model has: all, {', '.join(names)}")
        self.embedder = embedder
        self.track_id = track_id
        self.channel = None if part == "all" else 1 + names.index(part)

    def draw(self, frame: np.ndarray, drawn: np.ndarray, record: FrameRecord) -> np.ndarray:
        """Blend the attention of ``track_id`` (if present in ``record``) into ``drawn``.

        Args:
            frame: the original RGB frame (the model's input).
            drawn: the frame to draw on.
            record: the frame's tracked record (all people: they are each other's negative prompts).
        """
        if record.track_ids is None or self.track_id not in record.track_ids:
            return drawn
        row = int(np.flatnonzero(record.track_ids == self.track_id)[0])
        out = self.embedder.embed_frame(frame, record.boxes, record.keypoints, return_attention=True)
        att = out.attention[row]
        heat = att[1:].max(0) if self.channel is None else att[self.channel]
        return overlay_heatmap(drawn, record.boxes[row], heat)
