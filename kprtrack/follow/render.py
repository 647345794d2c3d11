"""Drawing the followed person: highlighted box and skeleton, confidence, KPR part attention and visibility.

Each output frame is the video frame with every detection outlined thinly in grey and the followed
person drawn in colour with ``follow <confidence>``, their KPR part attention (what the
re-identification model looks at, foreground = maximum over the parts) blended into their box, and a
legend of the K parts coloured by visibility (green: visible, grey: not). Attention needs an
embedder with ``embed_frame(..., return_attention=True)`` (:class:`kprtrack.reid.KPREmbedder`); with
other embedders only the box, skeleton and visibility legend are drawn.
"""

from __future__ import annotations

import numpy as np

from kprtrack.follow.result import FollowFrame
from kprtrack.render import TrackPainter, overlay_heatmap
from kprtrack.structures import FrameRecord

#: Colour (RGB) of the followed person.
FOLLOW_COLOR = (255, 64, 160)
OTHER_COLOR = (170, 170, 170)
VISIBLE_COLOR = (40, 200, 80)
HIDDEN_COLOR = (110, 110, 110)


def part_names(embedder: object) -> list[str]:
    """``foreground`` then the embedder's part names (KPR), or ``[]`` when it does not name them."""
    config = getattr(embedder, "config", None)
    names = getattr(config, "parts_names", None)
    if not names:
        return []
    return ["foreground"] + [str(n).removesuffix("_mask") for n in names]


def part_attention(
    embedder: object,
    frame: np.ndarray,
    record: FrameRecord,
    row: int,
    keypoints: np.ndarray | None = None,
    negatives: np.ndarray | None = None,
) -> np.ndarray | None:
    """``(K + 1, h, w)`` part attention of one detection (channel 0 = background), or ``None``.

    Args:
        embedder: the pipeline's embedder; ``None`` is returned unless it has ``embed_frame``.
        frame: RGB frame.
        record: the frame's detections (the others are the row's negative prompts).
        row: the detection.
        keypoints: ``(17, 3)`` positive prompt instead of the row's keypoints (the clicked frame).
        negatives: ``(n, 17, 3)`` negative prompt instead of the automatic one.
    """
    embed_frame = getattr(embedder, "embed_frame", None)
    if embed_frame is None:
        return None
    from kprtrack.reid.embedder import select_negatives

    kps = record.keypoints[row] if keypoints is None else keypoints
    neg = select_negatives(record.boxes, record.keypoints)[row] if negatives is None else negatives
    out = embed_frame(frame, record.boxes[row : row + 1], kps[None], [neg], return_attention=True)
    return None if out.attention is None else out.attention[0]


class FollowPainter:
    """Draws one :class:`FollowFrame` over its video frame.

    Args:
        parts: entry names of the embedder (:func:`part_names`; ``[]`` hides the legend).
        keypoint_threshold: joints with a lower confidence are not drawn.
    """

    def __init__(self, parts: list[str] | None = None, keypoint_threshold: float = 0.3) -> None:
        self.parts = list(parts or [])
        self.keypoint_threshold = keypoint_threshold

    def draw(
        self, frame: np.ndarray, record: FrameRecord, followed: FollowFrame, attention: np.ndarray | None = None
    ) -> np.ndarray:
        """A copy of the RGB ``frame`` with the detections, the followed person and its attention drawn.

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            record: the frame's detections.
            followed: the follower's output for the frame.
            attention: ``(K + 1, h, w)`` part attention of the followed detection (channel 0 = background).
        """
        import cv2

        out = np.ascontiguousarray(frame).copy()
        thin = max(1, round(min(out.shape[:2]) / 360))
        for box in record.boxes:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(out, (x1, y1), (x2, y2), OTHER_COLOR, thin)
        if followed.present and followed.box is not None:
            box = followed.box
            if attention is not None:
                out = overlay_heatmap(out, box, attention[1:].max(0), alpha=0.45)
            if followed.keypoints is not None:
                painter = TrackPainter(keypoint_threshold=self.keypoint_threshold, draw_boxes=False)
                single = FrameRecord(box[None], np.ones(1, np.float32), followed.keypoints[None], track_ids=np.zeros(1))
                skeleton = painter.draw(out, single)
                out = np.where(np.any(skeleton != out, axis=2, keepdims=True), skeleton, out)
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(out, (x1, y1), (x2, y2), FOLLOW_COLOR, thin + 2)
            label = f"follow {followed.confidence:.2f}" + (" (clicked)" if followed.clicked else "")
            scale = 0.45 * thin
            (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thin)
            ty = y1 - 4 if y1 - th - 8 >= 0 else min(out.shape[0] - 2, y2 + th + 4)
            cv2.rectangle(out, (x1, ty - th - 4), (x1 + tw + 4, ty + 3), FOLLOW_COLOR, -1)
            cv2.putText(out, label, (x1 + 2, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thin, cv2.LINE_AA)
        else:
            cv2.putText(out, "not found", (8, 20 * thin), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * thin, FOLLOW_COLOR, thin + 1)
        self._legend(out, followed, thin)
        return out

    def _legend(self, out: np.ndarray, followed: FollowFrame, thin: int) -> None:
        """Part names in the top-right corner, coloured by the followed detection's visibility."""
        import cv2

        if not self.parts:
            return
        vis = followed.visibility if followed.present and followed.visibility is not None else None
        scale = 0.35 * thin
        step = int(13 * thin)
        width = max(cv2.getTextSize(n, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for n in self.parts) + 8
        x0 = out.shape[1] - width - 4
        panel = out[2 : 4 + step * len(self.parts), x0 - 2 : out.shape[1] - 2]
        panel[:] = (panel.astype(np.float32) * 0.4).astype(np.uint8)
        for i, name in enumerate(self.parts):
            visible = vis is not None and i < len(vis) and bool(vis[i])
            color = VISIBLE_COLOR if visible else HIDDEN_COLOR
            cv2.putText(out, name, (x0, 2 + step * (i + 1) - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
